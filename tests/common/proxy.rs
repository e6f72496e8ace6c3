//! A TCP proxy between the services and the collector, to make the collector
//! unreachable or slow without touching either.
//!
//! - [`CutProxy::cut`] closes the listening socket and drops every open
//!   connection: exporters get "connection refused", exactly as if the
//!   collector host were down. [`CutProxy::restore`] listens again on the
//!   same port.
//! - [`CutProxy::set_delay`] holds every chunk going to the collector for a
//!   while before passing it on: a collector that answers slowly.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

pub struct CutProxy {
    pub addr: SocketAddr,
    target: Arc<Mutex<Option<SocketAddr>>>,
    delay: Arc<Mutex<Duration>>,
    /// The accept loop and every connection: aborting them is the cut.
    tasks: Option<tokio::task::JoinHandle<()>>,
}

impl CutProxy {
    /// Listens on a free loopback port; connections are refused (dropped)
    /// until [`CutProxy::set_target`] names the collector.
    pub async fn start() -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut proxy = CutProxy {
            addr: listener.local_addr().unwrap(),
            target: Arc::default(),
            delay: Arc::default(),
            tasks: None,
        };
        proxy.serve(listener);
        proxy
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_target(&self, target: SocketAddr) {
        *self.target.lock().unwrap() = Some(target);
    }

    pub fn set_delay(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }

    /// The collector becomes unreachable: nothing listens on the port, and
    /// every connection through the proxy is dropped.
    pub fn cut(&mut self) {
        if let Some(tasks) = self.tasks.take() {
            tasks.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn restore(&mut self) {
        // The aborted accept loop releases the socket asynchronously.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(e) if std::time::Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("cannot listen on {} again: {e}", self.addr),
            }
        };
        self.serve(listener);
    }

    fn serve(&mut self, listener: TcpListener) {
        let (target, delay) = (self.target.clone(), self.delay.clone());
        self.tasks = Some(tokio::spawn(async move {
            // Owned here, so aborting this task drops every connection too.
            let mut connections = JoinSet::new();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let Some(target) = *target.lock().unwrap() else {
                    continue; // dropped: not wired to a collector yet
                };
                let delay = delay.clone();
                connections.spawn(async move {
                    let Ok(upstream) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut upstream_read, mut upstream_write) = upstream.into_split();
                    let to_collector = async {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match client_read.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            let wait = *delay.lock().unwrap();
                            if !wait.is_zero() {
                                tokio::time::sleep(wait).await;
                            }
                            if upstream_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    };
                    let to_client = tokio::io::copy(&mut upstream_read, &mut client_write);
                    tokio::select! {
                        () = to_collector => {}
                        _ = to_client => {}
                    }
                });
            }
        }));
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.cut();
    }
}
