//! Pinning processes to cores with `taskset`, so a measured process and
//! the process loading it do not compete for one core (ingest, loadgen).

use std::process::Stdio;

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
