//! Runs one lab file the way a learner works through it: its Steps in a
//! fresh working directory (foreground commands in one [`Shell`], `background`
//! blocks as second terminals, `file=` blocks written), then its Catch up
//! blocks in another fresh directory followed by `tracemesh lab check N`,
//! which must pass. Before anything runs, the file must have the parts
//! every lab has (see [`check_sections`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::excerpt::first_missing;
use super::markdown::{Block, BlockKind, Command, blocks};
use super::report::Summary;
use super::shell::{Background, Shell, Terminal, learner_file, tail};

/// How labs are run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The repository: each working directory links its top-level entries.
    pub repo: PathBuf,
    /// First on PATH: the directory of the `tracemesh` under test.
    pub bin_dir: PathBuf,
    /// LANG of the learner's terminals.
    pub lang: String,
    /// A command's bound unless its block says `timeout=SECS`.
    pub command_timeout: Duration,
    /// How long a background command may take to show its excerpt.
    pub background_wait: Duration,
    /// From ctrl-c to SIGKILL when a background command is stopped.
    pub stop_grace: Duration,
}

impl Options {
    /// The workshop's bounds: 180 s a command, 120 s for a background
    /// command's excerpt, 15 s from ctrl-c to SIGKILL.
    pub fn new(repo: &Path, bin_dir: &Path, lang: &str) -> Options {
        Options {
            repo: repo.to_path_buf(),
            bin_dir: bin_dir.to_path_buf(),
            lang: lang.to_owned(),
            command_timeout: Duration::from_secs(180),
            background_wait: Duration::from_secs(120),
            stop_grace: Duration::from_secs(15),
        }
    }
}

/// A lab file: `label` (`en/03-errors.md`) names it in messages; its number
/// is the file name's leading digits.
pub struct Lab {
    pub label: String,
    pub number: u32,
    pub text: String,
}

impl Lab {
    pub fn read(path: &Path, label: &str) -> Result<Lab, String> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
        let number = digits
            .parse()
            .map_err(|_| format!("{label}: the file name starts with no lab number"))?;
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{label}: cannot read: {e}"))?;
        Ok(Lab {
            label: label.to_owned(),
            number,
            text,
        })
    }
}

/// Runs a lab; `Err` is the failure message (language and file in the
/// label, the line, the command, what was missing, the output's tail).
pub fn run(lab: &Lab, options: &Options, summary: &mut Summary) -> Result<(), String> {
    let at = |line: usize| format!("{}:{line}", lab.label);
    let blocks = blocks(&lab.text).map_err(|e| format!("{}: {e}", lab.label))?;
    check_sections(lab.number, &blocks).map_err(|e| format!("{}: {e}", lab.label))?;
    for block in &blocks {
        if let BlockKind::Console {
            skip: true,
            commands,
            ..
        } = &block.kind
        {
            for command in commands {
                skip_allowed(&command.text).map_err(|e| format!("{}: {e}", at(command.line)))?;
            }
            summary.skipped.push(at(block.line));
        }
    }
    let steps: Vec<&Block> = blocks.iter().filter(|b| !b.catch_up).collect();
    let catch_up: Vec<&Block> = blocks.iter().filter(|b| b.catch_up).collect();
    let cleanup: Vec<&Block> = blocks.iter().filter(|b| b.cleanup).collect();
    // The Catch up runs even when a step failed: both are worth knowing.
    let steps = run_blocks(lab, &steps, &cleanup, options, summary, None);
    let catch_up = run_blocks(lab, &catch_up, &cleanup, options, summary, Some(lab.number));
    match (steps, catch_up) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
        (Err(steps), Err(catch_up)) => Err(format!(
            "{steps}

{catch_up}"
        )),
    }
}

/// The parts every lab has, in the Steps: first `tracemesh lab check N`
/// expecting `[exit 1]` (the untouched state fails with its hint), last
/// one passing; and a Catch up block.
pub fn check_sections(number: u32, blocks: &[Block]) -> Result<(), String> {
    let checks: Vec<&Command> = blocks
        .iter()
        .filter(|b| !b.catch_up)
        .filter_map(|b| match &b.kind {
            BlockKind::Console {
                commands,
                background: false,
                skip: false,
                ..
            } => Some(commands),
            _ => None,
        })
        .flatten()
        .collect();
    let is_check = |c: &&Command| is_lab_check(&c.text, number);
    match checks.first() {
        Some(first) if is_check(first) && first.exit == 1 => {}
        _ => {
            return Err(format!(
                "the Steps must start with `tracemesh lab check {number}` expecting [exit 1] (the \
                 untouched state fails with its hint)"
            ));
        }
    }
    match checks.iter().rev().find(|c| is_check(c)) {
        Some(last) if last.exit == 0 && !std::ptr::eq(*last, checks[0]) => {}
        _ => {
            return Err(format!(
                "no passing `tracemesh lab check {number}` (exit 0) at \"Check yourself\" after the steps"
            ));
        }
    }
    if !blocks
        .iter()
        .any(|b| b.catch_up && matches!(b.kind, BlockKind::Console { .. }))
    {
        return Err("no `console catch-up` block (the Catch up section)".into());
    }
    Ok(())
}

/// `tracemesh lab check N ...`.
fn is_lab_check(command: &str, number: u32) -> bool {
    let words: Vec<&str> = command.split_whitespace().collect();
    words.len() >= 4
        && words[..3] == ["tracemesh", "lab", "check"]
        && words[3] == number.to_string()
}

/// `ci=skip` is only for building or installing the binary, steps that
/// pull from a registry, and steps that need a Kubernetes cluster: each
/// command of such a block must start with one of these programs.
fn skip_allowed(command: &str) -> Result<(), String> {
    const ALLOWED: &[&str] = &[
        "cargo",
        "rustup",
        "git",
        "cd",
        "export",
        "docker",
        "docker-compose",
        "kubectl",
        "helm",
        "kind",
        "minikube",
        "k3d",
    ];
    let program = command
        .split_whitespace()
        .find(|w| !w.contains('='))
        .unwrap_or("");
    if ALLOWED.contains(&program) {
        Ok(())
    } else {
        Err(format!(
            "`{command}` is in a ci=skip block: only building the binary, pulling from a \
             registry or a Kubernetes cluster may skip CI ({})",
            ALLOWED.join(", ")
        ))
    }
}

/// Runs `blocks` in a fresh working directory; with `check_after`, then
/// requires `tracemesh lab check N` to pass there (the Catch up). The
/// `cleanup` blocks run again after a failure and after the Catch up.
fn run_blocks(
    lab: &Lab,
    blocks: &[&Block],
    cleanup: &[&Block],
    options: &Options,
    summary: &mut Summary,
    check_after: Option<u32>,
) -> Result<(), String> {
    let dir = working_dir(&options.repo).map_err(|e| format!("{}: {e}", lab.label))?;
    let path = format!(
        "{}:{}",
        options.bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let terminal = Terminal {
        dir: dir.path().to_path_buf(),
        env: vec![("PATH".into(), path), ("LANG".into(), options.lang.clone())],
    };
    let mut shell = Shell::start(&terminal)?;
    // Dropped (stopped) when this function returns, however it returns.
    let mut running: Vec<Background> = Vec::new();
    let result = run_in_order(
        lab,
        blocks,
        options,
        summary,
        check_after,
        &terminal,
        &mut shell,
        &mut running,
    );
    if result.is_err() || check_after.is_some() {
        for block in cleanup {
            if let BlockKind::Console { commands, .. } = &block.kind {
                for command in commands {
                    // Best effort: the failure being reported matters more.
                    let _ = shell.run(&command.text, options.command_timeout);
                }
            }
        }
    }
    for mut background in running {
        background.stop(options.stop_grace);
    }
    result
}

/// The body of [`run_blocks`]: each block in file order, then the check.
#[allow(clippy::too_many_arguments)]
fn run_in_order(
    lab: &Lab,
    blocks: &[&Block],
    options: &Options,
    summary: &mut Summary,
    check_after: Option<u32>,
    terminal: &Terminal,
    shell: &mut Shell,
    running: &mut Vec<Background>,
) -> Result<(), String> {
    let fail = |line: usize, command: &str, problem: String| {
        format!("{}:{line}: `{command}`\n  {problem}", lab.label)
    };
    // A Catch up may end with its own `tracemesh lab check N --trace ..`
    // (lab 8: the check needs the trace the learner followed); when that
    // passed, the plain check after it is not needed.
    let mut ended_with_passing_check = false;
    for block in blocks {
        match &block.kind {
            BlockKind::File { path, content } => {
                let file = learner_file(&terminal.dir, path)
                    .map_err(|e| format!("{}:{}: {e}", lab.label, block.line))?;
                if let Some(parent) = file.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
                }
                std::fs::write(&file, content).map_err(|e| format!("{}: {e}", file.display()))?;
            }
            BlockKind::Console { skip: true, .. } => {}
            BlockKind::Console {
                commands,
                background,
                timeout_secs,
                ..
            } => {
                summary.blocks_run += 1;
                let timeout = timeout_secs.map_or(options.command_timeout, Duration::from_secs);
                if *background {
                    // The learner's ctrl-c in the other terminal first.
                    for mut earlier in running.drain(..) {
                        earlier.stop(options.stop_grace);
                    }
                }
                for command in commands {
                    summary.commands += 1;
                    if *background {
                        let started = Background::start(terminal, &command.text)?;
                        running.push(started);
                        let last = running.last_mut().expect("just pushed");
                        wait_for_excerpt(last, &command.excerpt, options.background_wait)
                            .map_err(|e| fail(command.line, &command.text, e))?;
                    } else {
                        let done = shell
                            .run(&command.text, timeout)
                            .map_err(|e| fail(command.line, &command.text, e))?;
                        compare(command, done.exit, &done.output)
                            .map_err(|e| fail(command.line, &command.text, e))?;
                        ended_with_passing_check = check_after
                            .is_some_and(|n| is_lab_check(&command.text, n) && done.exit == 0);
                    }
                }
            }
        }
    }
    if let Some(number) = check_after.filter(|_| !ended_with_passing_check) {
        let check = format!("tracemesh lab check {number}");
        summary.commands += 1;
        let done = shell
            .run(&check, options.command_timeout)
            .map_err(|e| fail(0, &check, e))?;
        if done.exit != 0 {
            return Err(format!(
                "{}: after the Catch up blocks, `{check}` exited {}, expected 0:\n{}",
                lab.label,
                done.exit,
                tail(&done.output)
            ));
        }
    }
    Ok(())
}

/// Exit code first (a wrong one explains a missing line), then the excerpt.
fn compare(command: &Command, exit: i32, output: &str) -> Result<(), String> {
    if exit != command.exit {
        return Err(format!(
            "exited {exit}, expected {} (write `[exit {exit}]` under the command if that is \
             meant); output (tail):\n{}",
            command.exit,
            tail(output)
        ));
    }
    match first_missing(&command.excerpt, output) {
        None => Ok(()),
        Some(missing) => Err(format!(
            "expected output line not found (in order): {missing}\n  output (tail):\n{}",
            tail(output)
        )),
    }
}

/// Waits until the background command's output holds its excerpt.
fn wait_for_excerpt(
    running: &mut Background,
    excerpt: &[String],
    wait: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + wait;
    loop {
        let output = running.output();
        let Some(missing) = first_missing(excerpt, &output) else {
            return Ok(());
        };
        if let Some(code) = running.ended() {
            return Err(format!(
                "(background) ended with exit {code} before printing: {missing}\n  output (tail):\n{}",
                tail(&output)
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "(background) did not print within {} s: {missing}\n  output (tail):\n{}",
                wait.as_secs(),
                tail(&output)
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A fresh directory linking every top-level entry of the repository but
/// the build output, old reports and the learner's progress file.
fn working_dir(repo: &Path) -> Result<tempfile::TempDir, String> {
    const LEFT_OUT: &[&str] = &["target", "reports", ".tracemesh-lab.json"];
    let dir = tempfile::Builder::new()
        .prefix("tracemesh-lab-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let entries = std::fs::read_dir(repo).map_err(|e| format!("{}: {e}", repo.display()))?;
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        if LEFT_OUT.iter().any(|l| name == *l) {
            continue;
        }
        std::os::unix::fs::symlink(entry.path(), dir.path().join(&name))
            .map_err(|e| format!("linking {}: {e}", entry.path().display()))?;
    }
    Ok(dir)
}
