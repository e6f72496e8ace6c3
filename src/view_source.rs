//! What `tracemesh trace` and `tracemesh traces` share: the store they read
//! (`--collector`, `--tempo`, `--jaeger`) and how the terminal looks
//! (`COLUMNS` or its size, `NO_COLOR` or not a terminal).

use std::io::IsTerminal;

use tracemesh_harness::sources::{JaegerSource, TempoSource, TraceSource};
use tracemesh_harness::view::terminal::Style;

use crate::Failure;
use crate::cli::StoreArgs;

/// Without a terminal to ask (a pipe, a file), lines are this wide.
const DEFAULT_WIDTH: usize = 100;
/// Narrower than this, nothing useful fits.
const MIN_WIDTH: usize = 40;

/// The store chosen, with the flag that chose it for messages.
pub enum Store {
    /// The embedded collector or a Tempo: both serve Tempo's API.
    Tempo {
        flag: &'static str,
        source: TempoSource,
    },
    Jaeger(JaegerSource),
}

impl Store {
    pub fn from_args(args: &StoreArgs) -> Result<Store, Failure> {
        Ok(match (&args.tempo, &args.jaeger) {
            (Some(url), _) => Store::Tempo {
                flag: "--tempo",
                source: TempoSource::new(http_url("--tempo", url)?),
            },
            (None, Some(url)) => Store::Jaeger(JaegerSource::new(http_url("--jaeger", url)?)),
            (None, None) => Store::Tempo {
                flag: "--collector",
                source: TempoSource::new(http_url("--collector", &args.collector)?),
            },
        })
    }

    pub fn source(&self) -> &dyn TraceSource {
        match self {
            Store::Tempo { source, .. } => source,
            Store::Jaeger(source) => source,
        }
    }

    /// `--collector http://..`: where the user looked, for messages.
    pub fn flag_and_url(&self) -> String {
        match self {
            Store::Tempo { flag, source } => format!("{flag} {}", source.base_url),
            Store::Jaeger(source) => format!("--jaeger {}", source.base_url),
        }
    }
}

/// `url` if it is an http(s) URL, else the usage error naming `flag`.
fn http_url(flag: &str, url: &str) -> Result<String, Failure> {
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {
            Ok(url.to_owned())
        }
        _ => Err(Failure::Usage(format!(
            "{flag} {url:?}: expected an http:// URL such as http://127.0.0.1:4318"
        ))),
    }
}

/// The terminal's look: width from `COLUMNS`, else the terminal's size,
/// else [`DEFAULT_WIDTH`]; colour only on a terminal without `NO_COLOR`
/// (<https://no-color.org>: set and not empty).
pub fn terminal_style() -> Style {
    let stdout = std::io::stdout();
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&w| w > 0)
        .or_else(|| terminal_size::terminal_size_of(&stdout).map(|(w, _)| usize::from(w.0)))
        .unwrap_or(DEFAULT_WIDTH)
        .max(MIN_WIDTH);
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    Style {
        width,
        color: !no_color && stdout.is_terminal(),
    }
}
