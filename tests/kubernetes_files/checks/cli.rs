//! The Jobs against the program they run: every flag in a Job's arguments
//! and every `TRACEMESH_*` variable in its environment is one the built
//! `tracemesh` accepts for that subcommand, as its `--help` lists them. A
//! flag renamed in the CLI and not in the manifests gives a pod that exits
//! 2 at once, which no schema can see.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::OnceLock;

use super::super::*;

/// Flags (`--gateway`) and variables (`TRACEMESH_USERS`) that one
/// subcommand's `--help` lists.
pub(crate) struct Accepted {
    flags: BTreeSet<String>,
    variables: BTreeSet<String>,
}

impl Accepted {
    /// Reads `tracemesh <subcommand...> --help` once per subcommand.
    fn of(subcommand: &'static [&'static str]) -> &'static Accepted {
        static RUN: OnceLock<Accepted> = OnceLock::new();
        static MERGE: OnceLock<Accepted> = OnceLock::new();
        let cell = match subcommand {
            ["run"] => &RUN,
            ["report", "merge"] => &MERGE,
            other => panic!("no help is read for {other:?}"),
        };
        cell.get_or_init(|| {
            let output = Command::new(env!("CARGO_BIN_EXE_tracemesh"))
                .args(subcommand)
                .arg("--help")
                .output()
                .expect("tracemesh runs");
            assert!(
                output.status.success(),
                "tracemesh {subcommand:?} --help failed"
            );
            Accepted::parse(&String::from_utf8_lossy(&output.stdout))
        })
    }

    /// clap wraps long lines, so `[env: NAME=]` may be split: read tokens.
    fn parse(help: &str) -> Accepted {
        let tokens: Vec<&str> = help
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | '[' | ']' | '<' | '>'))
            .filter(|t| !t.is_empty())
            .collect();
        let flags = tokens
            .iter()
            .filter(|t| t.starts_with("--"))
            .map(|t| t.split('=').next().unwrap_or(t).to_owned())
            .collect();
        let variables = tokens
            .windows(2)
            .filter(|pair| pair[0] == "env:")
            .map(|pair| pair[1].trim_end_matches('=').to_owned())
            .collect();
        Accepted { flags, variables }
    }
}

/// `tracemesh <subcommand>` in `job` accepts its arguments and variables.
fn job_speaks(setup: &Setup, job_name: &str, subcommand: &'static [&'static str]) -> Vec<String> {
    let Some(job) = setup.object("Job", job_name) else {
        return vec![format!("no Job {job_name}")];
    };
    let container = container(job);
    let args = args(&container);
    if args.len() < subcommand.len() || args.iter().zip(subcommand).any(|(a, s)| a != s) {
        return vec![format!(
            "Job {job_name} runs {args:?}, not `tracemesh {}`",
            subcommand.join(" ")
        )];
    }
    let accepted = Accepted::of(subcommand);
    let mut problems = Vec::new();
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        let flag = flag.split('=').next().unwrap_or(flag);
        if !accepted.flags.contains(flag) {
            problems.push(format!(
                "Job {job_name} passes {flag}, which `tracemesh {}` does not accept",
                subcommand.join(" ")
            ));
        }
    }
    for variable in container_env(setup, &container).keys() {
        if variable.starts_with("TRACEMESH_") && !accepted.variables.contains(variable) {
            problems.push(format!(
                "Job {job_name} sets {variable}, which `tracemesh {}` does not read",
                subcommand.join(" ")
            ));
        }
    }
    problems
}

pub(crate) fn jobs_speak_the_cli(setup: &Setup) -> Vec<String> {
    let mut problems = job_speaks(setup, LOAD_JOB, &["run"]);
    problems.extend(job_speaks(setup, MERGE_JOB, &["report", "merge"]));
    problems
}
