//! [`LoadError`]: why a load run could not run, each variant naming the
//! thing to fix (the URL, the setting, the file).

use std::path::PathBuf;

use goose::GooseError;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `GET <gateway>/healthz` got no 2xx answer: nothing is listening, or
    /// something else is.
    #[error("the gateway is unreachable: GET {url} failed: {reason}")]
    GatewayUnreachable { url: String, reason: String },
    /// A plan setting, or the goose option made from it, is invalid.
    #[error("invalid load setting {option} = {value}: {detail}")]
    Config {
        option: String,
        value: String,
        detail: String,
    },
    /// A goose report cannot be created where the plan asks.
    #[error("cannot write the goose report {}: {reason}", path.display())]
    ReportFile { path: PathBuf, reason: String },
    /// Goose failed while running.
    #[error("goose failed: {0}")]
    Goose(String),
}

impl LoadError {
    pub(crate) fn config(option: &str, value: impl ToString, detail: impl Into<String>) -> Self {
        LoadError::Config {
            option: option.to_owned(),
            value: value.to_string(),
            detail: detail.into(),
        }
    }
}

/// Goose's `Display` says only "invalid option or value specified"; the
/// option, the value and the reason are in the variant's fields, so they
/// are taken from there.
impl From<GooseError> for LoadError {
    fn from(error: GooseError) -> Self {
        match error {
            // Goose creates every report file before the first user starts,
            // so this fails fast, before any load.
            GooseError::InvalidOption {
                option,
                value,
                detail,
            } if option == "--report-file" => LoadError::ReportFile {
                path: PathBuf::from(value),
                reason: detail,
            },
            GooseError::InvalidOption {
                option,
                value,
                detail,
            } => LoadError::Config {
                option,
                value,
                detail,
            },
            GooseError::InvalidHost {
                host, parse_error, ..
            } => LoadError::config("gateway", host, parse_error.to_string()),
            GooseError::InvalidWaitTime {
                min_wait,
                max_wait,
                detail,
            } => LoadError::config(
                "think_time_min..think_time_max",
                format!("{min_wait:?}..{max_wait:?}"),
                detail,
            ),
            other => LoadError::Goose(other.to_string()),
        }
    }
}
