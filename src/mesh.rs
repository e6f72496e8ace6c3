//! Starting and stopping the five services as child processes: what `up`
//! and `run` share.
//!
//! Ports: each service and admin endpoint gets the port asked for, or a free
//! one. Free ports are found by binding port 0, and every reservation is
//! held until its child is about to start, so two of our own services can
//! never be handed the same port (the kernel may otherwise reuse a port just
//! released). Another program could still take a port in the instant between
//! release and the child's bind; the child then fails to start, naming it.

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::Failure;
use crate::children::{self, Child, ChildSpec};

/// How long a child may take to stop after SIGTERM before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// What to start.
#[derive(Debug, Clone)]
pub struct MeshOptions {
    pub host: IpAddr,
    /// Port per service name (0: a free one); missing names get a free one.
    pub ports: Vec<(&'static str, u16)>,
    pub data_dir: PathBuf,
    /// A fault file per service name.
    pub faults: Vec<(String, PathBuf)>,
    pub fault_seed: Option<u64>,
    pub fix_inventory_lock: bool,
    /// Added to every child's environment (the OTLP endpoint, the sampler...).
    pub env: Vec<(String, String)>,
    pub ready_timeout: Duration,
    /// Where the services' logs go; the terminal when `None`.
    pub log_file: Option<PathBuf>,
}

/// The running services, in stop order (gateway first).
#[derive(Debug)]
pub struct Mesh {
    pub children: Vec<Child>,
}

/// A port held until its child starts.
struct Reservation {
    addr: SocketAddr,
    _held: Option<TcpListener>,
}

fn reserve(host: IpAddr, port: u16) -> Result<Reservation, Failure> {
    if port != 0 {
        return Ok(Reservation {
            addr: SocketAddr::new(host, port),
            _held: None,
        });
    }
    let failed =
        |e: std::io::Error| Failure::Runtime(format!("cannot find a free port on {host}: {e}"));
    let listener = TcpListener::bind((host, 0)).map_err(failed)?;
    Ok(Reservation {
        addr: listener.local_addr().map_err(failed)?,
        _held: Some(listener),
    })
}

impl Mesh {
    /// Starts the five services, callees first, and waits until every port
    /// answers and the gateway's `/readyz` is 200. On failure the services
    /// already started are stopped again.
    pub async fn start(options: &MeshOptions) -> Result<Mesh, Failure> {
        let host = options.host;
        let mut listen = Vec::new();
        let mut admin = Vec::new();
        for name in children::SERVICES {
            let port = options
                .ports
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(0, |(_, p)| *p);
            listen.push((name, reserve(host, port)?));
            admin.push((name, reserve(host, 0)?));
        }
        let url = |name: &str| {
            listen
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, r)| format!("http://{}", r.addr))
                .unwrap_or_default()
        };
        let mut flags_of = Vec::new();
        for name in children::SERVICES {
            let mut flags: Vec<OsString> =
                vec!["--data-dir".into(), options.data_dir.as_os_str().to_owned()];
            match name {
                "gateway" => {
                    flags.extend(["--user-url".into(), url("user").into()]);
                    flags.extend(["--order-url".into(), url("order").into()]);
                    flags.extend(["--inventory-url".into(), url("inventory").into()]);
                }
                "order" => {
                    flags.extend(["--inventory-url".into(), url("inventory").into()]);
                    flags.extend(["--payment-url".into(), url("payment").into()]);
                }
                "inventory" if options.fix_inventory_lock => {
                    flags.push("--fix-inventory-lock".into())
                }
                _ => {}
            }
            if let Some((_, path)) = options.faults.iter().find(|(s, _)| s == name) {
                flags.extend(["--faults".into(), path.as_os_str().to_owned()]);
            }
            if let Some(seed) = options.fault_seed {
                flags.extend(["--fault-seed".into(), seed.to_string().into()]);
            }
            flags_of.push((name, flags));
        }

        let mut mesh = Mesh {
            children: Vec::new(),
        };
        // Callees first, so the gateway's first readiness probe finds them.
        for name in children::SERVICES.iter().rev() {
            let take = |list: &mut Vec<(&'static str, Reservation)>| {
                let at = list.iter().position(|(n, _)| n == name).expect("reserved");
                list.remove(at).1
            };
            let (service_port, admin_port) = (take(&mut listen), take(&mut admin));
            let flags = flags_of
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, f)| f.clone())
                .unwrap_or_default();
            let (addr, admin_addr) = (service_port.addr, admin_port.addr);
            // Release the reservations: the child binds these ports now.
            drop((service_port, admin_port));
            // Each process names itself; a shared OTEL_SERVICE_NAME would
            // give all five the same name and make the traces useless.
            match children::spawn(ChildSpec {
                name,
                addr,
                admin_addr,
                args: flags,
                env: options.env.clone(),
                remove_env: vec!["OTEL_SERVICE_NAME"],
                log: options.log_file.clone(),
            }) {
                Ok(child) => mesh.children.push(child),
                Err(e) => {
                    mesh.stop().await;
                    return Err(Failure::Runtime(format!(
                        "cannot start the {name} service: {e}"
                    )));
                }
            }
        }
        // Stop order is SERVICES order (gateway first).
        mesh.children.reverse();
        if let Err(e) = mesh.wait_until_ready(options.ready_timeout).await {
            mesh.stop().await;
            return Err(e);
        }
        Ok(mesh)
    }

    /// `http://host:port/admin/faults` of a service's admin endpoint.
    pub fn admin_url(&self, name: &str) -> Option<String> {
        self.child(name)
            .map(|c| format!("http://{}/admin/faults", c.admin_addr))
    }

    pub fn child(&self, name: &str) -> Option<&Child> {
        self.children.iter().find(|c| c.name == name)
    }

    /// `http://host:port` of the gateway.
    pub fn gateway_url(&self) -> String {
        self.child("gateway")
            .map(|c| format!("http://{}", c.addr))
            .unwrap_or_default()
    }

    /// Stops every child in order (SIGTERM, then SIGKILL after the grace period).
    pub async fn stop(&mut self) {
        for child in &mut self.children {
            let how = child.stop(STOP_GRACE).await;
            tracing::info!(service = child.name, "{how}");
        }
    }

    /// Names each child that exited since the last call, once.
    pub fn newly_exited(
        &mut self,
        reported: &mut Vec<&'static str>,
    ) -> Vec<(&'static str, std::process::ExitStatus)> {
        let mut exited = Vec::new();
        for child in &mut self.children {
            if reported.contains(&child.name) {
                continue;
            }
            if let Some(status) = child.exited() {
                reported.push(child.name);
                exited.push((child.name, status));
            }
        }
        exited
    }

    /// Polls every child's port, then the gateway's `/readyz`, until all answer
    /// or the deadline passes; a child that exits meanwhile fails at once.
    async fn wait_until_ready(&mut self, timeout: Duration) -> Result<(), Failure> {
        let deadline = Instant::now() + timeout;
        let gateway_url = self.gateway_url();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| Failure::Runtime(format!("cannot build an HTTP client: {e}")))?;
        let mut pending: Vec<usize> = (0..self.children.len()).collect();
        loop {
            for child in self.children.iter_mut() {
                if let Some(status) = child.exited() {
                    return Err(Failure::Runtime(format!(
                        "the {} service exited during start-up ({status}); its log is above",
                        child.name
                    )));
                }
            }
            let mut still = Vec::new();
            for i in pending {
                if tokio::net::TcpStream::connect(self.children[i].addr)
                    .await
                    .is_err()
                {
                    still.push(i);
                }
            }
            pending = still;
            if pending.is_empty() {
                let ready = client
                    .get(format!("{gateway_url}/readyz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ready {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                let waiting: Vec<&str> = pending.iter().map(|i| self.children[*i].name).collect();
                return Err(Failure::Runtime(format!(
                    "the mesh was not ready within {timeout:?} (still waiting for: {})",
                    if waiting.is_empty() {
                        "the gateway's /readyz".to_owned()
                    } else {
                        waiting.join(", ")
                    }
                )));
            }
            // Processes take a moment to start; there is nothing to be woken by.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
