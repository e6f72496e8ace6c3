//! A process's CPU time and resident memory, and the whole machine's busy
//! CPU time, read from `/proc` (Linux): what `tracemesh run` reads for its
//! bottleneck figures and `tracemesh bench` for every CPU and memory figure.

use std::time::Duration;

/// Clock ticks per second of `/proc/<pid>/stat`'s times (`getconf CLK_TCK`);
/// 100 on every Linux this runs on, asked once anyway.
pub fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// User + system CPU time the process has used so far.
pub fn cpu_time(pid: u32, ticks_per_second: u64) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces: count from after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / ticks_per_second as f64,
    ))
}

/// User + system CPU time of several processes together (the mesh's five
/// services), or `None` when one of them has gone: a sum with a process
/// missing would look like a saving.
pub fn cpu_time_of(pids: &[u32], ticks_per_second: u64) -> Option<Duration> {
    pids.iter()
        .map(|&pid| cpu_time(pid, ticks_per_second))
        .sum()
}

/// CPU time every process of the machine has used so far (`/proc/stat`'s
/// first line: all of it but `idle` and `iowait`), summed over its cores.
pub fn machine_busy_time(ticks_per_second: u64) -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal (guest time is already
    // counted in user and nice).
    let busy: u64 = ticks.iter().take(8).sum::<u64>() - ticks.get(3)? - ticks.get(4)?;
    Some(Duration::from_secs_f64(
        busy as f64 / ticks_per_second as f64,
    ))
}

/// A `kB` line of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in bytes.
pub fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_resident_memory() {
        let pid = std::process::id();
        assert!(cpu_time(pid, clock_ticks_per_second()).is_some());
        assert!(status_bytes(pid, "VmRSS").unwrap() > 0);
        let ticks = clock_ticks_per_second();
        assert!(cpu_time_of(&[pid, pid], ticks).is_some());
        assert!(cpu_time_of(&[pid, u32::MAX], ticks).is_none());
        assert!(machine_busy_time(ticks).is_some_and(|t| t > Duration::ZERO));
    }
}
