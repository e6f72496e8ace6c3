//! `tracemesh lab check N`: is the learner's work there?
//!
//! Each lab's check (`labNN.rs`) returns its [`Requirement`]s, in the order
//! the lab's steps meet them; this module prints them and the hint of the
//! first one unmet:
//!
//! ```text
//! lab 2 · Propagation over HTTP and gRPC: not yet
//!   ✓ a trace you started with your own traceparent
//!   ✗ baggage reached payment
//!   hint: Step 5: send a `baggage: tenant=...` header with your checkout ...
//! ```
//!
//! Exit 0 on a pass (recorded in the progress file), 1 when something is
//! missing. Nothing the learner has (not) done is an error: an unreachable
//! collector is a requirement not met, with a hint, never a stack trace.
//! The readers the checks share: [`collector`] (traces and logs over the
//! Tempo API) and [`reports`] (the run reports under `reports/`).

pub mod collector;
pub mod reports;

mod lab01;
mod lab02;
mod lab03;
mod lab04;
mod lab05;
mod lab06;
mod lab07;
mod lab08;
mod lab09;
mod lab10;

use std::path::PathBuf;

use super::Lab;
use super::messages::Messages;
use super::progress::{Progress, ProgressError};
use crate::Failure;
use crate::cli::LabCheckArgs;
use collector::Collector;
use tracemesh_mesh::AdminEndpoint;
use tracemesh_runtime::topology::Service;

/// One thing the lab's end state must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub met: bool,
    /// What is required (and, met, what was found), one line.
    pub text: String,
    /// What to do when it is not met: one or two sentences naming the step.
    pub hint: String,
}

impl Requirement {
    pub fn new(met: bool, text: String, hint: String) -> Requirement {
        Requirement { met, text, hint }
    }
}

/// A lab's requirements, judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub number: u8,
    pub title: String,
    pub requirements: Vec<Requirement>,
}

impl Outcome {
    /// Passed when every requirement is met (and there is one).
    pub fn passed(&self) -> bool {
        !self.requirements.is_empty() && self.requirements.iter().all(|r| r.met)
    }

    /// The lines `lab check` prints.
    pub fn render(&self, messages: &Messages) -> String {
        let verdict = if self.passed() {
            messages.t("check.pass")
        } else {
            messages.t("check.not_yet")
        };
        let mut out = format!("lab {} · {}: {verdict}\n", self.number, self.title);
        for r in &self.requirements {
            out.push_str(&format!("  {} {}\n", if r.met { "✓" } else { "✗" }, r.text));
        }
        if let Some(first) = self.requirements.iter().find(|r| !r.met) {
            out.push_str(&format!("  {}: {}\n", messages.t("check.hint"), first.hint));
        }
        out
    }
}

/// What a lab's check reads.
pub struct Context<'a> {
    pub messages: &'a Messages,
    pub collector: Collector,
    /// The working directory.
    pub dir: PathBuf,
    /// `--trace`: the traces to judge instead of searching.
    pub traces: Vec<String>,
    /// `--file` (lab 6).
    pub file: Option<PathBuf>,
    /// `--gateway` (lab 9), without a trailing slash.
    pub gateway: String,
    /// `--admin` (lab 8), the defaults filled in.
    pub admin: Vec<AdminEndpoint>,
}

impl Context<'_> {
    /// The first requirement of every lab that reads traces: the collector
    /// answers. Without it every later one is unmet too, and this hint is
    /// the one shown.
    pub async fn collector_answers(&self) -> Requirement {
        let url = self.collector.url();
        let m = self.messages;
        match self.collector.reachable().await {
            Ok(()) => Requirement::new(
                true,
                m.f("collector.answers", &[("url", url)]),
                String::new(),
            ),
            Err(why) => Requirement::new(
                false,
                m.f("collector.answers_not", &[("url", url), ("why", &why)]),
                m.t("collector.hint"),
            ),
        }
    }
}

/// Where `tracemesh up --admin-port-base 9100` binds the admin endpoints:
/// from this port on, in topology order.
const DEFAULT_ADMIN_PORT_BASE: u16 = 9100;

pub async fn run(messages: &Messages, args: LabCheckArgs) -> Result<(), Failure> {
    let collector = Collector::new(&http_url(messages, "--collector", &args.collector)?);
    let gateway = http_url(messages, "--gateway", &args.gateway)?;
    if !args.dir.is_dir() {
        return Err(Failure::Usage(
            messages.f("check.bad_dir", &[("dir", &args.dir.display().to_string())]),
        ));
    }
    for id in &args.traces {
        if tracemesh_harness::model::normalize_trace_id(id).is_none() {
            return Err(Failure::Usage(messages.f("check.bad_trace", &[("id", id)])));
        }
    }
    let admin = if args.admin.is_empty() {
        (DEFAULT_ADMIN_PORT_BASE..)
            .zip(Service::ALL)
            .map(|(port, service)| AdminEndpoint::new(service, format!("http://127.0.0.1:{port}")))
            .collect()
    } else {
        args.admin
            .iter()
            .map(|(service, url)| AdminEndpoint::new(*service, url.as_str()))
            .collect()
    };
    let context = Context {
        messages,
        collector,
        dir: args.dir.clone(),
        traces: args.traces.clone(),
        file: args.file.clone(),
        gateway,
        admin,
    };
    let lab = Lab::get(args.number);
    let outcome = Outcome {
        number: lab.number,
        title: lab.title(messages),
        requirements: requirements(lab.number, &context).await,
    };
    print!("{}", outcome.render(messages));
    if !outcome.passed() {
        return Err(Failure::ChecksFailed);
    }
    if let Err(ProgressError(why)) = Progress::record_pass(&args.dir, lab.number) {
        eprintln!("{}", messages.f("progress.not_recorded", &[("why", &why)]));
    }
    Ok(())
}

/// `url` without a trailing slash if it is an http(s) URL, else the usage
/// error naming `flag`.
fn http_url(messages: &Messages, flag: &str, url: &str) -> Result<String, Failure> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {
            Ok(url.trim_end_matches('/').to_owned())
        }
        _ => Err(Failure::Usage(
            messages.f("check.bad_url", &[("flag", flag), ("url", url)]),
        )),
    }
}

async fn requirements(number: u8, cx: &Context<'_>) -> Vec<Requirement> {
    match number {
        1 => lab01::check(cx).await,
        2 => lab02::check(cx).await,
        3 => lab03::check(cx).await,
        4 => lab04::check(cx),
        5 => lab05::check(cx),
        6 => lab06::check(cx),
        7 => lab07::check(cx),
        8 => lab08::check(cx).await,
        9 => lab09::check(cx).await,
        _ => lab10::check(cx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::lang::Lang;

    #[test]
    fn the_first_unmet_requirement_gives_the_hint() {
        let m = Messages::new(Lang::En);
        let r = |met, text: &str, hint: &str| Requirement::new(met, text.into(), hint.into());
        let outcome = Outcome {
            number: 2,
            title: "Propagation".into(),
            requirements: vec![r(true, "a", "ha"), r(false, "b", "hb"), r(false, "c", "hc")],
        };
        assert_eq!(
            outcome.render(&m),
            "lab 2 · Propagation: not yet\n  ✓ a\n  ✗ b\n  ✗ c\n  hint: hb\n"
        );
        let passed = Outcome {
            requirements: vec![r(true, "a", "ha")],
            ..outcome
        };
        assert_eq!(passed.render(&m), "lab 2 · Propagation: PASS\n  ✓ a\n");
        assert!(
            !Outcome {
                requirements: vec![],
                ..passed
            }
            .passed()
        );
    }
}
