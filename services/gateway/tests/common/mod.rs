//! What the gateway's black-box tests share: telemetry installed once, a
//! config, a dead address, and a gateway served on port 0 that a test can
//! stop and wait for.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracemesh_gateway::{Config, serve};
use tracemesh_runtime::config::MapEnv;
use tracemesh_runtime::fault::Faults;
use tracemesh_runtime::service::{ServeError, ServiceContext};
use tracemesh_runtime::shutdown::Shutdown;
use tracemesh_runtime::telemetry::{self, TelemetryConfig, TelemetryGuard};

/// Installs telemetry as `tracemesh service gateway` does (W3C propagation
/// in and out). Telemetry is process-global: installed once for the whole
/// test binary, and never shut down (there is nothing to flush). The
/// exporter points at a dead port with a schedule delay longer than any
/// test, so nothing is ever exported.
pub fn init_telemetry() {
    static GUARD: OnceLock<TelemetryGuard> = OnceLock::new();
    GUARD.get_or_init(|| {
        let env = MapEnv::new([
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
            ("OTEL_BSP_SCHEDULE_DELAY", "3600000"),
            ("RUST_LOG", "off"),
        ]);
        let config = TelemetryConfig::from_env(&env, "gateway").unwrap();
        telemetry::init(&config, &Default::default()).unwrap()
    });
}

/// The gateway's defaults, with every downstream at `url`.
pub fn config(url: &str) -> Config {
    Config {
        user_url: url.to_owned(),
        order_url: url.to_owned(),
        inventory_url: url.to_owned(),
        max_body_bytes: 65536,
        downstream_timeout_ms: 3000,
        w3c_test_endpoint: false,
        untrusted_edge: false,
    }
}

/// A URL nothing listens on: a port that was free a moment ago.
pub async fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// A running gateway.
pub struct Gateway {
    pub addr: SocketAddr,
    pub shutdown: Shutdown,
    pub served: JoinHandle<Result<(), ServeError>>,
    /// Holds the (unused) data directory for as long as the gateway runs.
    _data_dir: tempfile::TempDir,
}

impl Gateway {
    pub async fn start(config: Config) -> Gateway {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let data_dir = tempfile::tempdir().unwrap();
        let ctx = ServiceContext {
            data_dir: data_dir.path().to_owned(),
            faults: Faults::default(),
        };
        let shutdown = Shutdown::new();
        let served = tokio::spawn(serve(listener, ctx, config, shutdown.clone()));
        Gateway {
            addr,
            shutdown,
            served,
            _data_dir: data_dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Triggers shutdown and checks that `serve` returns, cleanly, promptly.
    pub async fn stop(self) {
        self.shutdown.trigger();
        let served = tokio::time::timeout(Duration::from_secs(5), self.served)
            .await
            .expect("serve did not return within 5 s of shutdown")
            .expect("serve panicked");
        assert!(served.is_ok(), "{served:?}");
    }
}
