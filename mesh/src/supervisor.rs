//! Watching a running mesh: a service that exits on its own is reported
//! once, and, when asked, started again with backoff.
//!
//! A crashed service is a lesson in what the traces of a partial outage look
//! like (the gateway answers 503 and the error span sits at the failed
//! hop), so by default it stays down. With restarts on, it is started again
//! on its ports and data after [`FIRST_RESTART_DELAY`], doubling up to
//! [`MAX_RESTART_DELAY`] while it keeps crashing within [`STABLE_UPTIME`].
//!
//! The supervisor does nothing by itself: its owner calls
//! [`Supervisor::check`] (`up` every 250 ms; a test while it waits), so
//! there is no background task holding the mesh.

use std::process::ExitStatus;
use std::time::Duration;

use tokio::time::Instant;
use tracemesh_runtime::topology::Service;

use crate::mesh::Mesh;

/// First wait before restarting a crashed service, and the longest.
pub const FIRST_RESTART_DELAY: Duration = Duration::from_secs(1);
pub const MAX_RESTART_DELAY: Duration = Duration::from_secs(30);
/// A service that ran at least this long before exiting starts over at
/// [`FIRST_RESTART_DELAY`]; one that crashes sooner waits twice as long.
pub const STABLE_UPTIME: Duration = Duration::from_secs(10);

/// What a [`Supervisor::check`] saw or did.
#[derive(Debug)]
pub enum Event {
    /// The service exited on its own (reported once per crash).
    Exited {
        service: Service,
        status: ExitStatus,
    },
    /// It will be started again after `delay`.
    RestartScheduled { service: Service, delay: Duration },
    /// It was started again, as process `pid`.
    Restarted { service: Service, pid: u32 },
    /// Starting it again failed; it stays down.
    RestartFailed { service: Service, error: String },
}

/// Remembers which crashes were reported and when each restart is due.
#[derive(Debug, Default)]
pub struct Supervisor {
    restart: bool,
    reported: Vec<Service>,
    due: Vec<(Service, Instant)>,
    last_delay: Vec<(Service, Duration)>,
}

impl Supervisor {
    /// `restart`: start crashed services again (`up --restart`).
    pub fn new(restart: bool) -> Supervisor {
        Supervisor {
            restart,
            ..Supervisor::default()
        }
    }

    /// Reports new crashes, schedules their restarts, and performs the
    /// restarts that are due.
    pub fn check(&mut self, mesh: &mut Mesh) -> Vec<Event> {
        let mut events = Vec::new();
        for (service, status) in mesh.exited() {
            if self.reported.contains(&service) {
                continue;
            }
            self.reported.push(service);
            events.push(Event::Exited { service, status });
            if self.restart {
                let delay = self.next_delay(service, mesh.child(service).uptime());
                self.due.push((service, Instant::now() + delay));
                events.push(Event::RestartScheduled { service, delay });
            }
        }
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = self.due.drain(..).partition(|(_, at)| *at <= now);
        self.due = later;
        for (service, _) in due {
            let child = mesh.child_mut(service);
            match child.restart() {
                Ok(()) => {
                    // Watch it again: a second crash is reported (and restarted) too.
                    self.reported.retain(|s| *s != service);
                    let pid = child.pid().unwrap_or_default();
                    events.push(Event::Restarted { service, pid });
                }
                // Left as reported: the rest of the mesh keeps serving.
                Err(e) => events.push(Event::RestartFailed {
                    service,
                    error: e.to_string(),
                }),
            }
        }
        events
    }

    fn next_delay(&mut self, service: Service, uptime: Duration) -> Duration {
        let previous = self
            .last_delay
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, d)| *d);
        let delay = match previous {
            Some(d) if uptime < STABLE_UPTIME => (d * 2).min(MAX_RESTART_DELAY),
            _ => FIRST_RESTART_DELAY,
        };
        self.last_delay.retain(|(s, _)| *s != service);
        self.last_delay.push((service, delay));
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_that_keeps_crashing_waits_twice_as_long_each_time_up_to_the_cap() {
        let mut supervisor = Supervisor::new(true);
        let soon = Duration::from_secs(1);
        let mut delays = Vec::new();
        for _ in 0..7 {
            delays.push(supervisor.next_delay(Service::Payment, soon));
        }
        let secs: Vec<u64> = delays.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30]);
    }

    #[test]
    fn a_service_that_ran_stably_starts_over_at_the_first_delay() {
        let mut supervisor = Supervisor::new(true);
        let soon = Duration::from_secs(1);
        supervisor.next_delay(Service::Order, soon);
        supervisor.next_delay(Service::Order, soon);
        assert_eq!(
            supervisor.next_delay(Service::Order, STABLE_UPTIME),
            FIRST_RESTART_DELAY
        );
    }

    #[test]
    fn each_service_has_its_own_backoff() {
        let mut supervisor = Supervisor::new(true);
        let soon = Duration::from_secs(1);
        supervisor.next_delay(Service::User, soon);
        supervisor.next_delay(Service::User, soon);
        assert_eq!(
            supervisor.next_delay(Service::Inventory, soon),
            FIRST_RESTART_DELAY
        );
    }
}
