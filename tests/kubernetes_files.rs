//! Static checks of the Kubernetes deployment (deploy/); no cluster is used.
//!
//! deploy/kubernetes/ runs the same mesh as docker-compose.yml, from the same
//! image, and deploy/tempo-distributed/values.yaml names the Services the
//! collector, Grafana and the load Job reach. A port, a variable or a probe
//! changed in one place and not the others gives pods that start and spans
//! that silently go nowhere. Two kinds of check:
//!
//! - the schema: `kubernetes-validate --strict` (PyPI, pinned to
//!   [`VALIDATOR_VERSION`]) accepts every manifest for Kubernetes
//!   [`KUBERNETES_VERSION`], with no warning (an unknown apiVersion is only a
//!   warning to it). Skipped, saying why, when the validator is absent,
//!   unless `TRACEMESH_REQUIRE_KUBE_VALIDATE=1` (CI) makes that a failure;
//! - agreement, each reporting every disagreement as one line naming both
//!   sides:
//!   - the five services run, listen and are wired to their callees as the
//!     topology table (`tracemesh_runtime::topology`) and the compose file
//!     say, and their Services expose those ports;
//!   - each service's OTEL_* and TRACEMESH_* variables are the compose
//!     service's, with the same values where the value is not an address,
//!     and the OTLP endpoint is the collector Service's gRPC port;
//!   - every tracemesh container runs the image scripts/build-images.sh
//!     builds without pulling it; the collector and Tempo run compose's
//!     versions;
//!   - the probes run `tracemesh probe` on the URL of the compose
//!     healthcheck, on a port the container listens on;
//!   - the collector receives where the services send and exports to the
//!     Tempo distributor the values file enables;
//!   - the load Job is sharded consistently (index from the Job, N in
//!     TRACEMESH_SHARD = completions = the merge Job's directories, reports
//!     on a shared volume), reaches Services that exist, and is told the
//!     mesh's sampler ratio;
//!   - Grafana's data sources name Services and ports that exist, and every
//!     uid they reference is provisioned;
//!   - every object is in the one namespace, where the short names resolve;
//!   - every pod has CPU and memory requests and limits, requests within
//!     limits; each PodDisruptionBudget selects a replicated Deployment and
//!     leaves a pod to evict.
//!
//! Each check is also run on a copy of the files with one planted mismatch,
//! and must report it: a check that cannot fail proves nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_yaml::{Mapping, Value};
use tracemesh_runtime::topology::{CONTAINER_ADMIN_PORT, TOPOLOGY};

/// The validator CI installs (`pip install kubernetes-validate==1.35.0`).
const VALIDATOR_VERSION: &str = "1.35.0";

/// The Kubernetes version the manifests are written for and checked against.
const KUBERNETES_VERSION: &str = "1.35.0";

/// The manifests, in the order README.md applies them.
const MANIFESTS: &[&str] = &[
    "deploy/kubernetes/namespace.yaml",
    "deploy/kubernetes/config.yaml",
    "deploy/kubernetes/services.yaml",
    "deploy/kubernetes/disruption-budgets.yaml",
    "deploy/kubernetes/otel-collector.yaml",
    "deploy/kubernetes/grafana-datasources.yaml",
    "deploy/kubernetes/load-job.yaml",
    "deploy/kubernetes/report-merge-job.yaml",
];

const VALUES: &str = "deploy/tempo-distributed/values.yaml";
const COMPOSE: &str = "docker-compose.yml";
const BUILD_SCRIPT: &str = "scripts/build-images.sh";

/// The Helm release name of Tempo (deploy/tempo-distributed/values.yaml):
/// the chart names its Services `<release>-<component>`.
const TEMPO_RELEASE: &str = "tempo";

/// Services of charts this repository does not hold, which the manifests
/// reach by name: the prometheus-community/prometheus chart (release
/// `prometheus`) and the grafana/loki chart (release `loki`), both on port 80.
const OTHER_CHARTS: &[(&str, u16)] = &[("prometheus-server", 80), ("loki-gateway", 80)];

/// The namespace every object lives in: pods reach each other, and the
/// Tempo chart's Services, by short names, which resolve in their own
/// namespace only.
const NAMESPACE: &str = "tracemesh";

/// The collector's Service and Deployment name.
const COLLECTOR: &str = "otel-collector";

/// The sharded load Job and the Job that merges its reports.
const LOAD_JOB: &str = "tracemesh-load";
const MERGE_JOB: &str = "tracemesh-report-merge";

/// The annotation the Job controller sets to a pod's index.
const COMPLETION_INDEX: &str = "metadata.annotations['batch.kubernetes.io/job-completion-index']";

// ---------------------------------------------------------------------------
// The files, as text (so a test can plant a mismatch) and parsed.

#[derive(Clone)]
struct Texts {
    files: BTreeMap<&'static str, String>,
}

impl Texts {
    fn real() -> Texts {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let files = MANIFESTS
            .iter()
            .chain(&[VALUES, COMPOSE, BUILD_SCRIPT])
            .map(|name| {
                let text = std::fs::read_to_string(root.join(name))
                    .unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
                (*name, text)
            })
            .collect();
        Texts { files }
    }

    /// A copy with `from` replaced by `to` in `file`; panics if `from` is
    /// absent, so a planted mismatch cannot silently plant nothing.
    fn planting(&self, file: &str, from: &str, to: &str) -> Texts {
        let mut copy = self.clone();
        let text = copy.files.get_mut(file).expect("a known file");
        assert!(
            text.contains(from),
            "{file} no longer contains {from:?}: update the planted mismatch"
        );
        *text = text.replacen(from, to, 1);
        copy
    }

    fn text(&self, file: &str) -> &str {
        &self.files[file]
    }
}

/// One Kubernetes object of a manifest.
struct Object {
    file: &'static str,
    kind: String,
    name: String,
    body: Value,
}

/// Everything parsed: the objects, the Tempo values, the compose file.
struct Setup {
    objects: Vec<Object>,
    values: Value,
    compose: Value,
    /// The tag build-images.sh gives the image.
    built_image: String,
}

impl Setup {
    fn parse(texts: &Texts) -> Setup {
        let mut objects = Vec::new();
        for file in MANIFESTS {
            // `---` on a line of its own separates documents; the embedded
            // configuration files hold none.
            for document in texts.text(file).split("\n---\n") {
                let body: Value = serde_yaml::from_str(document)
                    .unwrap_or_else(|e| panic!("{file} is not valid YAML: {e}"));
                if body.is_null() {
                    continue;
                }
                let kind = at(&body, "kind").and_then(scalar).unwrap_or_default();
                let name = at(&body, "metadata.name")
                    .and_then(scalar)
                    .unwrap_or_default();
                objects.push(Object {
                    file,
                    kind,
                    name,
                    body,
                });
            }
        }
        let mut compose: Value = serde_yaml::from_str(texts.text(COMPOSE))
            .unwrap_or_else(|e| panic!("{COMPOSE} is not valid YAML: {e}"));
        compose
            .apply_merge()
            .unwrap_or_else(|e| panic!("{COMPOSE}: merge keys: {e}"));
        let built_image = texts
            .text(BUILD_SCRIPT)
            .lines()
            .find_map(|line| {
                let value = line.trim().strip_prefix("image=\"")?.strip_suffix('"')?;
                interpolation_default(value).map(str::to_owned)
            })
            .unwrap_or_default();
        Setup {
            objects,
            values: serde_yaml::from_str(texts.text(VALUES))
                .unwrap_or_else(|e| panic!("{VALUES} is not valid YAML: {e}")),
            compose,
            built_image,
        }
    }

    fn object(&self, kind: &str, name: &str) -> Option<&Object> {
        self.objects
            .iter()
            .find(|o| o.kind == kind && o.name == name)
    }

    fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Object> {
        self.objects.iter().filter(move |o| o.kind == kind)
    }

    fn compose_service(&self, name: &str) -> Option<&Mapping> {
        self.compose.get("services")?.get(name)?.as_mapping()
    }

    /// Every Service a pod can reach by name, with the ports it serves: the
    /// manifests' own, the Tempo chart's (from the values file) and the
    /// other charts'.
    fn reachable(&self) -> BTreeMap<String, BTreeSet<u16>> {
        let mut services: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
        for service in self.of_kind("Service") {
            let ports = at(&service.body, "spec.ports")
                .map(seq)
                .unwrap_or_default()
                .iter()
                .filter_map(|p| p.get("port").and_then(Value::as_u64))
                .filter_map(|p| u16::try_from(p).ok())
                .collect();
            services.insert(service.name.clone(), ports);
        }
        let http = tempo_http_port(&self.values);
        let mut distributor = BTreeSet::from([http, 9095]);
        for (protocol, port) in [("grpc", 4317), ("http", 4318)] {
            let path = format!("traces.otlp.{protocol}.enabled");
            if at(&self.values, &path).and_then(Value::as_bool) == Some(true) {
                distributor.insert(port);
            }
        }
        services.insert(format!("{TEMPO_RELEASE}-distributor"), distributor);
        services.insert(
            format!("{TEMPO_RELEASE}-query-frontend"),
            BTreeSet::from([http, 9095]),
        );
        for (name, port) in OTHER_CHARTS {
            services.insert((*name).to_owned(), BTreeSet::from([*port]));
        }
        services
    }
}

/// Tempo's HTTP port in the chart: `server.httpListenPort`, 3200 unless set.
fn tempo_http_port(values: &Value) -> u16 {
    at(values, "server.httpListenPort")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(3200)
}

// ---------------------------------------------------------------------------
// Reading YAML.

/// Follows a dotted path of mapping keys.
fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn seq(value: &Value) -> Vec<Value> {
    value.as_sequence().cloned().unwrap_or_default()
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Sequence(items) => items.iter().filter_map(scalar).collect(),
        other => scalar(other).into_iter().collect(),
    }
}

/// The default of `${NAME:-default}`.
fn interpolation_default(value: &str) -> Option<&str> {
    value
        .strip_prefix("${")?
        .strip_suffix('}')?
        .split_once(":-")
        .map(|(_, default)| default)
}

/// `(host, port)` of `scheme://host:port/path`, `host:port` or `svc=URL`.
fn host_port(raw: &str) -> Option<(String, u16)> {
    let raw = match raw.split_once('=') {
        Some((service, url)) if !service.contains("://") => url,
        _ => raw,
    };
    let rest = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    Some((host.to_owned(), port.parse().ok()?))
}

/// The value after `flag` in `args`.
fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// A URL must name a Service a pod can reach, on a port it serves.
fn reaches(
    reachable: &BTreeMap<String, BTreeSet<u16>>,
    what: &str,
    url: &str,
    problems: &mut Vec<String>,
) {
    match host_port(url) {
        None => problems.push(format!("{what}: {url:?} has no host:port")),
        Some((host, port)) => match reachable.get(&host) {
            None => problems.push(format!(
                "{what}: {url} names {host:?}, which is no Service of the manifests or charts ({})",
                reachable.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
            Some(ports) if !ports.contains(&port) => problems.push(format!(
                "{what}: {url} uses port {port}, but Service {host} serves {ports:?}"
            )),
            Some(_) => {}
        },
    }
}

/// The pod template's spec of a Deployment or Job.
fn pod_spec(object: &Object) -> Option<&Value> {
    at(&object.body, "spec.template.spec")
}

/// The containers of a workload.
fn containers(object: &Object) -> Vec<Value> {
    pod_spec(object)
        .and_then(|s| s.get("containers"))
        .map(seq)
        .unwrap_or_default()
}

/// The first container of a workload (every workload here has one).
fn container(object: &Object) -> Value {
    containers(object).into_iter().next().unwrap_or(Value::Null)
}

fn args(container: &Value) -> Vec<String> {
    container.get("args").map(strings).unwrap_or_default()
}

/// Where an environment variable's value comes from.
#[derive(Debug, Clone, PartialEq)]
enum EnvSource {
    Literal(String),
    ConfigMap { name: String, key: String },
    Secret { name: String, key: String },
    Field(String),
}

/// A container's environment: `envFrom` ConfigMaps (each key a variable)
/// then `env`, which overrides.
fn container_env(setup: &Setup, container: &Value) -> BTreeMap<String, EnvSource> {
    let mut env = BTreeMap::new();
    for from in container.get("envFrom").map(seq).unwrap_or_default() {
        let Some(name) = at(&from, "configMapRef.name").and_then(scalar) else {
            continue;
        };
        let data = setup
            .object("ConfigMap", &name)
            .and_then(|c| c.body.get("data"))
            .and_then(Value::as_mapping)
            .cloned()
            .unwrap_or_default();
        for key in data.keys().filter_map(scalar) {
            let source = EnvSource::ConfigMap {
                name: name.clone(),
                key: key.clone(),
            };
            env.insert(key, source);
        }
    }
    for var in container.get("env").map(seq).unwrap_or_default() {
        let Some(name) = var.get("name").and_then(scalar) else {
            continue;
        };
        let source = if let Some(value) = var.get("value").and_then(scalar) {
            EnvSource::Literal(value)
        } else if let Some(r) = at(&var, "valueFrom.configMapKeyRef") {
            EnvSource::ConfigMap {
                name: r.get("name").and_then(scalar).unwrap_or_default(),
                key: r.get("key").and_then(scalar).unwrap_or_default(),
            }
        } else if let Some(r) = at(&var, "valueFrom.secretKeyRef") {
            EnvSource::Secret {
                name: r.get("name").and_then(scalar).unwrap_or_default(),
                key: r.get("key").and_then(scalar).unwrap_or_default(),
            }
        } else {
            EnvSource::Field(
                at(&var, "valueFrom.fieldRef.fieldPath")
                    .and_then(scalar)
                    .unwrap_or_default(),
            )
        };
        env.insert(name, source);
    }
    env
}

/// The value a variable gets, looking up ConfigMap and Secret keys.
fn resolve(setup: &Setup, source: &EnvSource) -> Option<String> {
    match source {
        EnvSource::Literal(value) => Some(value.clone()),
        EnvSource::ConfigMap { name, key } => setup
            .object("ConfigMap", name)
            .and_then(|c| at(&c.body, "data")?.get(key.as_str()))
            .and_then(scalar),
        EnvSource::Secret { name, key } => setup
            .object("Secret", name)
            .and_then(|s| at(&s.body, "stringData")?.get(key.as_str()))
            .and_then(scalar),
        EnvSource::Field(_) => None,
    }
}

/// The variables of ours: OTEL_* (the SDK's) and TRACEMESH_*.
fn ours(name: &str) -> bool {
    name.starts_with("OTEL_") || name.starts_with("TRACEMESH_")
}

/// A compose service's environment (mapping form, as compose writes it).
fn compose_env(service: &Mapping) -> BTreeMap<String, String> {
    service
        .get("environment")
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((scalar(k)?, scalar(v)?)))
        .collect()
}

/// Container port numbers by name.
fn container_ports(container: &Value) -> BTreeMap<String, u16> {
    container
        .get("ports")
        .map(seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| {
            let port = u16::try_from(p.get("containerPort")?.as_u64()?).ok()?;
            Some((p.get("name").and_then(scalar).unwrap_or_default(), port))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The agreement checks. Each returns every problem found, one line each.

/// Each service of the topology is a Deployment running `service <name>`
/// with the compose service's exact arguments (listen address, callee
/// flags and URLs), on the topology's port, its admin endpoint on the
/// container admin port; its Service exposes both, to named container
/// ports; each callee URL reaches a Service on a port it serves.
fn services_follow_the_topology(setup: &Setup) -> Vec<String> {
    let mut problems = Vec::new();
    let reachable = setup.reachable();
    for spec in &TOPOLOGY {
        let name = spec.service.name();
        let Some(deployment) = setup.object("Deployment", name) else {
            problems.push(format!("the topology's {name} has no Deployment"));
            continue;
        };
        let container = container(deployment);
        let args = args(&container);
        let compose_args = setup
            .compose_service(name)
            .and_then(|s| s.get("command"))
            .map(strings)
            .unwrap_or_default();
        if args != compose_args {
            problems.push(format!(
                "Deployment {name} runs {args:?}, but compose service {name} runs {compose_args:?}"
            ));
        }
        let port = spec.default_addr.port();
        let listen = flag(&args, "--listen").and_then(host_port);
        if listen != Some(("0.0.0.0".to_owned(), port)) {
            problems.push(format!(
                "Deployment {name} listens on {listen:?}; the topology says 0.0.0.0:{port}"
            ));
        }
        for callee in spec.callees {
            let want = format!(
                "http://{}:{}",
                callee.service,
                callee.service.default_addr().port()
            );
            if flag(&args, callee.flag) != Some(want.as_str()) {
                problems.push(format!(
                    "Deployment {name} is not wired to {} as the topology says ({} {want})",
                    callee.service, callee.flag
                ));
            }
        }
        for arg in args.iter().filter(|a| a.contains("://")) {
            reaches(
                &reachable,
                &format!("Deployment {name} argument"),
                arg,
                &mut problems,
            );
        }
        let declared = container_ports(&container);
        let Some(service) = setup.object("Service", name) else {
            problems.push(format!("Deployment {name} has no Service named {name}"));
            continue;
        };
        let exposed: BTreeMap<u16, String> = at(&service.body, "spec.ports")
            .map(seq)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| {
                let port = u16::try_from(p.get("port")?.as_u64()?).ok()?;
                Some((port, p.get("targetPort").and_then(scalar)?))
            })
            .collect();
        for wanted in [port, CONTAINER_ADMIN_PORT] {
            match exposed.get(&wanted) {
                None => problems.push(format!(
                    "Service {name} does not expose port {wanted} (it exposes {:?})",
                    exposed.keys().collect::<Vec<_>>()
                )),
                Some(target) => {
                    let resolved = declared
                        .get(target)
                        .copied()
                        .or_else(|| target.parse().ok());
                    if resolved != Some(wanted) {
                        problems.push(format!(
                            "Service {name} port {wanted} targets {target:?}, which is container port {resolved:?}"
                        ));
                    }
                }
            }
        }
        let selector = at(&service.body, "spec.selector")
            .and_then(Value::as_mapping)
            .cloned()
            .unwrap_or_default();
        let labels = at(&deployment.body, "spec.template.metadata.labels")
            .and_then(Value::as_mapping)
            .cloned()
            .unwrap_or_default();
        if selector.is_empty() || selector.iter().any(|(k, v)| labels.get(k) != Some(v)) {
            problems.push(format!(
                "Service {name}'s selector {selector:?} does not select Deployment {name}'s pods"
            ));
        }
    }
    problems
}

/// Variables whose value names a place (an address or an environment):
/// compared by name only, the rest by value as well.
const PLACE_DEPENDENT: &[&str] = &["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_RESOURCE_ATTRIBUTES"];

/// Each service has the compose service's OTEL_* and TRACEMESH_* variables,
/// no more and no fewer, with compose's values (its defaults, for
/// `${VAR:-default}`) except where the value is an address; the OTLP
/// endpoint is the collector Service's OTLP/gRPC port.
fn environment_agrees_with_compose(setup: &Setup) -> Vec<String> {
    let mut problems = Vec::new();
    let collector_grpc = collector_receiver_port(setup, "grpc");
    for spec in &TOPOLOGY {
        let name = spec.service.name();
        let (Some(deployment), Some(compose)) = (
            setup.object("Deployment", name),
            setup.compose_service(name),
        ) else {
            continue;
        };
        let env = container_env(setup, &container(deployment));
        let theirs = compose_env(compose);
        let ours_names: BTreeSet<&String> = env.keys().filter(|k| ours(k)).collect();
        let their_names: BTreeSet<&String> = theirs.keys().filter(|k| ours(k)).collect();
        for missing in their_names.difference(&ours_names) {
            problems.push(format!(
                "Deployment {name} does not set {missing}, which compose service {name} sets"
            ));
        }
        for extra in ours_names.difference(&their_names) {
            problems.push(format!(
                "Deployment {name} sets {extra}, which compose service {name} does not"
            ));
        }
        for (key, compose_value) in &theirs {
            let Some(source) = env.get(key) else { continue };
            let value = resolve(setup, source);
            if PLACE_DEPENDENT.contains(&key.as_str()) {
                continue;
            }
            let want = interpolation_default(compose_value).unwrap_or(compose_value);
            if value.as_deref() != Some(want) {
                problems.push(format!(
                    "Deployment {name}: {key} is {value:?}, compose service {name} has {want:?}"
                ));
            }
        }
        let endpoint = env
            .get("OTEL_EXPORTER_OTLP_ENDPOINT")
            .and_then(|s| resolve(setup, s));
        let protocol = env
            .get("OTEL_EXPORTER_OTLP_PROTOCOL")
            .and_then(|s| resolve(setup, s));
        match endpoint.as_deref().and_then(host_port) {
            Some((host, port))
                if host == COLLECTOR
                    && Some(port) == collector_grpc
                    && protocol.as_deref() == Some("grpc") => {}
            _ => problems.push(format!(
                "Deployment {name}: OTEL_EXPORTER_OTLP_ENDPOINT {endpoint:?} over {protocol:?}, \
                 but the collector takes OTLP/gRPC at {COLLECTOR}:{collector_grpc:?}"
            )),
        }
    }
    problems
}

/// Every container of our image runs the tag build-images.sh builds, and
/// never pulls it (nothing can be pulled: it is loaded into the nodes); the
/// collector runs compose's collector image, Tempo compose's Tempo version.
fn images_agree(setup: &Setup) -> Vec<String> {
    let mut problems = Vec::new();
    if setup.built_image.is_empty() {
        problems.push(format!("{BUILD_SCRIPT}: no image=\"${{...:-tag}}\" line"));
    }
    let compose_image = |name: &str| {
        setup
            .compose_service(name)
            .and_then(|s| s.get("image"))
            .and_then(scalar)
            .unwrap_or_default()
    };
    for object in setup.objects.iter().filter(|o| pod_spec(o).is_some()) {
        for container in containers(object) {
            let image = container.get("image").and_then(scalar).unwrap_or_default();
            let what = format!("{} {} ({})", object.kind, object.name, object.file);
            if image.starts_with("tracemesh") {
                if image != setup.built_image {
                    problems.push(format!(
                        "{what} runs image {image}, but {BUILD_SCRIPT} builds {}",
                        setup.built_image
                    ));
                }
                let policy = container.get("imagePullPolicy").and_then(scalar);
                if !matches!(policy.as_deref(), Some("IfNotPresent" | "Never")) {
                    problems.push(format!(
                        "{what}: imagePullPolicy {policy:?} would pull {image}, which no registry has"
                    ));
                }
            } else if object.name == COLLECTOR && image != compose_image(COLLECTOR) {
                problems.push(format!(
                    "{what} runs {image}, compose runs {}",
                    compose_image(COLLECTOR)
                ));
            }
        }
    }
    let tempo_tag = at(&setup.values, "tempo.image.tag")
        .and_then(scalar)
        .unwrap_or_default();
    let compose_tempo = compose_image("tempo");
    if compose_tempo.rsplit(':').next() != Some(tempo_tag.as_str()) {
        problems.push(format!(
            "{VALUES}: tempo.image.tag {tempo_tag:?}, compose runs {compose_tempo}"
        ));
    }
    problems
}

/// Each service's readiness probe runs `tracemesh probe` on the URL its
/// compose healthcheck probes, and both probes reach, on loopback, a port
/// the container listens on.
fn probes_agree_with_compose(setup: &Setup) -> Vec<String> {
    let mut problems = Vec::new();
    for spec in &TOPOLOGY {
        let name = spec.service.name();
        let (Some(deployment), Some(compose)) = (
            setup.object("Deployment", name),
            setup.compose_service(name),
        ) else {
            continue;
        };
        let container = container(deployment);
        let listening: BTreeSet<u16> = container_ports(&container).into_values().collect();
        let compose_test = compose
            .get("healthcheck")
            .and_then(|h| h.get("test"))
            .map(strings)
            .unwrap_or_default();
        let compose_url = compose_test.last().cloned().unwrap_or_default();
        for probe in ["readinessProbe", "livenessProbe"] {
            let what = format!("Deployment {name} {probe}");
            let command = container
                .get(probe)
                .and_then(|p| at(p, "exec.command"))
                .map(strings)
                .unwrap_or_default();
            if command.get(..2)
                != Some(&["/usr/local/bin/tracemesh".to_owned(), "probe".to_owned()][..])
            {
                problems.push(format!(
                    "{what} does not run `tracemesh probe`: {command:?}"
                ));
                continue;
            }
            let url = command.last().cloned().unwrap_or_default();
            match host_port(&url) {
                Some((host, port)) if host == "127.0.0.1" && listening.contains(&port) => {}
                _ => problems.push(format!(
                    "{what} probes {url}, not a port the container listens on ({listening:?}) on 127.0.0.1"
                )),
            }
            if probe == "readinessProbe" && url != compose_url {
                problems.push(format!(
                    "{what} probes {url}, compose's healthcheck probes {compose_url}"
                ));
            }
        }
    }
    problems
}

/// The collector's configuration (its ConfigMap's config.yaml).
fn collector_config(setup: &Setup) -> Value {
    setup
        .object("ConfigMap", COLLECTOR)
        .and_then(|c| at(&c.body, "data")?.get("config.yaml"))
        .and_then(Value::as_str)
        .map(|text| serde_yaml::from_str(text).expect("the collector's config.yaml is YAML"))
        .unwrap_or(Value::Null)
}

/// The port the collector's OTLP receiver takes `protocol` on.
fn collector_receiver_port(setup: &Setup, protocol: &str) -> Option<u16> {
    let path = format!("receivers.otlp.protocols.{protocol}.endpoint");
    at(&collector_config(setup), &path)
        .and_then(scalar)
        .as_deref()
        .and_then(host_port)
        .map(|(_, port)| port)
}

/// The collector receives on 0.0.0.0 at ports its container declares and
/// its Service exposes; its traces pipeline runs compose's processors and
/// exports to the Tempo distributor's OTLP/gRPC port, enabled in the values;
/// every exporter reaches a Service.
fn collector_reaches_tempo(setup: &Setup) -> Vec<String> {
    let mut problems = Vec::new();
    let config = collector_config(setup);
    let reachable = setup.reachable();
    let declared: BTreeSet<u16> = setup
        .object("Deployment", COLLECTOR)
        .map(|d| container_ports(&container(d)).into_values().collect())
        .unwrap_or_default();
    let exposed = reachable.get(COLLECTOR).cloned().unwrap_or_default();
    for protocol in ["grpc", "http"] {
        let path = format!("receivers.otlp.protocols.{protocol}.endpoint");
        match at(&config, &path)
            .and_then(scalar)
            .as_deref()
            .and_then(host_port)
        {
            Some((host, port)) if host == "0.0.0.0" => {
                if !declared.contains(&port) || !exposed.contains(&port) {
                    problems.push(format!(
                        "collector {path} is port {port}; the container declares {declared:?}, \
                         Service {COLLECTOR} exposes {exposed:?}"
                    ));
                }
            }
            other => problems.push(format!(
                "collector {path} is {other:?}: other pods reach it only on 0.0.0.0"
            )),
        }
    }
    let processors = at(&config, "service.pipelines.traces.processors")
        .map(strings)
        .unwrap_or_default();
    if processors != ["memory_limiter", "batch"] {
        problems.push(format!(
            "collector traces pipeline runs {processors:?}; otel-collector.yaml runs memory_limiter, batch"
        ));
    }
    let exporters = at(&config, "service.pipelines.traces.exporters")
        .map(strings)
        .unwrap_or_default();
    let distributor = format!("{TEMPO_RELEASE}-distributor");
    let mut to_tempo = false;
    for pipeline in ["traces", "logs"] {
        let path = format!("service.pipelines.{pipeline}.exporters");
        for name in at(&config, &path).map(strings).unwrap_or_default() {
            let what = format!("collector exporter {name}");
            let Some(endpoint) = config
                .get("exporters")
                .and_then(|e| e.get(name.as_str()))
                .and_then(|e| e.get("endpoint"))
                .and_then(scalar)
            else {
                problems.push(format!("{what}: no endpoint"));
                continue;
            };
            reaches(&reachable, &what, &endpoint, &mut problems);
            if exporters.contains(&name)
                && host_port(&endpoint) == Some((distributor.clone(), 4317))
            {
                to_tempo = true;
            }
        }
    }
    if !to_tempo {
        problems.push(format!(
            "the collector's traces pipeline exports to no {distributor}:4317 (Tempo's OTLP/gRPC receiver)"
        ));
    }
    problems
}

/// The load Job is an Indexed Job whose pods all run at once; each pod's
/// SHARD_INDEX is the Job's completion index, TRACEMESH_SHARD is
/// "$(SHARD_INDEX)/N" with N = completions, its report directory holds
/// $(SHARD_INDEX) on a ReadWriteMany volume, and the merge Job reads exactly
/// shard 0..N-1 there. Both run our image's subcommands; the load reaches
/// Services that exist, drives every admin endpoint compose's load drives,
/// and reads the mesh's sampler ratio from the mesh's own ConfigMap key.
fn load_job_is_sharded_consistently(setup: &Setup) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(job) = setup.object("Job", LOAD_JOB) else {
        return vec![format!("no Job {LOAD_JOB}")];
    };
    let spec = |path: &str| at(&job.body, path).and_then(scalar);
    if spec("spec.completionMode").as_deref() != Some("Indexed") {
        problems.push(format!("Job {LOAD_JOB} is not completionMode: Indexed"));
    }
    let completions: Option<u32> = spec("spec.completions").and_then(|c| c.parse().ok());
    let parallelism: Option<u32> = spec("spec.parallelism").and_then(|c| c.parse().ok());
    if completions.is_none() || completions != parallelism {
        problems.push(format!(
            "Job {LOAD_JOB}: completions {completions:?} and parallelism {parallelism:?} differ: \
             every shard must run at once"
        ));
    }
    let n = completions.unwrap_or(0);
    let load = container(job);
    let env = container_env(setup, &load);
    if env.get("SHARD_INDEX") != Some(&EnvSource::Field(COMPLETION_INDEX.to_owned())) {
        problems.push(format!(
            "Job {LOAD_JOB}: SHARD_INDEX is {:?}, not the field {COMPLETION_INDEX}",
            env.get("SHARD_INDEX")
        ));
    }
    let shard = env.get("TRACEMESH_SHARD");
    let want_shard = EnvSource::Literal(format!("$(SHARD_INDEX)/{n}"));
    if shard != Some(&want_shard) {
        problems.push(format!(
            "Job {LOAD_JOB}: TRACEMESH_SHARD is {shard:?}, but the Job has {n} completions \
             ({want_shard:?})"
        ));
    }
    // The volume the reports go to: mounted, and a ReadWriteMany claim.
    let mounts: BTreeMap<String, String> = load
        .get("volumeMounts")
        .map(seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|m| {
            Some((
                m.get("mountPath").and_then(scalar)?,
                m.get("name").and_then(scalar)?,
            ))
        })
        .collect();
    let report_dir = match env.get("TRACEMESH_REPORT_DIR") {
        Some(EnvSource::Literal(dir)) => dir.clone(),
        other => {
            problems.push(format!("Job {LOAD_JOB}: TRACEMESH_REPORT_DIR is {other:?}"));
            String::new()
        }
    };
    if !report_dir.contains("$(SHARD_INDEX)") {
        problems.push(format!(
            "Job {LOAD_JOB}: TRACEMESH_REPORT_DIR {report_dir:?} is the same for every shard"
        ));
    }
    let shared_mount = mounts
        .iter()
        .find(|(path, _)| report_dir.starts_with(&format!("{path}/")));
    match shared_mount {
        None => problems.push(format!(
            "Job {LOAD_JOB}: TRACEMESH_REPORT_DIR {report_dir:?} is on no mounted volume ({mounts:?})"
        )),
        Some((_, volume)) => {
            let claim = pod_spec(job)
                .and_then(|s| s.get("volumes"))
                .map(seq)
                .unwrap_or_default()
                .iter()
                .find(|v| v.get("name").and_then(scalar).as_ref() == Some(volume))
                .and_then(|v| at(v, "persistentVolumeClaim.claimName").and_then(scalar));
            let modes = claim
                .as_deref()
                .and_then(|c| setup.object("PersistentVolumeClaim", c))
                .and_then(|c| at(&c.body, "spec.accessModes"))
                .map(strings)
                .unwrap_or_default();
            if !modes.iter().any(|m| m == "ReadWriteMany") {
                problems.push(format!(
                    "Job {LOAD_JOB}: reports go to volume {volume} (claim {claim:?}, modes {modes:?}), \
                     which the shards' pods cannot all write: it needs ReadWriteMany"
                ));
            }
        }
    }
    // The merge Job: `report merge <every shard's directory> --output ...`.
    match setup.object("Job", MERGE_JOB) {
        None => problems.push(format!("no Job {MERGE_JOB}")),
        Some(merge) => {
            let merge_args = args(&container(merge));
            let want_dirs: Vec<String> = (0..n)
                .map(|i| report_dir.replace("$(SHARD_INDEX)", &i.to_string()))
                .collect();
            let dirs: Vec<String> = merge_args
                .iter()
                .skip(2)
                .take_while(|a| !a.starts_with("--"))
                .cloned()
                .collect();
            if merge_args.get(..2) != Some(&["report".to_owned(), "merge".to_owned()][..])
                || dirs != want_dirs
            {
                problems.push(format!(
                    "Job {MERGE_JOB} runs {merge_args:?}, but the {n} shards write {want_dirs:?}"
                ));
            }
            if flag(&merge_args, "--output").is_none() {
                problems.push(format!("Job {MERGE_JOB}: no --output"));
            }
        }
    }
    // Where the load goes: Services that exist, the admin endpoints of compose's load.
    let load_args = args(&load);
    let reachable = setup.reachable();
    for arg in load_args.iter().filter(|a| a.contains("://")) {
        reaches(
            &reachable,
            &format!("Job {LOAD_JOB} argument"),
            arg,
            &mut problems,
        );
    }
    let admin_services = |args: &[String]| -> BTreeSet<String> {
        args.windows(2)
            .filter(|w| w[0] == "--admin")
            .filter_map(|w| w[1].split_once('=').map(|(s, _)| s.to_owned()))
            .collect()
    };
    let compose_load = setup
        .compose_service("load")
        .and_then(|s| s.get("command"))
        .map(strings)
        .unwrap_or_default();
    if admin_services(&load_args) != admin_services(&compose_load) {
        problems.push(format!(
            "Job {LOAD_JOB} drives the admin endpoints of {:?}, compose's load those of {:?}",
            admin_services(&load_args),
            admin_services(&compose_load)
        ));
    }
    if let Some(tempo) = flag(&load_args, "--tempo")
        && host_port(tempo).map(|(h, _)| h) != Some(format!("{TEMPO_RELEASE}-query-frontend"))
    {
        problems.push(format!(
            "Job {LOAD_JOB} reads traces from {tempo}, not Tempo's query frontend"
        ));
    }
    // The sampler ratio: the gateway's, read from the same ConfigMap key.
    let gateway_ratio = setup
        .object("Deployment", "gateway")
        .map(|d| container_env(setup, &container(d)))
        .and_then(|e| e.get("OTEL_TRACES_SAMPLER_ARG").cloned());
    let load_ratio = env.get("TRACEMESH_SAMPLER_RATIO");
    if gateway_ratio.is_none() || load_ratio != gateway_ratio.as_ref() {
        problems.push(format!(
            "Job {LOAD_JOB}: TRACEMESH_SAMPLER_RATIO comes from {load_ratio:?}, the gateway's \
             OTEL_TRACES_SAMPLER_ARG from {gateway_ratio:?}: the harness must be told the mesh's ratio"
        ));
    }
    problems
}

/// Grafana's data sources name Services and ports that exist (Tempo's
/// query frontend at Tempo's HTTP port), and every data source uid they
/// reference is provisioned.
fn grafana_datasources_resolve(setup: &Setup) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(config_map) = setup.object("ConfigMap", "grafana-datasources") else {
        return vec!["no ConfigMap grafana-datasources".into()];
    };
    if at(&config_map.body, "metadata.labels.grafana_datasource").is_none() {
        problems.push(
            "ConfigMap grafana-datasources lacks the label grafana_datasource the chart's sidecar selects"
                .into(),
        );
    }
    let reachable = setup.reachable();
    let data = config_map
        .body
        .get("data")
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default();
    for (file, text) in &data {
        let file = scalar(file).unwrap_or_default();
        let parsed: Value = serde_yaml::from_str(text.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("grafana-datasources {file} is not YAML: {e}"));
        let sources = parsed.get("datasources").map(seq).unwrap_or_default();
        let uids: BTreeSet<String> = sources
            .iter()
            .filter_map(|s| s.get("uid").and_then(scalar))
            .collect();
        for source in &sources {
            let name = source.get("name").and_then(scalar).unwrap_or_default();
            let what = format!("Grafana data source {name:?}");
            let url = source.get("url").and_then(scalar).unwrap_or_default();
            reaches(&reachable, &what, &url, &mut problems);
            if source.get("type").and_then(scalar).as_deref() == Some("tempo") {
                let want = (
                    format!("{TEMPO_RELEASE}-query-frontend"),
                    tempo_http_port(&setup.values),
                );
                if host_port(&url) != Some(want.clone()) {
                    problems.push(format!(
                        "{what}: {url} is not Tempo's query frontend {}:{}",
                        want.0, want.1
                    ));
                }
            }
            let mut referenced = Vec::new();
            collect_uids(
                source.get("jsonData").unwrap_or(&Value::Null),
                &mut referenced,
            );
            for uid in referenced {
                if !uids.contains(&uid) {
                    problems.push(format!(
                        "{what} references data source uid {uid}, which is not provisioned ({uids:?})"
                    ));
                }
            }
        }
    }
    problems
}

/// Every `datasourceUid` value under `value`.
fn collect_uids(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Mapping(map) => {
            for (key, child) in map {
                if key.as_str() == Some("datasourceUid") {
                    into.extend(scalar(child));
                } else {
                    collect_uids(child, into);
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|i| collect_uids(i, into)),
        _ => {}
    }
}

/// A CPU or memory quantity in its base unit (cores, bytes).
fn quantity(raw: &str) -> Option<f64> {
    let suffixes: [(&str, f64); 7] = [
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("m", 0.001),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
    ];
    for (suffix, factor) in suffixes {
        if let Some(number) = raw.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    raw.parse().ok()
}

/// Every container has CPU and memory requests and limits that parse, each
/// request at most its limit.
fn resources_are_set(setup: &Setup) -> Vec<String> {
    let mut problems = Vec::new();
    for object in setup.objects.iter().filter(|o| pod_spec(o).is_some()) {
        for container in containers(object) {
            let what = format!("{} {}", object.kind, object.name);
            for resource in ["cpu", "memory"] {
                let get = |kind: &str| {
                    container
                        .get("resources")
                        .and_then(|r| r.get(kind))
                        .and_then(|r| r.get(resource))
                        .and_then(scalar)
                };
                let (request, limit) = (get("requests"), get("limits"));
                match (
                    request.as_deref().and_then(quantity),
                    limit.as_deref().and_then(quantity),
                ) {
                    (Some(r), Some(l)) if r <= l => {}
                    (Some(_), Some(_)) => problems.push(format!(
                        "{what}: {resource} request {request:?} is above its limit {limit:?}"
                    )),
                    _ => problems.push(format!(
                        "{what}: {resource} request {request:?} / limit {limit:?} missing or unreadable"
                    )),
                }
            }
        }
    }
    problems
}

/// Each PodDisruptionBudget selects the pods of one Deployment with more
/// replicas than its minAvailable (else no pod could ever be evicted).
fn disruption_budgets_fit(setup: &Setup) -> Vec<String> {
    let mut problems = Vec::new();
    let mut budgets = 0;
    for budget in setup.of_kind("PodDisruptionBudget") {
        budgets += 1;
        let selector = at(&budget.body, "spec.selector.matchLabels")
            .and_then(Value::as_mapping)
            .cloned()
            .unwrap_or_default();
        let selected: Vec<&Object> = setup
            .of_kind("Deployment")
            .filter(|d| {
                let labels = at(&d.body, "spec.template.metadata.labels")
                    .and_then(Value::as_mapping)
                    .cloned()
                    .unwrap_or_default();
                !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
            })
            .collect();
        let [deployment] = selected[..] else {
            problems.push(format!(
                "PodDisruptionBudget {} selects {} Deployments, not one",
                budget.name,
                selected.len()
            ));
            continue;
        };
        let replicas = at(&deployment.body, "spec.replicas")
            .and_then(Value::as_u64)
            .unwrap_or(1);
        let min = at(&budget.body, "spec.minAvailable")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if min >= replicas {
            problems.push(format!(
                "PodDisruptionBudget {} keeps {min} of Deployment {}'s {replicas} replicas: \
                 no pod could be evicted",
                budget.name, deployment.name
            ));
        }
    }
    if budgets == 0 {
        problems.push("no PodDisruptionBudget".into());
    }
    problems
}

/// Every object is in [`NAMESPACE`], the namespace the manifest creates,
/// and every URL the Tempo values hold (the metrics-generator's remote
/// write) reaches a Service there.
fn one_namespace(setup: &Setup) -> Vec<String> {
    let mut problems = Vec::new();
    if setup.object("Namespace", NAMESPACE).is_none() {
        problems.push(format!("no manifest creates namespace {NAMESPACE}"));
    }
    for object in setup.objects.iter().filter(|o| o.kind != "Namespace") {
        let namespace = at(&object.body, "metadata.namespace").and_then(scalar);
        if namespace.as_deref() != Some(NAMESPACE) {
            problems.push(format!(
                "{} {} ({}) is in namespace {namespace:?}, not {NAMESPACE}: its short names \
                 would not resolve",
                object.kind, object.name, object.file
            ));
        }
    }
    let reachable = setup.reachable();
    let remote_writes = at(
        &setup.values,
        "metricsGenerator.config.storage.remote_write",
    )
    .map(seq)
    .unwrap_or_default();
    for write in remote_writes {
        let url = write.get("url").and_then(scalar).unwrap_or_default();
        reaches(
            &reachable,
            &format!("{VALUES} metrics-generator remote_write"),
            &url,
            &mut problems,
        );
    }
    problems
}

type Check = fn(&Setup) -> Vec<String>;

const CHECKS: &[(&str, Check)] = &[
    ("one namespace", one_namespace),
    ("services follow the topology", services_follow_the_topology),
    (
        "environment agrees with compose",
        environment_agrees_with_compose,
    ),
    ("images agree", images_agree),
    ("probes agree with compose", probes_agree_with_compose),
    ("collector reaches Tempo", collector_reaches_tempo),
    (
        "load Job is sharded consistently",
        load_job_is_sharded_consistently,
    ),
    ("Grafana data sources resolve", grafana_datasources_resolve),
    ("resources are set", resources_are_set),
    ("disruption budgets fit", disruption_budgets_fit),
];

fn all_problems(texts: &Texts) -> Vec<String> {
    let setup = Setup::parse(texts);
    CHECKS
        .iter()
        .flat_map(|(name, check)| {
            check(&setup)
                .into_iter()
                .map(move |p| format!("{name}: {p}"))
        })
        .collect()
}

#[test]
fn the_manifests_agree_with_compose_and_the_topology() {
    let problems = all_problems(&Texts::real());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_check_reports_a_planted_mismatch() {
    let real = Texts::real();
    let services = "deploy/kubernetes/services.yaml";
    let config = "deploy/kubernetes/config.yaml";
    let collector = "deploy/kubernetes/otel-collector.yaml";
    let load = "deploy/kubernetes/load-job.yaml";
    let merge = "deploy/kubernetes/report-merge-job.yaml";
    let grafana = "deploy/kubernetes/grafana-datasources.yaml";
    let budgets = "deploy/kubernetes/disruption-budgets.yaml";
    // (file, from, to, check, words the report must contain)
    let cases: Vec<(&str, &str, &str, Check, &str)> = vec![
        (
            services,
            "- http://payment:8081",
            "- http://payment:8082",
            services_follow_the_topology,
            "not wired to payment",
        ),
        (
            services,
            "- 0.0.0.0:50051",
            "- 0.0.0.0:50061",
            services_follow_the_topology,
            "the topology says 0.0.0.0:50051",
        ),
        (
            services,
            "- name: admin\n      port: 9000\n      targetPort: admin",
            "- name: admin\n      port: 9001\n      targetPort: admin",
            services_follow_the_topology,
            "does not expose port 9000",
        ),
        (
            config,
            "OTEL_BSP_SCHEDULE_DELAY:",
            "OTEL_BSP_SCHEDULE_DELAY_MS:",
            environment_agrees_with_compose,
            "does not set OTEL_BSP_SCHEDULE_DELAY",
        ),
        (
            config,
            "TRACEMESH_LOG_FORMAT: json",
            "TRACEMESH_LOG_FORMAT: text",
            environment_agrees_with_compose,
            "TRACEMESH_LOG_FORMAT is Some(\"text\")",
        ),
        (
            config,
            "OTEL_EXPORTER_OTLP_ENDPOINT: http://otel-collector:4317",
            "OTEL_EXPORTER_OTLP_ENDPOINT: http://otel-collector:4318",
            environment_agrees_with_compose,
            "the collector takes OTLP/gRPC",
        ),
        (
            config,
            "token: workshop",
            "token: letmein",
            environment_agrees_with_compose,
            "TRACEMESH_ADMIN_TOKEN is Some(\"letmein\")",
        ),
        (
            services,
            "image: tracemesh:local",
            "image: tracemesh:latest",
            images_agree,
            "runs image tracemesh:latest",
        ),
        (
            load,
            "imagePullPolicy: IfNotPresent",
            "imagePullPolicy: Always",
            images_agree,
            "would pull",
        ),
        (
            VALUES,
            "tag: 2.9.2",
            "tag: 2.8.0",
            images_agree,
            "tempo.image.tag",
        ),
        (
            services,
            "\"http://127.0.0.1:8080/readyz\"",
            "\"http://127.0.0.1:8080/healthz\"",
            probes_agree_with_compose,
            "compose's healthcheck probes http://127.0.0.1:8080/readyz",
        ),
        (
            services,
            "\"tcp://127.0.0.1:50053\"",
            "\"tcp://127.0.0.1:50054\"",
            probes_agree_with_compose,
            "not a port the container listens on",
        ),
        (
            collector,
            "endpoint: tempo-distributor:4317",
            "endpoint: tempo-distributor:4316",
            collector_reaches_tempo,
            "uses port 4316",
        ),
        (
            VALUES,
            "    grpc:\n      enabled: true",
            "    grpc:\n      enabled: false",
            collector_reaches_tempo,
            "uses port 4317, but Service tempo-distributor serves",
        ),
        (
            collector,
            "endpoint: 0.0.0.0:4317",
            "endpoint: 127.0.0.1:4317",
            collector_reaches_tempo,
            "only on 0.0.0.0",
        ),
        (
            load,
            "value: $(SHARD_INDEX)/4",
            "value: $(SHARD_INDEX)/3",
            load_job_is_sharded_consistently,
            "TRACEMESH_SHARD is",
        ),
        (
            load,
            "parallelism: 4",
            "parallelism: 2",
            load_job_is_sharded_consistently,
            "every shard must run at once",
        ),
        (
            load,
            "job-completion-index']",
            "job-index']",
            load_job_is_sharded_consistently,
            "not the field",
        ),
        (
            load,
            "accessModes: [\"ReadWriteMany\"]",
            "accessModes: [\"ReadWriteOnce\"]",
            load_job_is_sharded_consistently,
            "it needs ReadWriteMany",
        ),
        (
            merge,
            "            - /reports/shard-3\n",
            "",
            load_job_is_sharded_consistently,
            "but the 4 shards write",
        ),
        (
            load,
            "- http://tempo-query-frontend:3200",
            "- http://tempo:3200",
            load_job_is_sharded_consistently,
            "names \"tempo\"",
        ),
        (
            load,
            "            - --admin\n            - payment=http://payment:9000\n",
            "",
            load_job_is_sharded_consistently,
            "drives the admin endpoints",
        ),
        (
            load,
            "key: OTEL_TRACES_SAMPLER_ARG",
            "key: OTEL_TRACES_SAMPLER",
            load_job_is_sharded_consistently,
            "must be told the mesh's ratio",
        ),
        (
            grafana,
            "url: http://tempo-query-frontend:3200",
            "url: http://tempo-query-frontend:3100",
            grafana_datasources_resolve,
            "uses port 3100",
        ),
        (
            grafana,
            "datasourceUid: loki",
            "datasourceUid: logs",
            grafana_datasources_resolve,
            "uid logs, which is not provisioned",
        ),
        (
            grafana,
            "url: http://loki-gateway:80",
            "url: http://loki:3100",
            grafana_datasources_resolve,
            "names \"loki\"",
        ),
        (
            merge,
            "memory: 64Mi",
            "memory: 512Mi",
            resources_are_set,
            "above its limit",
        ),
        (
            budgets,
            "app.kubernetes.io/name: user",
            "app.kubernetes.io/name: order",
            disruption_budgets_fit,
            "no pod could be evicted",
        ),
        (
            grafana,
            "namespace: tracemesh",
            "namespace: monitoring",
            one_namespace,
            "is in namespace Some(\"monitoring\")",
        ),
        (
            VALUES,
            "url: http://prometheus-server:80/api/v1/write",
            "url: http://prometheus:9090/api/v1/write",
            one_namespace,
            "names \"prometheus\"",
        ),
    ];
    for (file, from, to, check, reason) in cases {
        assert_eq!(
            check(&Setup::parse(&real)),
            Vec::<String>::new(),
            "the shipped files pass before planting {to:?}"
        );
        let planted = real.planting(file, from, to);
        let problems = check(&Setup::parse(&planted));
        assert!(
            problems.iter().any(|p| p.contains(reason)),
            "planting {to:?} in {file} should be reported ({reason:?}); got {problems:#?}"
        );
        assert!(
            all_problems(&planted).iter().any(|p| p.contains(reason)),
            "all_problems misses {reason:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// The schema: kubernetes-validate.

fn validator_required() -> bool {
    std::env::var("TRACEMESH_REQUIRE_KUBE_VALIDATE").is_ok_and(|v| v == "1")
}

/// Whether the pinned validator is installed; `Err` says why not.
fn validator() -> Result<(), String> {
    let output = Command::new("kubernetes-validate")
        .arg("--version")
        .output()
        .map_err(|e| format!("kubernetes-validate is not installed ({e})"))?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if version != VALIDATOR_VERSION {
        return Err(format!(
            "kubernetes-validate {version:?} is installed, not {VALIDATOR_VERSION} \
             (pip install kubernetes-validate=={VALIDATOR_VERSION})"
        ));
    }
    Ok(())
}

/// Runs the validator over `files` (in `dir`); every line it prints with
/// `--quiet` is a failure or a warning, and a warning such as "Couldn't find
/// schema" (an unknown apiVersion or kind) counts as a failure too.
fn validate(dir: &Path, files: &[&str]) -> Vec<String> {
    let output = Command::new("kubernetes-validate")
        .args(["--strict", "--quiet", "-k", KUBERNETES_VERSION])
        .args(files)
        .current_dir(dir)
        .output()
        .expect("kubernetes-validate runs");
    let mut problems: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&output.stderr).lines())
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    if !output.status.success() && problems.is_empty() {
        problems.push(format!("kubernetes-validate exited {}", output.status));
    }
    problems
}

#[test]
fn kubernetes_validate_accepts_every_manifest() {
    if let Err(why) = validator() {
        assert!(
            !validator_required(),
            "TRACEMESH_REQUIRE_KUBE_VALIDATE=1 but {why}"
        );
        eprintln!("skipped: {why}");
        return;
    }
    let problems = validate(Path::new(env!("CARGO_MANIFEST_DIR")), MANIFESTS);
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The same run over copies with one planted schema error each.
    let real = Texts::real();
    let services = "deploy/kubernetes/services.yaml";
    let cases = [
        // A misspelt field: only --strict rejects it.
        ("periodSeconds: 5", "periodSecond: 5", "periodSecond"),
        // A required field gone.
        (
            "containerPort: 8080",
            "containerport: 8080",
            "containerPort",
        ),
        // An apiVersion the schemas do not know: a warning, counted.
        ("apiVersion: apps/v1", "apiVersion: apps/v9", "apps/v9"),
    ];
    for (from, to, reason) in cases {
        let planted = real.planting(services, from, to);
        let dir = tempfile::tempdir().expect("a temporary directory");
        let copy = dir.path().join("services.yaml");
        std::fs::write(&copy, planted.text(services)).expect("write the planted copy");
        let problems = validate(dir.path(), &["services.yaml"]);
        assert!(
            problems.iter().any(|p| p.contains(reason)),
            "planting {to:?} should fail validation ({reason:?}); got {problems:#?}"
        );
    }
}
