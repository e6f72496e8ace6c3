//! Pinning processes to cores with `taskset`, so a measured process and
//! the process loading it do not compete for one core (ingest, loadgen).

use std::future::Future;
use std::process::Stdio;

use super::BenchError;

/// Whether `taskset` (util-linux) is there to pin processes with.
pub fn have_taskset() -> bool {
    std::process::Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Sets the CPU affinity of every thread of `pid` (`taskset -a -p`).
pub fn pin(pid: u32, cpus: &str) -> bool {
    std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// This process's CPU list (`taskset -c -p`), to restore it afterwards.
pub fn own_cpus() -> Option<String> {
    let out = std::process::Command::new("taskset")
        .args(["-c", "-p", &std::process::id().to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.rsplit(':').next()?.trim().to_owned())
}

/// `tracemesh` (this executable) as a child process, pinned to `core`
/// when one is given. taskset execs the program, so the child's pid is the
/// program's own, which is what the /proc readings need.
pub fn tracemesh_command(core: Option<&str>) -> Result<tokio::process::Command, BenchError> {
    let exe = std::env::current_exe()
        .map_err(|e| BenchError::Runtime(format!("cannot find this executable: {e}")))?;
    Ok(match core {
        Some(core) => {
            let mut command = tokio::process::Command::new("taskset");
            command.args(["-c", core]).arg(exe);
            command
        }
        None => tokio::process::Command::new(exe),
    })
}

/// Whether this machine can keep the measured process and its load apart:
/// two cores or more, and taskset.
pub fn can_pin() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores >= 2 && have_taskset()
}

/// Runs `work` with this process pinned to core 0 when `pinned`, and
/// gives the process its CPUs back afterwards, whatever `work` returned.
pub async fn on_core_zero<T>(pinned: bool, work: impl Future<Output = T>) -> T {
    let restore = if pinned { own_cpus() } else { None };
    if pinned {
        pin(std::process::id(), "0");
    }
    let outcome = work.await;
    if let Some(cpus) = restore {
        pin(std::process::id(), &cpus);
    }
    outcome
}
