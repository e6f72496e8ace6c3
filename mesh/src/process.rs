//! One service as a child process: spawning it, restarting it as it was,
//! and stopping it so that none is left behind.
//!
//! Three guards against orphans: on a normal stop each child gets SIGTERM
//! (it stops accepting, finishes in-flight requests, flushes its spans) and
//! then SIGKILL if it overstays; dropping a [`Child`] kills it (tokio's
//! `kill_on_drop`); and on Linux each child asks the kernel for SIGTERM when
//! its parent dies (`PR_SET_PDEATHSIG`), which covers `up` being SIGKILLed.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::Command;
use tracemesh_runtime::topology::Service;

/// Everything needed to start one service process, kept so that a crashed
/// service can be started again exactly as it was (same ports, same data).
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// The `tracemesh` binary (`service <name>` is its subcommand).
    pub program: PathBuf,
    pub service: Service,
    pub addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub args: Vec<OsString>,
    /// Added to this process's environment.
    pub env: Vec<(String, String)>,
    /// Removed from this process's environment.
    pub remove_env: Vec<&'static str>,
    /// Where stdout and stderr go; inherited when `None`.
    pub log: Option<PathBuf>,
}

/// One running service process.
#[derive(Debug)]
pub struct Child {
    pub service: Service,
    pub addr: SocketAddr,
    pub admin_addr: SocketAddr,
    spec: ChildSpec,
    process: tokio::process::Child,
    started_at: Instant,
}

/// Starts `tracemesh service <name> --listen <addr> ... <args>`.
pub fn spawn(spec: ChildSpec) -> std::io::Result<Child> {
    let process = start_process(&spec)?;
    Ok(Child {
        service: spec.service,
        addr: spec.addr,
        admin_addr: spec.admin_addr,
        spec,
        process,
        started_at: Instant::now(),
    })
}

fn start_process(spec: &ChildSpec) -> std::io::Result<tokio::process::Child> {
    let mut command = Command::new(&spec.program);
    command
        .arg("service")
        .arg(spec.service.name())
        .arg("--listen")
        .arg(spec.addr.to_string())
        .arg("--admin-listen")
        .arg(spec.admin_addr.to_string())
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    // Logs go to the terminal (inherited) or, for `run`, to a file, so they
    // do not scroll through the live progress line.
    if let Some(path) = &spec.log {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        command.stdout(file.try_clone()?).stderr(file);
    }
    for var in &spec.remove_env {
        command.env_remove(var);
    }
    ask_for_sigterm_when_parent_dies(&mut command);
    command.spawn()
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(crate) fn ask_for_sigterm_when_parent_dies(command: &mut Command) {
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed; prctl(2) is one, and the closure
    // touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(std::io::Error::from)
        });
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn ask_for_sigterm_when_parent_dies(_command: &mut Command) {}

impl Child {
    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.id()
    }

    /// The exit status if the process has already exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.process.try_wait().ok().flatten()
    }

    /// How long the current process has been running.
    pub fn uptime(&self) -> Duration {
        self.started_at.elapsed()
    }

    /// Starts the service again, as it was first started. Only for a child
    /// that has exited: the new process binds the same ports and opens the
    /// same data directory, so callers reconnect to it without being told.
    pub fn restart(&mut self) -> std::io::Result<()> {
        if self.exited().is_none() {
            return Err(std::io::Error::other(format!(
                "the {} service is still running",
                self.service
            )));
        }
        self.process = start_process(&self.spec)?;
        self.started_at = Instant::now();
        Ok(())
    }

    /// SIGTERM, then SIGKILL after `grace`. Returns how it ended.
    pub async fn stop(&mut self, grace: Duration) -> Stopped {
        if let Some(status) = self.exited() {
            return Stopped::AlreadyExited(status);
        }
        if let Some(pid) = self.process.id() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
        }
        match tokio::time::timeout(grace, self.process.wait()).await {
            Ok(Ok(status)) => Stopped::Exited(status),
            Ok(Err(e)) => Stopped::Lost(e.to_string()),
            Err(_) => {
                let _ = self.process.kill().await;
                Stopped::Killed(grace)
            }
        }
    }
}

/// How a stopped process ended.
#[derive(Debug)]
pub enum Stopped {
    /// It exited after SIGTERM, with this status.
    Exited(ExitStatus),
    /// It had exited before it was asked to.
    AlreadyExited(ExitStatus),
    /// It overstayed the grace period and was killed.
    Killed(Duration),
    /// It could not be waited for.
    Lost(String),
}

impl Stopped {
    /// Exited on SIGTERM with status 0: drained, flushed, done.
    pub fn is_clean(&self) -> bool {
        matches!(self, Stopped::Exited(status) if status.success())
    }
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stopped::Exited(status) => write!(f, "stopped ({status})"),
            Stopped::AlreadyExited(status) => write!(f, "had already exited ({status})"),
            Stopped::Killed(grace) => write!(f, "did not stop within {grace:?}: killed"),
            Stopped::Lost(e) => write!(f, "could not be waited for: {e}"),
        }
    }
}
