//! [`Mesh::start`]: the five services as processes, wired to each other by
//! the topology table, and [`Mesh::stop`]. What `up`, `run`, `bench` and the
//! end-to-end tests share.
//!
//! Ports: each service gets the port asked for, or a free one
//! ([`crate::ports`]); the admin endpoints get consecutive ports from
//! [`MeshOptions::admin_port_base`] in [`TOPOLOGY`] order, or free ones. The flags that wire a caller to its callees come
//! from [`TOPOLOGY`]: for each callee, its flag and the callee's address.

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use tracemesh_runtime::topology::{Service, TOPOLOGY};

use crate::admin::AdminEndpoint;
use crate::error::MeshError;
use crate::ports::{self, Reservation};
use crate::process::{self, Child, ChildSpec, Stopped};

/// How long a child may take to stop after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// What to start.
#[derive(Debug, Clone)]
pub struct MeshOptions {
    /// The `tracemesh` binary; this process's own executable when `None`
    /// (right for `up` and `run`; tests name `CARGO_BIN_EXE_tracemesh`).
    pub program: Option<PathBuf>,
    pub host: IpAddr,
    /// Port per service (0, or not listed: a free one).
    pub ports: Vec<(Service, u16)>,
    /// The admin endpoints at this port and the ones after it, one per
    /// service in [`TOPOLOGY`] order (gateway 9100, order 9101 ... payment
    /// 9104 for 9100), so a Prometheus or a learner can find them without
    /// reading the banner; free ports when `None`.
    pub admin_port_base: Option<u16>,
    /// Where the services keep their SQLite files.
    pub data_dir: PathBuf,
    /// A fault file per service, applied at start.
    pub faults: Vec<(Service, PathBuf)>,
    pub fault_seed: Option<u64>,
    /// Remove inventory's planted warehouse lock (`--fix-inventory-lock`).
    pub fix_inventory_lock: bool,
    /// Read inventory's catalog with one join instead of the planted N+1
    /// (`--fix-catalog-queries`).
    pub fix_catalog_queries: bool,
    /// Remove the planted pool of one in order's client to payment
    /// (`--fix-payment-pool`).
    pub fix_payment_pool: bool,
    /// Added to every child's environment (the OTLP endpoint, the sampler...).
    pub env: Vec<(String, String)>,
    pub ready_timeout: Duration,
    /// Where the services' logs go; the terminal when `None`.
    pub log_file: Option<PathBuf>,
}

impl MeshOptions {
    /// Loopback, free ports, no faults, 30 s to become ready, logs to the
    /// terminal: change the fields that matter to the caller.
    pub fn new(data_dir: impl Into<PathBuf>) -> MeshOptions {
        MeshOptions {
            program: None,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ports: Vec::new(),
            admin_port_base: None,
            data_dir: data_dir.into(),
            faults: Vec::new(),
            fault_seed: None,
            fix_inventory_lock: false,
            fix_catalog_queries: false,
            fix_payment_pool: false,
            env: Vec::new(),
            ready_timeout: Duration::from_secs(30),
            log_file: None,
        }
    }

    fn port(&self, service: Service) -> u16 {
        self.ports
            .iter()
            .find(|(s, _)| *s == service)
            .map_or(0, |(_, p)| *p)
    }

    /// The admin port of the service at `index` in [`TOPOLOGY`] (0: a free one).
    fn admin_port(&self, index: usize) -> Result<u16, MeshError> {
        let Some(base) = self.admin_port_base else {
            return Ok(0);
        };
        u16::try_from(index)
            .ok()
            .and_then(|i| base.checked_add(i))
            .ok_or(MeshError::AdminPortBase { base })
    }

    /// The flags of `tracemesh service <service>` besides its addresses.
    fn flags(&self, service: Service, addr_of: impl Fn(Service) -> SocketAddr) -> Vec<OsString> {
        let mut flags: Vec<OsString> =
            vec!["--data-dir".into(), self.data_dir.as_os_str().to_owned()];
        for callee in service.spec().callees {
            flags.push(callee.flag.into());
            flags.push(format!("http://{}", addr_of(callee.service)).into());
        }
        // Each planted bottleneck's fix goes to the one service it lives in.
        for (fixed, owner, flag) in [
            (
                self.fix_inventory_lock,
                Service::Inventory,
                "--fix-inventory-lock",
            ),
            (
                self.fix_catalog_queries,
                Service::Inventory,
                "--fix-catalog-queries",
            ),
            (self.fix_payment_pool, Service::Order, "--fix-payment-pool"),
        ] {
            if fixed && service == owner {
                flags.push(flag.into());
            }
        }
        if let Some((_, path)) = self.faults.iter().find(|(s, _)| *s == service) {
            flags.extend(["--faults".into(), path.as_os_str().to_owned()]);
        }
        if let Some(seed) = self.fault_seed {
            flags.extend(["--fault-seed".into(), seed.to_string().into()]);
        }
        flags
    }
}

/// The running services, in [`TOPOLOGY`] order (the order they stop in).
#[derive(Debug)]
pub struct Mesh {
    children: Vec<Child>,
}

impl Mesh {
    /// Starts the five services, callees first, and waits until every port
    /// answers and the gateway's `/readyz` is 200. On failure the services
    /// already started are stopped again.
    pub async fn start(options: &MeshOptions) -> Result<Mesh, MeshError> {
        let program = match &options.program {
            Some(program) => program.clone(),
            None => std::env::current_exe().map_err(MeshError::Program)?,
        };
        // Every port is reserved before any child starts, so two of our own
        // services are never handed the same free port.
        let mut reserved: Vec<(Service, Reservation, Reservation)> = Vec::new();
        for (index, spec) in TOPOLOGY.iter().enumerate() {
            let service = ports::reserve(options.host, options.port(spec.service))?;
            let admin = ports::reserve(options.host, options.admin_port(index)?)?;
            reserved.push((spec.service, service, admin));
        }
        let addr_of = |service: Service| {
            reserved
                .iter()
                .find(|(s, _, _)| *s == service)
                .map(|(_, r, _)| r.addr)
                .expect("every service of TOPOLOGY is reserved")
        };
        let specs: Vec<ChildSpec> = reserved
            .iter()
            .map(|(service, addr, admin)| ChildSpec {
                program: program.clone(),
                service: *service,
                addr: addr.addr,
                admin_addr: admin.addr,
                args: options.flags(*service, addr_of),
                env: options.env.clone(),
                // Each process names itself; a shared OTEL_SERVICE_NAME would
                // give all five the same name and make the traces useless.
                remove_env: vec!["OTEL_SERVICE_NAME"],
                log: options.log_file.clone(),
            })
            .collect();

        let mut mesh = Mesh {
            children: Vec::new(),
        };
        // Callees first, so the gateway's first readiness probe finds them.
        for spec in specs.into_iter().rev() {
            // Release the reservations: the child binds these ports now.
            reserved.retain(|(s, _, _)| *s != spec.service);
            let service = spec.service;
            match process::spawn(spec) {
                Ok(child) => mesh.children.insert(0, child),
                Err(source) => {
                    mesh.stop().await;
                    return Err(MeshError::Spawn { service, source });
                }
            }
        }
        if let Err(e) = mesh.wait_until_ready(options.ready_timeout).await {
            mesh.stop().await;
            return Err(e);
        }
        Ok(mesh)
    }

    /// The running processes, in stop order.
    pub fn children(&self) -> &[Child] {
        &self.children
    }

    /// The process of `service`.
    pub fn child(&self, service: Service) -> &Child {
        self.children
            .iter()
            .find(|c| c.service == service)
            .expect("a started mesh has every service")
    }

    pub(crate) fn child_mut(&mut self, service: Service) -> &mut Child {
        self.children
            .iter_mut()
            .find(|c| c.service == service)
            .expect("a started mesh has every service")
    }

    /// `http://host:port` of a service.
    pub fn url(&self, service: Service) -> String {
        format!("http://{}", self.child(service).addr)
    }

    /// `http://host:port` of the gateway: where requests enter the mesh.
    pub fn gateway_url(&self) -> String {
        self.url(Service::Gateway)
    }

    /// A service's admin endpoint.
    pub fn admin(&self, service: Service) -> AdminEndpoint {
        AdminEndpoint::new(
            service,
            format!("http://{}", self.child(service).admin_addr),
        )
    }

    /// Every service's admin endpoint, in stop order.
    pub fn admin_endpoints(&self) -> Vec<AdminEndpoint> {
        self.children
            .iter()
            .map(|c| self.admin(c.service))
            .collect()
    }

    /// The process id of `service`, while it runs.
    pub fn pid(&self, service: Service) -> Option<u32> {
        self.child(service).pid()
    }

    /// Stops every child in order (SIGTERM, then SIGKILL after the grace
    /// period) and says how each one ended.
    pub async fn stop(&mut self) -> Vec<(Service, Stopped)> {
        let mut ended = Vec::new();
        for child in &mut self.children {
            let how = child.stop(STOP_GRACE).await;
            tracing::info!(service = %child.service, "{how}");
            ended.push((child.service, how));
        }
        ended
    }

    /// Every child that has exited, with its status.
    pub fn exited(&mut self) -> Vec<(Service, ExitStatus)> {
        self.children
            .iter_mut()
            .filter_map(|c| c.exited().map(|status| (c.service, status)))
            .collect()
    }

    /// Polls every child's port, then the gateway's `/readyz`, until all answer
    /// or the deadline passes; a child that exits meanwhile fails at once.
    async fn wait_until_ready(&mut self, timeout: Duration) -> Result<(), MeshError> {
        let deadline = Instant::now() + timeout;
        let readyz = format!("{}/readyz", self.gateway_url());
        // Only a broken TLS backend fails to build, and reqwest has none here.
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap_or_default();
        let mut pending: Vec<Service> = self.children.iter().map(|c| c.service).collect();
        loop {
            if let Some((service, status)) = self.exited().into_iter().next() {
                return Err(MeshError::ExitedAtStart { service, status });
            }
            let mut still = Vec::new();
            for service in pending {
                if tokio::net::TcpStream::connect(self.child(service).addr)
                    .await
                    .is_err()
                {
                    still.push(service);
                }
            }
            pending = still;
            if pending.is_empty() {
                let ready = client
                    .get(&readyz)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ready {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(MeshError::NotReady {
                    timeout,
                    waiting_for: if pending.is_empty() {
                        "the gateway's /readyz".to_owned()
                    } else {
                        pending
                            .iter()
                            .map(|s| s.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                });
            }
            // Processes take a moment to start; there is nothing to be woken by.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A fresh data directory for the services, removed when dropped.
pub fn temporary_data_dir() -> Result<tempfile::TempDir, MeshError> {
    tempfile::Builder::new()
        .prefix("tracemesh-")
        .tempdir()
        .map_err(MeshError::DataDir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags_of(options: &MeshOptions, service: Service) -> Vec<String> {
        let addr = |s: Service| SocketAddr::from(([127, 0, 0, 1], 10_000 + s as u16));
        options
            .flags(service, addr)
            .into_iter()
            .map(|f| f.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn admin_ports_follow_the_base_in_topology_order_or_are_free() {
        assert_eq!(MeshOptions::new("/data").admin_port(3).unwrap(), 0);
        let options = MeshOptions {
            admin_port_base: Some(9100),
            ..MeshOptions::new("/data")
        };
        let ports: Vec<u16> = (0..TOPOLOGY.len())
            .map(|i| options.admin_port(i).unwrap())
            .collect();
        assert_eq!(ports, [9100, 9101, 9102, 9103, 9104]);
        assert_eq!(TOPOLOGY[0].service, Service::Gateway);
        assert_eq!(TOPOLOGY[4].service, Service::Payment);
        let past_the_end = MeshOptions {
            admin_port_base: Some(65532),
            ..MeshOptions::new("/data")
        };
        assert!(past_the_end.admin_port(3).is_ok());
        assert!(past_the_end.admin_port(4).is_err());
    }

    #[test]
    fn by_default_every_planted_bottleneck_stays() {
        let options = MeshOptions::new("/data");
        for service in Service::ALL {
            let flags = flags_of(&options, service);
            assert!(!flags.iter().any(|f| f.starts_with("--fix-")), "{flags:?}");
        }
    }

    #[test]
    fn every_caller_is_wired_to_its_callees_by_the_topology_flags() {
        let options = MeshOptions::new("/data");
        for spec in &TOPOLOGY {
            let flags = flags_of(&options, spec.service);
            for callee in spec.callees {
                let at = flags.iter().position(|f| f == callee.flag);
                let url = at.map(|i| flags[i + 1].clone());
                let want = format!("http://127.0.0.1:{}", 10_000 + callee.service as u16);
                assert_eq!(url.as_deref(), Some(want.as_str()), "{}", spec.service);
            }
            let urls = flags.iter().filter(|f| f.ends_with("-url")).count();
            assert_eq!(urls, spec.callees.len(), "{}: {flags:?}", spec.service);
        }
    }

    #[test]
    fn the_fixes_faults_and_seed_reach_only_the_services_they_name() {
        let options = MeshOptions {
            fix_inventory_lock: true,
            fix_catalog_queries: true,
            fix_payment_pool: true,
            faults: vec![(Service::Payment, PathBuf::from("/slow.yaml"))],
            fault_seed: Some(7),
            ..MeshOptions::new("/data")
        };
        let fixes = |service| -> Vec<String> {
            flags_of(&options, service)
                .into_iter()
                .filter(|f| f.starts_with("--fix-"))
                .collect()
        };
        assert_eq!(
            fixes(Service::Inventory),
            ["--fix-inventory-lock", "--fix-catalog-queries"]
        );
        assert_eq!(fixes(Service::Order), ["--fix-payment-pool"]);
        for service in [Service::Gateway, Service::User, Service::Payment] {
            assert!(fixes(service).is_empty(), "{service}");
        }
        let inventory = flags_of(&options, Service::Inventory);
        assert!(!inventory.contains(&"--faults".to_owned()));
        let payment = flags_of(&options, Service::Payment);
        assert!(payment.windows(2).any(|w| w == ["--faults", "/slow.yaml"]));
        for service in Service::ALL {
            let flags = flags_of(&options, service);
            assert!(
                flags.windows(2).any(|w| w == ["--fault-seed", "7"]),
                "{service}"
            );
            assert!(
                flags.windows(2).any(|w| w == ["--data-dir", "/data"]),
                "{service}"
            );
        }
    }
}
