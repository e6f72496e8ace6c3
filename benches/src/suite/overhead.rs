//! What tracing costs, as CPU: the services' utime + stime (from `/proc`)
//! per checkout answered, traced against untraced, under two load shapes:
//! an open loop at a fixed offered rate below saturation (the same work per
//! second for both meshes, as in production) and a closed loop at
//! saturation. The headline is the traced/untraced ratio per round pair,
//! its median and spread over rounds.
//!
//! CPU is a better measure than lost throughput: throughput at saturation
//! moves with whatever else the machine runs, while the CPU a checkout
//! takes moves much less; and at a rate below saturation throughput says
//! nothing at all. Where the load generator's and the collector's CPU went
//! is reported beside it, from their own processes.

use std::ops::Sub;
use std::time::Duration;

use tracemesh_harness::stats::{median, percentile};

use super::report::{Results, Row};
use crate::load::LoadResult;
use crate::procfs;
use crate::suite::BenchError;

/// The target: a traced checkout may take at most this many times the CPU
/// of an untraced one, at 100% sampling.
pub const MAX_CPU_RATIO: f64 = 1.05;

/// CPU seconds used, by the processes a run involves.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    /// The mesh's five services together.
    pub services: f64,
    /// This process: the load generator.
    pub generator: f64,
    /// The collector process.
    pub collector: f64,
}

impl Sub for Cpu {
    type Output = Cpu;
    fn sub(self, earlier: Cpu) -> Cpu {
        Cpu {
            services: self.services - earlier.services,
            generator: self.generator - earlier.generator,
            collector: self.collector - earlier.collector,
        }
    }
}

/// Reads [`Cpu`] from `/proc`.
pub struct CpuMeter {
    ticks: u64,
    collector: u32,
}

impl CpuMeter {
    pub fn new(collector_pid: u32) -> CpuMeter {
        CpuMeter {
            ticks: procfs::clock_ticks_per_second(),
            collector: collector_pid,
        }
    }

    /// The CPU time so far of `services`, this process and the collector.
    pub fn read(&self, services: &[u32]) -> Result<Cpu, BenchError> {
        let gone = |what: &str| BenchError::Runtime(format!("{what} is no longer running"));
        let secs = |d: Duration| d.as_secs_f64();
        Ok(Cpu {
            services: procfs::cpu_time_of(services, self.ticks)
                .map(secs)
                .ok_or_else(|| gone("a service of the mesh"))?,
            generator: procfs::cpu_time(std::process::id(), self.ticks)
                .map(secs)
                .unwrap_or_default(),
            collector: procfs::cpu_time(self.collector, self.ticks)
                .map(secs)
                .ok_or_else(|| gone("the collector process"))?,
        })
    }
}

/// One variant's run in one round: its load and the CPU it took.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub load: LoadResult,
    pub cpu: Cpu,
    /// Wall time the CPU was read over (the load, plus the traced mesh's
    /// wait for its exporter to flush).
    pub window: Duration,
}

impl Run {
    /// Services' CPU seconds per checkout answered.
    pub fn services_per_checkout(&self) -> f64 {
        self.cpu.services / self.load.ok as f64
    }
}

/// The runs of one load shape, per round, of both meshes.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    pub traced: Vec<Run>,
    pub untraced: Vec<Run>,
}

impl Shape {
    /// traced/untraced services' CPU per checkout, per round (rounds where
    /// either mesh answered nothing are left out).
    pub fn cpu_ratios(&self) -> Vec<f64> {
        self.traced
            .iter()
            .zip(&self.untraced)
            .map(|(t, u)| t.services_per_checkout() / u.services_per_checkout())
            .filter(|r| r.is_finite())
            .collect()
    }

    /// The load generator's CPU seconds per checkout, both meshes' runs.
    fn generator_per_checkout(&self) -> f64 {
        let runs = self.traced.iter().chain(&self.untraced);
        let (cpu, ok) = runs.fold((0.0, 0u64), |(c, n), r| {
            (c + r.cpu.generator, n + r.load.ok)
        });
        cpu / ok.max(1) as f64
    }

    /// The load generator's share of one core while it sent load (the
    /// traced runs' wait for the exporters is left out: it sends nothing).
    fn generator_share(&self) -> f64 {
        let runs = self.traced.iter().chain(&self.untraced);
        let (cpu, wall) = runs.fold((0.0, 0.0), |(c, w), r| {
            (c + r.cpu.generator, w + r.load.elapsed.as_secs_f64())
        });
        cpu / wall.max(1e-9)
    }
}

/// The median of per-round ratios with its spread, e.g.
/// `1.043 (3 rounds: min 1.010, max 1.070; 1.043, 1.010, 1.070)`.
pub fn ratio_with_spread(ratios: &[f64]) -> String {
    if ratios.is_empty() {
        return "n/a (no round answered a checkout)".into();
    }
    let (min, max) = ratios
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    format!(
        "{:.3} ({} rounds: min {min:.3}, max {max:.3}; {})",
        median(ratios),
        ratios.len(),
        ratios
            .iter()
            .map(|r| format!("{r:.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn describe(runs: &[Run]) -> String {
    let rates: Vec<f64> = runs.iter().map(|r| r.load.rate()).collect();
    let latencies: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.load.latencies_ms.iter().copied())
        .collect();
    let per_checkout: Vec<f64> = runs
        .iter()
        .map(Run::services_per_checkout)
        .filter(|c| c.is_finite())
        .collect();
    let late: u64 = runs.iter().map(|r| r.load.late).sum();
    let failed: u64 = runs.iter().map(|r| r.load.failed).sum();
    format!(
        "services {:.3} ms CPU per checkout; {:.1} checkouts/s answered, p50 {:.2} ms, p99 {:.2} ms; {late} late, {failed} failed (medians of {} rounds)",
        median(&per_checkout) * 1e3,
        median(&rates),
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        runs.len()
    )
}

/// The overhead rows and headline lines: each shape's two meshes, the
/// ratio against the target, the closed loop's throughput loss, and the
/// generator's and collector's CPU.
pub fn report(open: &Shape, closed: &Shape, rate: f64, clients: usize, results: &mut Results) {
    let shapes = [
        (open, format!("open loop at {rate:.0} checkouts/s")),
        (closed, format!("closed loop, {clients} clients")),
    ];
    for (shape, name) in &shapes {
        results.rows.push(Row::info(
            "overhead",
            format!("{name}, traced (always_on, OTLP/gRPC)"),
            describe(&shape.traced),
        ));
        results.rows.push(Row::info(
            "overhead",
            format!("{name}, OTEL_SDK_DISABLED=true"),
            describe(&shape.untraced),
        ));
        let ratios = shape.cpu_ratios();
        let ratio = median(&ratios);
        let met = !ratios.is_empty() && ratio <= MAX_CPU_RATIO;
        results.rows.push(Row::target(
            "overhead",
            format!(
                "services' CPU per checkout, traced / untraced, {name} (median of per-round ratios)"
            ),
            ratio_with_spread(&ratios),
            format!("<= {MAX_CPU_RATIO:.2}"),
            met,
        ));
        results.ratios.push(format!(
            "overhead: traced/untraced CPU per checkout, {name} = {} (target <= {MAX_CPU_RATIO:.2}: {})",
            ratio_with_spread(&ratios),
            if met { "met" } else { "MISSED" }
        ));
    }

    // Kept for comparison with earlier runs; no longer the headline.
    let loss: Vec<f64> = closed
        .traced
        .iter()
        .zip(&closed.untraced)
        .map(|(t, u)| 1.0 - t.load.rate() / u.load.rate())
        .filter(|l| l.is_finite())
        .collect();
    results.rows.push(Row::info(
        "overhead",
        "throughput lost to tracing, closed loop (median of per-round 1 - traced/untraced)",
        format!(
            "{:.1}% (rounds: {})",
            median(&loss) * 100.0,
            loss.iter()
                .map(|l| format!("{:.1}%", l * 100.0))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ));

    results.rows.push(Row::info(
        "overhead",
        "load generator (the bench process) CPU per checkout, open / closed loop",
        format!(
            "{:.3} ms / {:.3} ms ({:.0}% / {:.0}% of a core)",
            open.generator_per_checkout() * 1e3,
            closed.generator_per_checkout() * 1e3,
            open.generator_share() * 100.0,
            closed.generator_share() * 100.0
        ),
    ));
    let traced = open.traced.iter().chain(&closed.traced);
    let (cpu, ok, wall) = traced.fold((0.0, 0u64, 0.0), |(c, n, w), r| {
        (
            c + r.cpu.collector,
            n + r.load.ok,
            w + r.window.as_secs_f64(),
        )
    });
    results.rows.push(Row::info(
        "overhead",
        "collector process CPU per traced checkout, both loops",
        format!(
            "{:.3} ms ({:.0}% of a core during the traced runs)",
            cpu / ok.max(1) as f64 * 1e3,
            cpu / wall.max(1e-9) * 100.0
        ),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ok: u64, services: f64) -> Run {
        Run {
            load: LoadResult {
                ok,
                elapsed: Duration::from_secs(1),
                ..LoadResult::default()
            },
            cpu: Cpu {
                services,
                ..Cpu::default()
            },
            window: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_ratio_is_per_checkout_and_per_round() {
        let shape = Shape {
            // Half the checkouts for the same CPU: twice the CPU each.
            traced: vec![run(50, 1.0), run(100, 1.1)],
            untraced: vec![run(100, 1.0), run(100, 1.0)],
        };
        let ratios = shape.cpu_ratios();
        assert_eq!(ratios.len(), 2);
        assert!((ratios[0] - 2.0).abs() < 1e-9);
        assert!((ratios[1] - 1.1).abs() < 1e-9);
    }

    #[test]
    fn rounds_without_checkouts_are_left_out() {
        let shape = Shape {
            traced: vec![run(0, 1.0), run(10, 1.0)],
            untraced: vec![run(10, 1.0), run(10, 1.0)],
        };
        assert_eq!(shape.cpu_ratios(), [1.0]);
        assert!(ratio_with_spread(&[]).starts_with("n/a"));
        assert!(ratio_with_spread(&[1.0, 1.2, 1.1]).starts_with("1.100 (3 rounds: min 1.000"));
    }
}
