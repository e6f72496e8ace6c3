//! The mesh as containers, for the `containers_*` tests: one container per
//! service on a private Docker network, plus a trace backend container.
//!
//! # Why one container per service
//!
//! This suite checks the mesh the way it runs in production, and there each
//! service is its own process with its own `service.name` (the `tracing`
//! subscriber is process-global, so one process cannot be two services).
//! One container per service also gives what the process-based suite cannot:
//! every hop crosses a real network by DNS name (`http://<mesh>-inventory:50053`),
//! every exporter sends OTLP over that network to a collector container, and
//! a service can be stopped the way an orchestrator stops it (`docker stop`:
//! SIGTERM, then SIGKILL), taking its name off the network with it. (One
//! container running `tracemesh up` would keep the processes apart but put
//! every hop back on loopback, and "inventory is down" would again be a
//! signal inside a container rather than an event the network sees.)
//!
//! # What lives here
//!
//! - [`ContainerMesh::builder`]: choose the [`Backend`] and extra
//!   environment (the sampler), then [`ContainerMeshBuilder::start`] checks
//!   that Docker and the images are there (skipping, or failing under
//!   `TRACEMESH_REQUIRE_IMAGES=1`), starts the backend, then the five
//!   services wired by container name, and waits until the gateway's
//!   `/readyz` says user, order and inventory answer.
//! - [`ContainerMesh`]: the gateway's mapped URL, each service's admin URL
//!   (`0.0.0.0:9000` inside, token-guarded, mapped to a host port), the
//!   backend as a [`TraceSource`], waits for traces that poll that source
//!   (no fixed sleeps), and [`ContainerMesh::stop_service`].
//! - Clean-up: testcontainers removes each container when its handle drops,
//!   and the network when its last container goes; a [`Janitor`] guard then
//!   force-removes anything left with this mesh's name prefix (a container
//!   created but never started, say), even when the test panicked. A panic
//!   also prints the tail of every container's log.
//!
//! # Readiness
//!
//! A service container is started once it logs `service listening` (its
//! listener is bound); the mesh is ready once the gateway's `/readyz`,
//! asked from the host, answers 200, which means the gateway reached user,
//! order and inventory over the network with gRPC health checks. The
//! compose demo uses Docker healthchecks (`tracemesh probe`) instead; here
//! the log line is seen at once, where Docker runs a healthcheck only every
//! interval, and `/readyz` checks more than any one container's probe.
//!
//! # Names
//!
//! Every mesh gets a random prefix, `tracemesh-tc-<8 hex digits>`: the network
//! is called that, and each container `<prefix>-<service>`. Docker's DNS on
//! a user-defined network resolves container names, so the services find
//! each other by those names, and tests running at the same time (cargo runs
//! the tests of one file in parallel) never share a name or a network.

#![allow(dead_code)] // each test file uses a part of this module

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use testcontainers::bollard::Docker;
use testcontainers::bollard::query_parameters::{
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use testcontainers::core::logs::LogFrame;
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ContainerRequest, GenericImage, ImageExt};
use tracemesh_harness::SpanRecord;
use tracemesh_harness::checks::sampling::CompletenessRule;
use tracemesh_harness::sources::{JaegerSource, TempoSource, TraceQuery, TraceSource};
use tracemesh_harness::trace::{Readiness, ReadinessPolicy, wait_polling};
use tracemesh_runtime::topology::{CONTAINER_ADMIN_PORT, Service, ServiceSpec, TOPOLOGY};

/// The image every tracemesh container runs, unless `TRACEMESH_IMAGE` says
/// otherwise (the image contract: `scripts/build-images.sh` builds it).
pub const DEFAULT_IMAGE: &str = "tracemesh:local";

/// Set to `1` (CI does) to turn "image absent, skipped" into a failure.
pub const REQUIRE_IMAGES_VAR: &str = "TRACEMESH_REQUIRE_IMAGES";

/// The public images of the real backends. Their tags are read from the
/// root `docker-compose.yml` when it pins them, so the suite and the demo
/// run the same versions; these are the fallbacks.
pub const OTEL_COLLECTOR: PublicImage = PublicImage {
    repository: "otel/opentelemetry-collector-contrib",
    fallback_tag: "0.147.0",
};
pub const TEMPO: PublicImage = PublicImage {
    repository: "grafana/tempo",
    fallback_tag: "2.9.2",
};
pub const JAEGER: PublicImage = PublicImage {
    repository: "jaegertracing/jaeger",
    fallback_tag: "2.19.0",
};

/// Inside the network every service listens on its default port (the
/// topology table's); the admin endpoint listens on this one in every
/// container.
const ADMIN_PORT: u16 = CONTAINER_ADMIN_PORT;
/// How long one container may take from `docker start` to its ready line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(45);
/// How long the mesh may take from "all started" to the gateway being ready.
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// How long a test waits for one trace before calling it lost.
const TRACE_DEADLINE: Duration = Duration::from_secs(20);
/// Lines of each container's log kept for the panic report.
const LOG_TAIL_LINES: usize = 60;

/// Where the services' spans go, and where the test reads them back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The harness's own collector and store (`tracemesh collector`, same
    /// image), read through its Tempo-compatible query API. Always available
    /// where `tracemesh:local` is.
    Harness,
    /// The OpenTelemetry Collector (contrib) forwarding to Grafana Tempo,
    /// read through Tempo's HTTP API, as in the compose demo.
    CollectorToTempo,
    /// The OpenTelemetry Collector forwarding to Jaeger v2, read through
    /// Jaeger's api_v3.
    CollectorToJaeger,
}

impl Backend {
    /// The public images this backend needs besides `tracemesh:local`.
    fn public_images(self) -> Vec<PublicImage> {
        match self {
            Backend::Harness => Vec::new(),
            Backend::CollectorToTempo => vec![OTEL_COLLECTOR, TEMPO],
            Backend::CollectorToJaeger => vec![OTEL_COLLECTOR, JAEGER],
        }
    }

    /// How long a trace's span count must stay unchanged before it counts as
    /// complete. The services export every 100 ms; a collector in between
    /// batches for another 200 ms, and the store behind it indexes on its
    /// own schedule, so those pipelines get a longer quiet period.
    fn quiet_period(self) -> Duration {
        match self {
            Backend::Harness => Duration::from_millis(600),
            Backend::CollectorToTempo | Backend::CollectorToJaeger => Duration::from_millis(1500),
        }
    }
}

/// A public image, by repository, with the tag the demo pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicImage {
    pub repository: &'static str,
    pub fallback_tag: &'static str,
}

impl PublicImage {
    /// `repository:tag`, the tag as pinned in docker-compose.yml if it is.
    pub fn reference(self) -> String {
        let compose = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker-compose.yml");
        std::fs::read_to_string(compose)
            .ok()
            .and_then(|text| pinned_reference(&text, self.repository))
            .unwrap_or_else(|| format!("{}:{}", self.repository, self.fallback_tag))
    }
}

/// The image reference for `repository` in a compose file's text, e.g.
/// `grafana/tempo:2.10.4` from `image: grafana/tempo:2.10.4` or from
/// `image: ${TEMPO_IMAGE:-grafana/tempo:2.10.4}`. A registry prefix, if the
/// file has one, is kept.
pub fn pinned_reference(compose: &str, repository: &str) -> Option<String> {
    let wanted = format!("{repository}:");
    compose.lines().find_map(|line| {
        let line = line.trim();
        let value = line.strip_prefix("image:")?.trim();
        let value = value.trim_matches(|c| c == '"' || c == '\'');
        // `${VAR:-default}`: the default is what runs when VAR is unset.
        let value = match value.find(":-") {
            Some(at) if value.starts_with("${") => value[at + 2..].trim_end_matches('}'),
            _ => value,
        };
        value.contains(&wanted).then(|| value.to_string())
    })
}

/// `name:tag` split for `GenericImage::new`; a reference without a tag means
/// `latest`, and a colon inside the registry's host:port is not a tag.
pub fn split_reference(reference: &str) -> (String, String) {
    match reference.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name.to_string(), tag.to_string()),
        _ => (reference.to_string(), "latest".to_string()),
    }
}

/// The tracemesh image reference: `TRACEMESH_IMAGE`, or `tracemesh:local`.
pub fn tracemesh_image() -> String {
    std::env::var("TRACEMESH_IMAGE")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_IMAGE.to_string())
}

fn require_images() -> bool {
    std::env::var(REQUIRE_IMAGES_VAR).is_ok_and(|v| v.trim() == "1")
}

/// The verdict on something the test needs but the machine lacks: skip
/// (with the reason on stderr, so `cargo test` output says why the test was
/// quick), or, when CI demands the images, fail.
fn skip_or_fail(reason: &str) {
    if require_images() {
        panic!("{REQUIRE_IMAGES_VAR}=1, but {reason}");
    }
    eprintln!("skipped: {reason}");
}

/// Eight random hex digits, from the standard library's randomly keyed
/// hasher (no `rand` needed for a name).
fn random_suffix() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    format!("{:08x}", hasher.finish() as u32)
}

/// Configures a [`ContainerMesh`]; see [`ContainerMesh::builder`].
#[derive(Debug)]
pub struct ContainerMeshBuilder {
    backend: Backend,
    env: Vec<(String, String)>,
}

impl ContainerMeshBuilder {
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// The OTel sampler of every service, e.g. `parentbased_traceidratio`
    /// with `0.25`.
    pub fn sampler(self, sampler: &str, arg: &str) -> Self {
        self.env("OTEL_TRACES_SAMPLER", sampler)
            .env("OTEL_TRACES_SAMPLER_ARG", arg)
    }

    /// An environment variable for every service container.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Starts the backend and the five services and waits until the gateway
    /// is ready. `None` when the test must skip (the reason is printed):
    /// no Docker, or an image absent. Under `TRACEMESH_REQUIRE_IMAGES=1` a
    /// missing Docker or tracemesh image fails instead; a missing public
    /// image always skips (CI here has no registry to pull it from).
    /// Panics, with the containers' logs, if the mesh does not come up.
    pub async fn start(self) -> Option<ContainerMesh> {
        if !preflight(self.backend).await {
            return None;
        }
        let started = Instant::now();
        let prefix = format!("tracemesh-tc-{}", random_suffix());
        // Declared first, so it is dropped last: it sweeps up after
        // testcontainers' own clean-up, even if this function panics.
        let janitor = Janitor {
            prefix: prefix.clone(),
        };
        let logs = Logs::default();
        let token = format!("tc-{}{}", random_suffix(), random_suffix());

        let backend = start_backend(self.backend, &prefix, &logs).await;
        let results = futures::future::join_all(
            TOPOLOGY
                .iter()
                .map(|spec| start_service(spec, &prefix, &token, &backend, &self.env, &logs)),
        )
        .await;
        let mut services = BTreeMap::new();
        let mut failures = Vec::new();
        for (spec, result) in TOPOLOGY.iter().zip(results) {
            match result {
                Ok(container) => {
                    services.insert(spec.service.name(), container);
                }
                Err(e) => failures.push(format!("{}: {e}", spec.service)),
            }
        }
        assert!(
            failures.is_empty(),
            "services did not start: {failures:#?}\n{}",
            logs.report()
        );

        let gateway_port = Service::Gateway.default_addr().port();
        let gateway = mapped_or_panic(&services["gateway"], "gateway", gateway_port, &logs).await;
        let mut admin = BTreeMap::new();
        for (name, container) in &services {
            let base = mapped_or_panic(container, name, ADMIN_PORT, &logs).await;
            admin.insert(
                *name,
                format!("{base}{}", tracemesh_runtime::admin::paths::FAULTS),
            );
        }

        let mesh = ContainerMesh {
            backend_kind: self.backend,
            prefix,
            token,
            gateway,
            admin,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client"),
            source: backend.source,
            services,
            backend_containers: backend.containers,
            logs,
            janitor,
        };
        mesh.wait_until_ready().await;
        eprintln!(
            "container mesh {} ({:?}) ready in {:.1} s: gateway {}",
            mesh.prefix,
            mesh.backend_kind,
            started.elapsed().as_secs_f64(),
            mesh.gateway
        );
        Some(mesh)
    }
}

/// Is everything this backend needs on this machine? Prints why not.
async fn preflight(backend: Backend) -> bool {
    let docker = match testcontainers::core::client::docker_client_instance().await {
        Ok(docker) => docker,
        Err(e) => {
            skip_or_fail(&format!("no Docker client could be configured: {e}"));
            return false;
        }
    };
    if let Err(e) = docker.ping().await {
        skip_or_fail(&format!("the Docker daemon does not answer: {e}"));
        return false;
    }
    let image = tracemesh_image();
    if let Err(e) = docker.inspect_image(&image).await {
        skip_or_fail(&format!(
            "image {image} is not available ({e}); build it with scripts/build-images.sh"
        ));
        return false;
    }
    let missing: Vec<String> = {
        let mut missing = Vec::new();
        for public in backend.public_images() {
            let reference = public.reference();
            if docker.inspect_image(&reference).await.is_err() {
                missing.push(reference);
            }
        }
        missing
    };
    if !missing.is_empty() {
        // Never a failure: nothing can be pulled on a machine without a
        // registry, and the harness backend runs the same checks there.
        eprintln!(
            "skipped: the {backend:?} backend needs image(s) not present locally: {} \
             (`docker pull` them where a registry is reachable)",
            missing.join(", ")
        );
        return false;
    }
    true
}

/// A container request for `reference`, named and on the mesh's network,
/// its log kept for the panic report.
fn request(
    reference: &str,
    exposed: &[u16],
    ready: WaitFor,
    prefix: &str,
    role: &str,
    logs: &Logs,
) -> ContainerRequest<GenericImage> {
    let (name, tag) = split_reference(reference);
    let mut image = GenericImage::new(name, tag).with_wait_for(ready);
    for &port in exposed {
        // Exposed ports are published on random host ports.
        image = image.with_exposed_port(port.tcp());
    }
    image
        .with_network(prefix)
        .with_container_name(format!("{prefix}-{role}"))
        .with_startup_timeout(STARTUP_TIMEOUT)
        .with_log_consumer(logs.consumer(role))
}

/// The backend's containers, where services send OTLP, and how to read it.
struct RunningBackend {
    containers: Vec<ContainerAsync<GenericImage>>,
    /// OTLP/gRPC, as the services reach it inside the network.
    otlp_endpoint: String,
    source: Box<dyn TraceSource>,
}

async fn start_backend(backend: Backend, prefix: &str, logs: &Logs) -> RunningBackend {
    let fail = |what: &str, e: &dyn std::fmt::Display| -> ! {
        panic!("{what} did not start: {e}\n{}", logs.report())
    };
    match backend {
        Backend::Harness => {
            let collector = request(
                &tracemesh_image(),
                &[4318],
                // Printed once both listeners are bound.
                WaitFor::message_on_stdout("Tempo API:"),
                prefix,
                "collector",
                logs,
            )
            .with_cmd([
                "collector",
                "--host",
                "0.0.0.0",
                "--grpc-port",
                "4317",
                "--http-port",
                "4318",
            ])
            .start()
            .await
            .unwrap_or_else(|e| fail("the harness collector", &e));
            let query = mapped_url(&collector, 4318)
                .await
                .unwrap_or_else(|e| fail("the harness collector", &e));
            RunningBackend {
                containers: vec![collector],
                otlp_endpoint: format!("http://{prefix}-collector:4317"),
                source: Box::new(TempoSource::new(query)),
            }
        }
        Backend::CollectorToTempo => {
            let tempo = request(
                &TEMPO.reference(),
                &[3200],
                WaitFor::Nothing,
                prefix,
                "tempo",
                logs,
            )
            .with_copy_to("/etc/tempo-test.yaml", TEMPO_CONFIG.as_bytes().to_vec())
            .with_cmd(["-config.file=/etc/tempo-test.yaml"])
            .start()
            .await
            .unwrap_or_else(|e| fail("tempo", &e));
            let query = mapped_url(&tempo, 3200)
                .await
                .unwrap_or_else(|e| fail("tempo", &e));
            // Tempo's /ready turns 200 once its ingester has joined the ring.
            wait_http_ok(&format!("{query}/ready"), STARTUP_TIMEOUT)
                .await
                .unwrap_or_else(|e| fail("tempo", &e));
            let collector = start_otel_collector(prefix, "tempo", logs)
                .await
                .unwrap_or_else(|e| fail("the OpenTelemetry collector", &e));
            RunningBackend {
                containers: vec![tempo, collector],
                otlp_endpoint: format!("http://{prefix}-otel-collector:4317"),
                source: Box::new(TempoSource::new(query)),
            }
        }
        Backend::CollectorToJaeger => {
            let jaeger = request(
                &JAEGER.reference(),
                &[16686],
                // Jaeger v2 is a collector build: it logs the same line.
                WaitFor::message_on_either_std("Everything is ready"),
                prefix,
                "jaeger",
                logs,
            )
            // The all-in-one configuration binds its receivers to this host;
            // the image sets 0.0.0.0 already, say it anyway.
            .with_env_var("JAEGER_LISTEN_HOST", "0.0.0.0")
            .start()
            .await
            .unwrap_or_else(|e| fail("jaeger", &e));
            let query = mapped_url(&jaeger, 16686)
                .await
                .unwrap_or_else(|e| fail("jaeger", &e));
            wait_http_ok(&format!("{query}/api/v3/services"), STARTUP_TIMEOUT)
                .await
                .unwrap_or_else(|e| fail("jaeger", &e));
            let collector = start_otel_collector(prefix, "jaeger", logs)
                .await
                .unwrap_or_else(|e| fail("the OpenTelemetry collector", &e));
            RunningBackend {
                containers: vec![jaeger, collector],
                otlp_endpoint: format!("http://{prefix}-otel-collector:4317"),
                source: Box::new(JaegerSource::new(query)),
            }
        }
    }
}

/// The OpenTelemetry Collector, exporting everything to `<prefix>-<store>:4317`.
async fn start_otel_collector(
    prefix: &str,
    store: &str,
    logs: &Logs,
) -> testcontainers::core::error::Result<ContainerAsync<GenericImage>> {
    let config = OTEL_COLLECTOR_CONFIG.replace("STORE_ENDPOINT", &format!("{prefix}-{store}:4317"));
    request(
        &OTEL_COLLECTOR.reference(),
        &[],
        WaitFor::message_on_either_std("Everything is ready"),
        prefix,
        "otel-collector",
        logs,
    )
    .with_copy_to("/etc/otelcol-contrib/config.yaml", config.into_bytes())
    // The image's default command, said explicitly as the compose file does.
    .with_cmd(["--config=/etc/otelcol-contrib/config.yaml"])
    .start()
    .await
}

/// The collector of the real-backend variants: OTLP in (gRPC and HTTP),
/// memory_limiter then batch (as the compose demo's otel-collector.yaml),
/// OTLP/gRPC out to one store. The exporter is `otlp_grpc`, its name since
/// collector 0.144 (the compose file pins 0.147); before, it was `otlp`.
const OTEL_COLLECTOR_CONFIG: &str = r#"
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "0.0.0.0:4317"}
      http: {endpoint: "0.0.0.0:4318"}
processors:
  memory_limiter: {check_interval: 1s, limit_mib: 256}
  # Short: the test waits for its traces.
  batch: {timeout: 200ms}
exporters:
  otlp_grpc/store:
    endpoint: "STORE_ENDPOINT"
    tls: {insecure: true}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [otlp_grpc/store]
"#;

/// Tempo 2.9 (the compose file's tag) as a single binary for one test: the
/// demo's tempo.yaml, trimmed: OTLP/gRPC from the collector on all
/// interfaces (Tempo's default is localhost), recent traces served from the
/// ingester, local storage under /tmp (writable by Tempo's non-root user
/// without the demo's volume), no usage report sent anywhere.
const TEMPO_CONFIG: &str = r#"
server:
  http_listen_port: 3200
  log_level: warn
usage_report:
  reporting_enabled: false
distributor:
  receivers:
    otlp:
      protocols:
        grpc:
          endpoint: "0.0.0.0:4317"
ingester:
  max_block_duration: 5m
storage:
  trace:
    backend: local
    wal:
      path: /tmp/tempo/wal
    local:
      path: /tmp/tempo/blocks
"#;

async fn start_service(
    spec: &ServiceSpec,
    prefix: &str,
    token: &str,
    backend: &RunningBackend,
    extra_env: &[(String, String)],
    logs: &Logs,
) -> testcontainers::core::error::Result<ContainerAsync<GenericImage>> {
    let name = spec.service.name();
    let port = spec.default_addr.port();
    let mut cmd = vec![
        "service".to_string(),
        name.to_string(),
        "--listen".to_string(),
        format!("0.0.0.0:{port}"),
    ];
    // Wired by the topology table: each callee by its flag and its
    // container's name on the network.
    for callee in spec.callees {
        cmd.push(callee.flag.to_string());
        cmd.push(format!(
            "http://{prefix}-{}:{}",
            callee.service,
            callee.service.default_addr().port()
        ));
    }
    let exposed: &[u16] = if spec.service == Service::Gateway {
        &[port, ADMIN_PORT]
    } else {
        &[ADMIN_PORT]
    };
    let mut container = request(
        &tracemesh_image(),
        exposed,
        // Logged once the service's listener is bound.
        WaitFor::message_on_either_std("service listening"),
        prefix,
        name,
        logs,
    )
    .with_cmd(cmd)
    .with_env_var("OTEL_EXPORTER_OTLP_ENDPOINT", &backend.otlp_endpoint)
    .with_env_var("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    // Export often, so tests wait less for spans.
    .with_env_var("OTEL_BSP_SCHEDULE_DELAY", "100")
    .with_env_var("TRACEMESH_LOG_FORMAT", "json")
    .with_env_var("RUST_LOG", "info")
    // Off loopback the admin endpoint refuses to start without a token.
    .with_env_var("TRACEMESH_ADMIN_LISTEN", format!("0.0.0.0:{ADMIN_PORT}"))
    .with_env_var("TRACEMESH_ADMIN_TOKEN", token);
    for (key, value) in extra_env {
        container = container.with_env_var(key, value);
    }
    container.start().await
}

/// `http://host:port` of the host port Docker mapped to `port`. Fails when
/// the container is no longer running (a stopped container maps nothing).
async fn mapped_url(container: &ContainerAsync<GenericImage>, port: u16) -> Result<String, String> {
    let host = container.get_host().await.map_err(|e| e.to_string())?;
    let port = container
        .get_host_port_ipv4(port.tcp())
        .await
        .map_err(|e| format!("port {port} is not mapped (has the container exited?): {e}"))?;
    Ok(format!("http://{host}:{port}"))
}

/// [`mapped_url`] of a service, or a panic with every container's log.
async fn mapped_or_panic(
    container: &ContainerAsync<GenericImage>,
    name: &str,
    port: u16,
    logs: &Logs,
) -> String {
    mapped_url(container, port)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}\n{}", logs.report()))
}

/// Polls `url` until it answers 2xx, up to `deadline`; the last failure
/// otherwise.
async fn wait_http_ok(url: &str, deadline: Duration) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| e.to_string())?;
    let until = Instant::now() + deadline;
    loop {
        let last = match client.get(url).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => format!(
                "HTTP {}: {}",
                r.status(),
                r.text().await.unwrap_or_default()
            ),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= until {
            return Err(format!("{url} not ready after {deadline:?}: {last}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The running mesh. Dropping it removes every container and the network.
pub struct ContainerMesh {
    backend_kind: Backend,
    prefix: String,
    token: String,
    /// `http://host:port` of the gateway, mapped to the Docker host.
    pub gateway: String,
    admin: BTreeMap<&'static str, String>,
    /// A client with a timeout, so no request can hang a test.
    pub http: reqwest::Client,
    source: Box<dyn TraceSource>,
    services: BTreeMap<&'static str, ContainerAsync<GenericImage>>,
    backend_containers: Vec<ContainerAsync<GenericImage>>,
    logs: Logs,
    // Last field: dropped after the containers (fields drop in order).
    janitor: Janitor,
}

impl std::fmt::Debug for ContainerMesh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerMesh")
            .field("prefix", &self.prefix)
            .field("backend", &self.backend_kind)
            .field("gateway", &self.gateway)
            .field("admin", &self.admin)
            .finish_non_exhaustive()
    }
}

impl ContainerMesh {
    /// A mesh on the harness backend with the SDK's default sampler.
    pub fn builder() -> ContainerMeshBuilder {
        ContainerMeshBuilder {
            backend: Backend::Harness,
            env: Vec::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway)
    }

    /// The backend the spans went to.
    pub fn source(&self) -> &dyn TraceSource {
        self.source.as_ref()
    }

    /// `http://host:port/admin/faults` of `service`.
    pub fn admin_url(&self, service: &str) -> &str {
        self.admin
            .get(service)
            .unwrap_or_else(|| panic!("no service {service:?}"))
    }

    /// Replaces `service`'s faults through its admin endpoint (YAML or JSON).
    pub async fn set_faults(&self, service: &str, body: &str) {
        let response = self
            .http
            .put(self.admin_url(service))
            .bearer_auth(&self.token)
            .body(body.to_owned())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{service}'s admin endpoint: {e}"));
        let status = response.status();
        assert_eq!(
            status,
            200,
            "PUT {} answered {status}: {}",
            self.admin_url(service),
            response.text().await.unwrap_or_default()
        );
    }

    /// Clears `service`'s faults through its admin endpoint.
    pub async fn clear_faults(&self, service: &str) {
        let response = self
            .http
            .delete(self.admin_url(service))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{service}'s admin endpoint: {e}"));
        assert!(
            response.status().is_success(),
            "DELETE {} answered {}",
            self.admin_url(service),
            response.status()
        );
    }

    /// `docker stop` on `service`'s container (SIGTERM, SIGKILL after 10 s)
    /// and returns how long it took. The container stays until the mesh is
    /// dropped, so its log is still there for a failure report.
    pub async fn stop_service(&self, service: &str) -> Duration {
        let started = Instant::now();
        self.services
            .get(service)
            .unwrap_or_else(|| panic!("no service {service:?}"))
            .stop_with_timeout(Some(10))
            .await
            .unwrap_or_else(|e| panic!("docker stop {service}: {e}"));
        started.elapsed()
    }

    /// Whether `service`'s container is running.
    pub async fn is_running(&self, service: &str) -> bool {
        self.services[service].is_running().await.unwrap_or(false)
    }

    /// Waits until the gateway's `/readyz` answers 200: user, order and
    /// inventory all answer their gRPC health checks through the network.
    /// A service that exited on its own (a bad flag, a missing file in the
    /// image) fails the wait at once, with its log, instead of at the deadline.
    async fn wait_until_ready(&self) {
        let until = Instant::now() + READY_DEADLINE;
        loop {
            let last = match self.http.get(self.url("/readyz")).send().await {
                Ok(r) if r.status().is_success() => return,
                Ok(r) => format!(
                    "HTTP {}: {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                ),
                Err(e) => e.to_string(),
            };
            for name in self.services.keys() {
                assert!(
                    self.is_running(name).await,
                    "the {name} container exited while the mesh was starting\n{}",
                    self.logs.report()
                );
            }
            assert!(
                Instant::now() < until,
                "the mesh did not become ready within {READY_DEADLINE:?}: /readyz says {last}\n{}",
                self.logs.report()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The readiness policy for one trace read from this backend.
    fn trace_policy(&self) -> ReadinessPolicy {
        ReadinessPolicy {
            expected_spans: None,
            quiet: self.backend_kind.quiet_period(),
            deadline: TRACE_DEADLINE,
        }
    }

    /// Polls the backend until the trace's span count has been stable for
    /// the backend's quiet period, and returns its spans. Panics if no span
    /// of it arrived before the deadline.
    pub async fn ready_trace(&self, trace_id: &str) -> Vec<SpanRecord> {
        let readiness = wait_polling(
            || self.span_count(trace_id),
            &self.trace_policy(),
            Duration::from_millis(100),
        )
        .await;
        assert!(
            !matches!(readiness, Readiness::TimedOut { spans: 0 }),
            "no span of trace {trace_id} reached {} within {TRACE_DEADLINE:?}",
            self.source.describe()
        );
        self.source
            .trace(trace_id)
            .await
            .unwrap_or_else(|e| panic!("reading trace {trace_id}: {e}"))
            .unwrap_or_default()
    }

    /// [`ContainerMesh::ready_trace`] for many traces, waited for together
    /// (a few at a time) rather than one quiet period after another.
    pub async fn ready_traces(&self, trace_ids: &[String]) -> Vec<Vec<SpanRecord>> {
        futures::stream::iter(trace_ids)
            .map(|id| self.ready_trace(id))
            .buffered(8)
            .collect()
            .await
    }

    /// Spans of `trace_id` in the backend now; a backend error counts as 0,
    /// as `wait_polling` asks.
    async fn span_count(&self, trace_id: &str) -> usize {
        match self.source.trace(trace_id).await {
            Ok(Some(spans)) => spans.len(),
            _ => 0,
        }
    }

    /// Waits until every trace in `trace_ids` is complete by `rule`, polling
    /// the backend, up to `deadline`. Returns the ids still incomplete then
    /// (the check that follows says what they lack).
    pub async fn wait_until_complete(
        &self,
        trace_ids: &[String],
        rule: &dyn CompletenessRule,
        deadline: Duration,
    ) -> Vec<String> {
        let until = Instant::now() + deadline;
        let mut pending: Vec<String> = trace_ids.to_vec();
        loop {
            let still: Vec<Option<String>> = futures::stream::iter(&pending)
                .map(|id| async move {
                    match self.source.trace(id).await {
                        Ok(Some(spans)) if rule.missing(&spans).is_none() => None,
                        _ => Some(id.clone()),
                    }
                })
                .buffer_unordered(8)
                .collect()
                .await;
            pending = still.into_iter().flatten().collect();
            if pending.is_empty() || Instant::now() >= until {
                return pending;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the number of traces the backend holds for `services`
    /// has not changed for the quiet period: every exporter has flushed what
    /// it held, including spans that should never have been sent.
    pub async fn wait_for_quiet(&self, services: &[&str]) -> Readiness {
        let count = || async {
            let mut total = 0;
            for service in services {
                let query = TraceQuery::service(*service).limit(100_000);
                total += self.source.find(&query).await.map_or(0, |hits| hits.len());
            }
            total
        };
        let policy = ReadinessPolicy {
            expected_spans: None,
            quiet: self.backend_kind.quiet_period() * 2,
            deadline: TRACE_DEADLINE,
        };
        wait_polling(count, &policy, Duration::from_millis(200)).await
    }
}

impl Drop for ContainerMesh {
    fn drop(&mut self) {
        // The containers go with the fields; before that, a failing test
        // gets to see what the services said.
        if std::thread::panicking() {
            eprintln!(
                "container mesh {} at failure:\n{}",
                self.prefix,
                self.logs.report()
            );
        }
    }
}

/// The last lines of each container's output, by role.
#[derive(Debug, Clone, Default)]
struct Logs(Arc<Mutex<BTreeMap<String, VecDeque<String>>>>);

impl Logs {
    /// A testcontainers log consumer that keeps `role`'s last lines.
    fn consumer(&self, role: &str) -> impl Fn(&LogFrame) + Send + Sync + 'static {
        let logs = self.0.clone();
        let role = role.to_string();
        move |frame: &LogFrame| {
            let text = String::from_utf8_lossy(frame.bytes());
            let mut logs = logs.lock().unwrap_or_else(|e| e.into_inner());
            let tail = logs.entry(role.clone()).or_default();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                if tail.len() == LOG_TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line.to_string());
            }
        }
    }

    fn report(&self) -> String {
        let logs = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        for (role, lines) in logs.iter() {
            out.push_str(&format!("--- {role} (last {} lines)\n", lines.len()));
            for line in lines {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

/// Removes whatever is left of a mesh: containers named `<prefix>-*` and the
/// network `<prefix>`. testcontainers removes what it started; this catches
/// what it cannot (a container created but failing to start) and makes
/// "nothing left behind" hold even when a test panics midway.
struct Janitor {
    prefix: String,
}

impl Drop for Janitor {
    fn drop(&mut self) {
        let prefix = self.prefix.clone();
        // Drop cannot await, and the test's runtime may be shutting down or
        // be single-threaded: do the clean-up on a thread of its own, with
        // its own small runtime and Docker client, and wait for it.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the clean-up");
            runtime.block_on(sweep(&prefix));
        });
        if cleanup.join().is_err() {
            eprintln!("clean-up of {} panicked", self.prefix);
        }
    }
}

async fn sweep(prefix: &str) {
    let Ok(docker) = Docker::connect_with_defaults() else {
        return;
    };
    let filters = HashMap::from([("name", vec![format!("{prefix}-")])]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let leftovers = docker
        .list_containers(Some(options))
        .await
        .unwrap_or_default();
    for container in leftovers {
        let Some(id) = container.id else { continue };
        eprintln!("removing leftover container {id} of {prefix}");
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        let _ = docker.remove_container(&id, Some(options)).await;
    }
    // Gone already when testcontainers removed it with its last container.
    if docker.inspect_network(prefix, None).await.is_ok() {
        eprintln!("removing leftover network {prefix}");
        let _ = docker.remove_network(prefix).await;
    }
}
