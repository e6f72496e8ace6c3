//! The practical limit of one hop: an axum hello world on the same machine,
//! driven by the same client loop as the mesh. A checkout crosses several
//! hops; a hop that does nothing shows what one costs at best. The loadgen
//! part runs it as its own process (`tracemesh bench --serve-hello 127.0.0.1:0`),
//! so its CPU is apart from the load generator's.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;

/// A hello-world server on its own runtime and thread, so the client loop
/// in the caller's runtime does not share its worker threads.
#[derive(Debug)]
pub struct HelloServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HelloServer {
    /// Binds 127.0.0.1:0 and serves `GET /` with `hello`, on a runtime of
    /// `workers` threads.
    pub fn start(workers: usize) -> std::io::Result<HelloServer> {
        HelloServer::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), workers)
    }

    /// The same on `addr` (the loadgen part's hello-world process, whose
    /// parent chose the port).
    pub fn start_on(addr: SocketAddr, workers: usize) -> std::io::Result<HelloServer> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let app = Router::new().route("/", get(|| async { "hello" }));
                // Not a graceful shutdown: the load's keep-alive connections
                // would hold it open. Dropping the server (and then the
                // runtime) closes everything.
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = stopped => {}
                }
            });
        });
        Ok(HelloServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for HelloServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
