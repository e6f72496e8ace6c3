//! Why a mesh could not start, and why an admin call failed.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitStatus;
use std::time::Duration;

use tracemesh_runtime::topology::Service;

/// Why [`crate::Mesh::start`] (or the embedded collector) failed.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    #[error("cannot find the tracemesh binary to start the services: {0}")]
    Program(std::io::Error),
    #[error("cannot find a free port on {host}: {source}")]
    NoFreePort {
        host: IpAddr,
        source: std::io::Error,
    },
    #[error(
        "admin ports from {base}: the last of the five would be past 65535 \
         (the base may be at most 65531)"
    )]
    AdminPortBase { base: u16 },
    #[error("cannot start the {service} service: {source}")]
    Spawn {
        service: Service,
        source: std::io::Error,
    },
    #[error("the {service} service exited during start-up ({status}); its log is above")]
    ExitedAtStart {
        service: Service,
        status: ExitStatus,
    },
    #[error("the mesh was not ready within {timeout:?} (still waiting for: {waiting_for})")]
    NotReady {
        timeout: Duration,
        waiting_for: String,
    },
    #[error(
        "cannot start the embedded collector on {grpc_flag} {} / {http_flag} {}: {message} \
         (set OTEL_EXPORTER_OTLP_ENDPOINT to use another collector, or choose free ports)",
        grpc.port(), http.port()
    )]
    Collector {
        grpc_flag: &'static str,
        grpc: SocketAddr,
        http_flag: &'static str,
        http: SocketAddr,
        message: String,
    },
    #[error("cannot create a data directory: {0}")]
    DataDir(std::io::Error),
}

/// Why a call to a service's admin endpoint failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot reach {service}'s admin endpoint {url}: {source}")]
    Unreachable {
        service: Service,
        url: String,
        source: reqwest::Error,
    },
    #[error("{service}'s admin endpoint {url} refused the request ({status}): {body}")]
    Refused {
        service: Service,
        url: String,
        status: reqwest::StatusCode,
        body: String,
    },
    #[error("{service}'s admin endpoint {url} gave an answer that is not its API: {source}")]
    BadAnswer {
        service: Service,
        url: String,
        source: reqwest::Error,
    },
}
