//! Who set a load run's rate: the CPU the load generator and each service
//! process used over the load window (utime + stime from `/proc`, over wall
//! time), and the rule that names the bottleneck from them, so a user knows
//! whether the figures are the mesh's or the load generator's.
//!
//! The load generator is this process: goose runs on its tokio runtime,
//! beside the embedded collector when the run started the mesh, so the two
//! are not separable by thread; the collector's part is small (a few
//! percent of a core at thousands of spans per second, BENCHMARKS.md).
//!
//! The rule ([`decide`]), with `capacity` = cores x 100% and "full" = at
//! least [`FULL`] of it:
//!
//! 1. the generator alone used a full machine -> load generator;
//! 2. the services are known and generator + services filled the machine
//!    -> whichever of the two used more (the mesh, naming its busiest
//!    process, or the generator);
//! 3. the services are known and the machine was full (`/proc/stat`) but
//!    not with ours -> other processes (a shared machine);
//! 4. otherwise, with the services known -> neither: users and think time
//!    (or waits inside the mesh: injected latency, locks) set the rate;
//!    without them (`--gateway`) -> not the load generator, the mesh's CPU
//!    unknown.
//!
//! A figure, not a check: it never fails a run.

use std::time::{Duration, Instant};

use crate::procfs;
use crate::report::model::{Bottleneck, BottleneckReport, ProcessCpu};

/// The share of the machine's capacity that counts as full: CPU
/// accounting ticks at 10 ms and a run spends some of its window starting
/// and stopping users, so a saturated machine reads a little under 100%.
pub const FULL: f64 = 0.9;

/// CPU readings at the start of the load window, for [`CpuWindow::finish`].
#[derive(Debug)]
pub struct CpuWindow {
    started: Instant,
    ticks: u64,
    generator: Reading,
    /// `None` when the run cannot see the services.
    services: Option<Vec<Reading>>,
    machine: Option<Duration>,
}

#[derive(Debug)]
struct Reading {
    name: String,
    pid: u32,
    cpu: Option<Duration>,
}

impl Reading {
    fn start(name: String, pid: u32, ticks: u64) -> Reading {
        Reading {
            cpu: procfs::cpu_time(pid, ticks),
            name,
            pid,
        }
    }

    /// Percent of one core since the start, `None` if the process is gone.
    fn finish(self, ticks: u64, wall: Duration) -> Option<ProcessCpu> {
        let used = procfs::cpu_time(self.pid, ticks)?.checked_sub(self.cpu?)?;
        Some(ProcessCpu {
            name: self.name,
            pid: self.pid,
            cpu_percent: percent(used, wall),
        })
    }
}

fn percent(used: Duration, wall: Duration) -> f64 {
    used.as_secs_f64() / wall.as_secs_f64().max(1e-9) * 100.0
}

impl CpuWindow {
    /// Reads this process and `services` (name, pid), if the run knows
    /// them, and the machine's busy time: the window starts now.
    pub fn start(services: Option<Vec<(String, u32)>>) -> CpuWindow {
        let ticks = procfs::clock_ticks_per_second();
        CpuWindow {
            generator: Reading::start("tracemesh run".to_owned(), std::process::id(), ticks),
            services: services.map(|list| {
                list.into_iter()
                    .map(|(name, pid)| Reading::start(name, pid, ticks))
                    .collect()
            }),
            machine: procfs::machine_busy_time(ticks),
            ticks,
            started: Instant::now(),
        }
    }

    /// Reads everything again and decides.
    pub fn finish(self) -> BottleneckReport {
        let wall = self.started.elapsed();
        let ticks = self.ticks;
        let machine_percent = self
            .machine
            .zip(procfs::machine_busy_time(ticks))
            .and_then(|(from, to)| to.checked_sub(from))
            .map(|used| percent(used, wall));
        let generator = self.generator.finish(ticks, wall).unwrap_or(ProcessCpu {
            name: "tracemesh run".to_owned(),
            pid: std::process::id(),
            cpu_percent: 0.0,
        });
        // A service that ended during the load has no second reading: the
        // mesh's total would then be too low, so it is unknown instead.
        let services = self.services.and_then(|list| {
            list.into_iter()
                .map(|r| r.finish(ticks, wall))
                .collect::<Option<Vec<_>>>()
        });
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (verdict, reason) = decide(cores, &generator, services.as_deref(), machine_percent);
        BottleneckReport {
            verdict,
            reason,
            cores,
            window_secs: wall.as_secs_f64(),
            generator,
            services,
            machine_percent,
        }
    }
}

/// The rule of this module's header, over one window's figures.
pub fn decide(
    cores: usize,
    generator: &ProcessCpu,
    services: Option<&[ProcessCpu]>,
    machine_percent: Option<f64>,
) -> (Bottleneck, String) {
    let capacity = cores as f64 * 100.0;
    let full = FULL * capacity;
    let g = generator.cpu_percent;
    let of_capacity = format!("of {capacity:.0}% ({cores} cores)");
    if g >= full {
        return (
            Bottleneck::LoadGenerator,
            format!("the load generator used {g:.0}% {of_capacity}: the rate is its ceiling"),
        );
    }
    let Some(services) = services else {
        return (
            Bottleneck::NotTheLoadGenerator,
            format!(
                "not the load generator ({g:.0}% {of_capacity}); the services' CPU is unknown \
                 (a mesh this run did not start, or a service ended during the load)"
            ),
        );
    };
    let mesh: f64 = services.iter().map(|s| s.cpu_percent).sum();
    let busiest = services
        .iter()
        .max_by(|a, b| a.cpu_percent.total_cmp(&b.cpu_percent))
        .map_or_else(String::new, |s| {
            format!(", busiest {} {:.0}%", s.name, s.cpu_percent)
        });
    if g + mesh >= full {
        return if mesh > g {
            (
                Bottleneck::Mesh,
                format!(
                    "the cores were full, mostly in the mesh: services {mesh:.0}%{busiest}, \
                     load generator {g:.0}%, {of_capacity}"
                ),
            )
        } else {
            (
                Bottleneck::LoadGenerator,
                format!(
                    "the cores were full, mostly in the load generator: {g:.0}%, \
                     services {mesh:.0}%{busiest}, {of_capacity}"
                ),
            )
        };
    }
    if let Some(machine) = machine_percent.filter(|&m| m >= full) {
        let others = (machine - g - mesh).max(0.0);
        return (
            Bottleneck::OtherProcesses,
            format!(
                "the cores were full: {machine:.0}% {of_capacity}, {others:.0}% of it in other \
                 processes (services {mesh:.0}%, load generator {g:.0}%): a shared machine"
            ),
        );
    }
    (
        Bottleneck::Neither,
        format!(
            "neither: services {mesh:.0}%{busiest}, load generator {g:.0}%, {of_capacity}: \
             users and think time (or waits inside the mesh) set the rate"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(name: &str, cpu_percent: f64) -> ProcessCpu {
        ProcessCpu {
            name: name.to_owned(),
            pid: 1,
            cpu_percent,
        }
    }

    fn mesh(shares: &[f64]) -> Vec<ProcessCpu> {
        ["gateway", "user", "order", "inventory", "payment"]
            .iter()
            .zip(shares)
            .map(|(name, &share)| process(name, share))
            .collect()
    }

    #[test]
    fn a_generator_using_the_whole_machine_is_the_bottleneck_whatever_else_is_known() {
        let generator = process("tracemesh run", 185.0);
        for services in [None, Some(mesh(&[3.0, 1.0, 2.0, 2.0, 1.0]))] {
            let (verdict, reason) = decide(2, &generator, services.as_deref(), None);
            assert_eq!(verdict, Bottleneck::LoadGenerator, "{reason}");
            assert!(reason.contains("185%"), "{reason}");
        }
    }

    #[test]
    fn full_cores_go_to_whichever_used_more_of_them() {
        let services = mesh(&[40.0, 10.0, 30.0, 60.0, 10.0]);
        let (verdict, reason) = decide(2, &process("tracemesh run", 40.0), Some(&services), None);
        assert_eq!(verdict, Bottleneck::Mesh, "{reason}");
        assert!(reason.contains("busiest inventory 60%"), "{reason}");

        let light = mesh(&[20.0, 5.0, 10.0, 20.0, 5.0]);
        let (verdict, reason) = decide(2, &process("tracemesh run", 120.0), Some(&light), None);
        assert_eq!(verdict, Bottleneck::LoadGenerator, "{reason}");
    }

    #[test]
    fn full_cores_of_other_processes_are_a_shared_machine() {
        let services = mesh(&[10.0, 5.0, 10.0, 10.0, 5.0]);
        let generator = process("tracemesh run", 20.0);
        let (verdict, reason) = decide(2, &generator, Some(&services), Some(195.0));
        assert_eq!(verdict, Bottleneck::OtherProcesses, "{reason}");
        assert!(reason.contains("135% of it in other processes"), "{reason}");
        // The same figures on a quiet machine: nothing was short of CPU.
        let (verdict, reason) = decide(2, &generator, Some(&services), Some(62.0));
        assert_eq!(verdict, Bottleneck::Neither, "{reason}");
        assert!(reason.contains("think time"), "{reason}");
    }

    #[test]
    fn an_external_mesh_can_only_clear_the_generator() {
        let (verdict, reason) = decide(4, &process("tracemesh run", 30.0), None, Some(390.0));
        assert_eq!(verdict, Bottleneck::NotTheLoadGenerator, "{reason}");
        assert!(reason.contains("unknown"), "{reason}");
        assert!(reason.contains("of 400% (4 cores)"), "{reason}");
    }

    #[test]
    fn a_window_over_this_process_reads_its_own_cpu() {
        let window = CpuWindow::start(Some(vec![("self".to_owned(), std::process::id())]));
        // Burn some CPU so the shares are above zero.
        let until = Instant::now() + Duration::from_millis(200);
        let mut spins = 0u64;
        while Instant::now() < until {
            spins = spins.wrapping_add(1);
        }
        assert!(spins > 0);
        let report = window.finish();
        assert!(report.generator.cpu_percent > 0.0, "{report:?}");
        let services = report.services.as_ref().expect("this process is readable");
        assert_eq!(services[0].pid, std::process::id());
        assert!(report.window_secs >= 0.2);
        // A pid that does not exist makes the services unknown.
        let gone = CpuWindow::start(Some(vec![("gone".to_owned(), u32::MAX)])).finish();
        assert_eq!(gone.services, None);
    }
}
