//! The learner's terminals. [`Shell`] is the first one: one bash process
//! for a whole lab, so variables a command assigns and `cd` hold for the
//! commands after it. [`Background`] is "a second terminal": a command that
//! keeps running (`tracemesh up`) while the lab goes on, stopped the way a
//! learner stops it (ctrl-c, SIGINT to its process group), then killed if
//! it does not end.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// How the learner's terminals are set up: working directory and
/// environment (PATH with the binary under test first, LANG).
#[derive(Debug, Clone)]
pub struct Terminal {
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Terminal {
    /// `program` started as from a terminal. Through coreutils' `env
    /// --default-signal`: in a terminal ctrl-c reaches the program, but a
    /// test started where SIGINT and SIGQUIT are ignored (a background job
    /// of a shell without job control, as some CI runners start it) would
    /// pass that on, and a lab's bash `trap .. INT` would never run (bash
    /// cannot undo a signal ignored when it started).
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new("env");
        command
            .args(["--default-signal=INT,QUIT", program])
            .current_dir(&self.dir)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            // LANG alone picks the language (`tracemesh lab` reads LC_ALL
            // and LC_MESSAGES first, and CI images often set LC_ALL).
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            // Its own process group: a stop reaches everything it started.
            .process_group(0);
        command
    }
}

/// What a finished command left.
pub struct Finished {
    pub exit: i32,
    pub output: String,
}

/// The lab's first terminal: one bash reading commands on its stdin.
pub struct Shell {
    child: Child,
    stdin: ChildStdin,
    /// bash's own stdout lines: the end-of-command markers.
    markers: Receiver<String>,
    /// Where each command's stdout and stderr go (outside the lab's directory).
    scratch: tempfile::TempDir,
    count: usize,
}

/// Printed after each command with its exit status; the nonce keeps a
/// command's own output from faking it (that output goes to a file anyway).
const MARKER: &str = "__tracemesh_workshop_done__";

impl Shell {
    pub fn start(terminal: &Terminal) -> Result<Shell, String> {
        let mut child = terminal
            .command("bash")
            .args(["--noprofile", "--norc"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start bash: {e}"))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (send, markers) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
        Ok(Shell {
            child,
            stdin,
            markers,
            scratch,
            count: 0,
        })
    }

    /// Runs one command in the shell itself (a `{ }` group, not a subshell:
    /// assignments and `cd` stay), its stdin empty, stdout and stderr
    /// together in one file. `Err` when it does not end within `timeout`
    /// (the shell is then killed: the lab cannot go on) or the shell ended.
    pub fn run(&mut self, command: &str, timeout: Duration) -> Result<Finished, String> {
        syntax_ok(command)?;
        self.count += 1;
        let out = self.scratch.path().join(format!("{}.out", self.count));
        let script = format!(
            "{{\n{command}\n}} > '{}' 2>&1 < /dev/null\nprintf '\\n{MARKER} %s\\n' \"$?\"\n",
            out.display()
        );
        self.stdin
            .write_all(script.as_bytes())
            .and_then(|()| self.stdin.flush())
            .map_err(|e| format!("the shell ended before this command: {e}"))?;
        let deadline = Instant::now() + timeout;
        let output = || std::fs::read_to_string(&out).unwrap_or_default();
        loop {
            match self
                .markers
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => {
                    if let Some(code) = line.strip_prefix(MARKER) {
                        let exit = code.trim().parse().unwrap_or(-1);
                        return Ok(Finished {
                            exit,
                            output: output(),
                        });
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.stop();
                    return Err(format!(
                        "still running after {} s (raise the block's timeout=SECS if it must take \
                         longer); output so far:\n{}",
                        timeout.as_secs(),
                        tail(&output())
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!(
                        "the shell ended (an `exit`?); output:\n{}",
                        tail(&output())
                    ));
                }
            }
        }
    }

    /// Ends the shell and whatever it still runs.
    pub fn stop(&mut self) {
        stop_group(&mut self.child, Duration::from_secs(0));
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `bash -n`: a syntax error would end the shell, and an unclosed quote
/// would swallow the commands after it; both are named here instead.
fn syntax_ok(command: &str) -> Result<(), String> {
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-n", "-c", command])
        .output()
        .map_err(|e| format!("cannot start bash: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "not a valid bash command: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A command running in "a second terminal".
pub struct Background {
    child: Child,
    log: PathBuf,
    _scratch: tempfile::TempDir,
}

impl Background {
    pub fn start(terminal: &Terminal, command: &str) -> Result<Background, String> {
        let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
        let log = scratch.path().join("output");
        let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let child = terminal
            .command("bash")
            .args(["-c", command])
            .stdin(Stdio::null())
            .stdout(file.try_clone().map_err(|e| e.to_string())?)
            .stderr(file)
            .spawn()
            .map_err(|e| format!("cannot start bash: {e}"))?;
        Ok(Background {
            child,
            log,
            _scratch: scratch,
        })
    }

    /// Its output so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its exit status, if it ended.
    pub fn ended(&mut self) -> Option<i32> {
        self.child
            .try_wait()
            .ok()
            .flatten()
            .map(|s| s.code().unwrap_or(-1))
    }

    /// ctrl-c, then SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        stop_group(&mut self.child, grace);
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(0));
    }
}

/// SIGINT to the child's process group, then SIGKILL to the group once the
/// child has ended or `grace` has passed (whatever it started goes too).
fn stop_group(child: &mut Child, grace: Duration) {
    let group = Pid::from_raw(child.id() as i32);
    if child.try_wait().ok().flatten().is_none() && !grace.is_zero() {
        let _ = killpg(group, Signal::SIGINT);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && child.try_wait().ok().flatten().is_none() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let _ = killpg(group, Signal::SIGKILL);
    let _ = child.wait();
}

/// The last lines of an output, for a failure message.
pub fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let from = lines.len().saturating_sub(25);
    lines[from..]
        .iter()
        .map(|l| format!("    | {l}\n"))
        .collect()
}

/// A relative path inside `dir` that does not pass through one of the
/// links to the repository (writing there would change the repository).
pub fn learner_file(dir: &Path, path: &str) -> Result<PathBuf, String> {
    let relative = Path::new(path);
    if relative.is_absolute()
        || relative
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(format!("file={path}: must be a plain relative path"));
    }
    let mut at = dir.to_path_buf();
    for part in relative.components() {
        at.push(part);
        if at.is_symlink() {
            return Err(format!(
                "file={path}: {} links into the repository; the learner's files go beside it",
                at.strip_prefix(dir).unwrap_or(&at).display()
            ));
        }
    }
    Ok(dir.join(relative))
}
