//! `tracemesh lab`: the workshop's companion (issue 18, `workshop/`).
//!
//! - `lab list`: the ten labs, their minutes, ✓ for each passed here
//!   ([`progress`]).
//! - `lab show N`: the lab's markdown in the learner's language ([`lang`]),
//!   embedded at build time (`build.rs`), so it works from any directory.
//! - `lab check N`: the learner's work checked against real traces, files
//!   and reports ([`check`]); a pass is recorded in the progress file.
//! - `lab preflight`: the laptop checked before the workshop ([`preflight`]).
//!
//! Everything printed comes from the message catalogues ([`messages`]).

pub mod check;
pub mod lang;
pub mod messages;
pub mod preflight;
pub mod progress;

use crate::Failure;
use crate::cli::{LabArgs, LabCommand};
use lang::Lang;
use messages::Messages;
use progress::Progress;

// `MARKDOWN: &[(language tag, lab number, file name, text)]`, every workshop file that
// existed at build time (build.rs).
include!(concat!(env!("OUT_DIR"), "/lab_markdown.rs"));

/// One lab of the workshop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lab {
    pub number: u8,
    /// The file name without number and `.md`: `workshop/en/01-first-trace.md`.
    pub slug: &'static str,
    /// About how long it takes.
    pub minutes: u32,
}

/// The catalogue, in order.
pub const LABS: [Lab; 10] = [
    lab(1, "first-trace", 15),
    lab(2, "propagation", 15),
    lab(3, "errors", 15),
    lab(4, "sampling", 15),
    lab(5, "bottlenecks", 20),
    lab(6, "trace-tests", 15),
    lab(7, "load-reports", 15),
    lab(8, "metrics-logs", 15),
    lab(9, "compose", 20),
    lab(10, "scale", 15),
];

const fn lab(number: u8, slug: &'static str, minutes: u32) -> Lab {
    Lab {
        number,
        slug,
        minutes,
    }
}

impl Lab {
    /// Lab `number` (1 to 10; clap checks the range).
    pub fn get(number: u8) -> Lab {
        LABS[usize::from(number.clamp(1, 10)) - 1]
    }

    /// `01-first-trace.md`.
    pub fn file_name(&self) -> String {
        format!("{:02}-{}.md", self.number, self.slug)
    }

    /// The markdown in `lang`, if the lab is written in it.
    pub fn markdown(&self, lang: Lang) -> Option<&'static str> {
        match shown(MARKDOWN, self.number, lang) {
            Shown::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The title: from the markdown's first `# ` heading in the learner's
    /// language (`# Lab 1 · Your first trace` -> `Your first trace`), else
    /// from the messages.
    pub fn title(&self, messages: &Messages) -> String {
        self.markdown(messages.lang())
            .and_then(heading_title)
            .unwrap_or_else(|| messages.t(&format!("title.{}", self.number)))
    }
}

/// The text of the first `# ` heading, after its `Lab N · ` prefix.
fn heading_title(markdown: &str) -> Option<String> {
    let heading = markdown.lines().find_map(|l| l.strip_prefix("# "))?.trim();
    let title = heading.split_once(" · ").map_or(heading, |(_, t)| t).trim();
    (!title.is_empty()).then(|| title.to_owned())
}

pub async fn run(args: LabArgs) -> Result<(), Failure> {
    let lang = Lang::choose(args.lang, |name| std::env::var(name).ok());
    let messages = Messages::new(lang);
    match args.command {
        LabCommand::List(list) => {
            print_list(&messages, &list.dir);
            Ok(())
        }
        LabCommand::Show(show) => print_lab(&messages, Lab::get(show.number)),
        LabCommand::Check(check_args) => check::run(&messages, check_args).await,
        LabCommand::Preflight(pre) => preflight::run(&messages, &pre.dir).await,
    }
}

fn print_list(messages: &Messages, dir: &std::path::Path) {
    let progress = Progress::load(dir).unwrap_or_else(|progress::ProgressError(why)| {
        eprintln!("{}", messages.f("progress.unreadable", &[("why", &why)]));
        Progress::default()
    });
    println!("{}", messages.t("list.header"));
    for lab in LABS {
        let mark = if progress.passed.contains_key(&lab.number) {
            "✓"
        } else {
            " "
        };
        let minutes = messages.f("list.minutes", &[("minutes", &lab.minutes.to_string())]);
        println!(
            "{mark} {:>2}  {:<8} {}",
            lab.number,
            minutes,
            lab.title(messages)
        );
    }
    println!(
        "{}",
        messages.f(
            "list.footer",
            &[("passed", &progress.passed.len().to_string())]
        )
    );
}

/// What `lab show` prints for a lab.
#[derive(Debug, PartialEq, Eq)]
enum Shown {
    /// In the learner's language.
    Text(&'static str),
    /// In English: not written in the learner's language yet.
    English(&'static str),
    /// Not written in any language yet.
    Missing,
}

/// The lab's text in `lang` from `table` (the embedded [`MARKDOWN`]), else
/// the English one.
fn shown(table: &[(&str, u8, &str, &'static str)], number: u8, lang: Lang) -> Shown {
    let find = |tag: &str| {
        table
            .iter()
            .find(|(t, n, _, _)| *t == tag && *n == number)
            .map(|(_, _, _, text)| *text)
    };
    match (find(lang.tag()), find(Lang::En.tag())) {
        (Some(text), _) => Shown::Text(text),
        (None, Some(text)) => Shown::English(text),
        (None, None) => Shown::Missing,
    }
}

/// The lab in the learner's language, else (said on stderr) in English.
fn print_lab(messages: &Messages, lab: Lab) -> Result<(), Failure> {
    let number = lab.number.to_string();
    match shown(MARKDOWN, lab.number, messages.lang()) {
        Shown::Text(text) => print!("{text}"),
        Shown::English(text) => {
            eprintln!(
                "{}",
                messages.f(
                    "show.not_in_language",
                    &[("number", &number), ("lang", messages.lang().tag())]
                )
            );
            print!("{text}");
        }
        Shown::Missing => {
            return Err(Failure::Runtime(messages.f(
                "show.not_written",
                &[("number", &number), ("file", &lab.file_name())],
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_heading_after_the_lab_number() {
        assert_eq!(
            heading_title("<!-- generated -->\n# Lab 1 · Your first trace\n\ntext"),
            Some("Your first trace".into())
        );
        assert_eq!(
            heading_title("# 实验 2 · 上下文传播\n"),
            Some("上下文传播".into())
        );
        assert_eq!(heading_title("# Plain\n"), Some("Plain".into()));
        assert_eq!(heading_title("no heading\n## second level\n"), None);
    }

    #[test]
    fn a_lab_not_written_in_a_language_is_shown_in_english() {
        let table = [
            ("en", 1, "01-first-trace.md", "# Lab 1 · Your first trace\n"),
            (
                "zh-Hans",
                1,
                "01-first-trace.md",
                "# 实验 1 · 你的第一条链路\n",
            ),
            ("en", 2, "02-propagation.md", "# Lab 2 · Propagation\n"),
        ];
        assert_eq!(shown(&table, 1, Lang::ZhHans), Shown::Text(table[1].3));
        assert_eq!(shown(&table, 1, Lang::ZhHant), Shown::English(table[0].3));
        assert_eq!(shown(&table, 2, Lang::ZhHans), Shown::English(table[2].3));
        assert_eq!(shown(&table, 2, Lang::En), Shown::Text(table[2].3));
        assert_eq!(shown(&table, 3, Lang::En), Shown::Missing);
    }

    #[test]
    fn every_embedded_file_is_a_lab_of_the_catalogue_under_its_name() {
        for (tag, number, name, text) in MARKDOWN {
            let lab = Lab::get(*number);
            assert_eq!(lab.number, *number, "{tag}/{name} is not in the catalogue");
            assert_eq!(
                lab.file_name(),
                *name,
                "{tag}/{name}: the catalogue names it otherwise"
            );
            assert!(
                heading_title(text).is_some(),
                "{tag}/{} has no `# ` heading",
                lab.file_name()
            );
        }
        for lab in LABS {
            assert_eq!(Lab::get(lab.number), lab);
        }
    }

    #[test]
    fn every_lab_has_a_title_in_every_language() {
        for lang in Lang::ALL {
            let messages = Messages::new(lang);
            for lab in LABS {
                let title = lab.title(&messages);
                assert!(
                    !title.starts_with("title."),
                    "{lang}: lab {} has no title",
                    lab.number
                );
            }
        }
    }
}
