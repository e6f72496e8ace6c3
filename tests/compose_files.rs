//! Static checks of the container setup; no container is started.
//!
//! The compose demo spreads one design over many files: docker-compose.yml
//! (services, ports, commands), docker-compose.local.yml (the override for
//! machines without a registry), otel-collector.yaml, tempo.yaml,
//! prometheus.yml (and its token file), grafana-datasource.yaml, grafana/
//! (the dashboard provider and dashboards), and the image (Dockerfile for
//! users, scripts/build-images.sh here). A port changed in one and not in
//! another gives a demo where spans silently go nowhere. Each check below
//! reads the files and reports every disagreement as one line naming both
//! sides:
//!
//! - the collector's exporters reach a compose service on a port it serves;
//! - Tempo's OTLP receiver listens (on 0.0.0.0) where the collector sends;
//! - Grafana's data sources name compose services and their ports;
//! - every service exports OTLP/gRPC to the collector's gRPC port;
//! - every healthcheck probes the port its service listens on;
//! - every URL in a command names a service and a port it serves;
//! - `depends_on` names enabled services, and each service waits for the
//!   services it calls to be healthy;
//! - the five services listen, and are wired to their callees, as the
//!   topology table (`tracemesh_runtime::topology`) says;
//! - the Dockerfile and build-images.sh build the same ENTRYPOINT, USER, ENV;
//! - Prometheus scrapes every service of the topology at its compose name,
//!   admin port and `/metrics`, with the admin token the services default
//!   to, keeps exemplars, and runs the locally built image offline;
//! - Grafana's data source uids referenced (exemplar links, trace to
//!   metrics, service map, dashboards) exist, its provisioning files are
//!   mounted where they point, and every metric a query names is one the
//!   services expose (`tracemesh_runtime::contract::metric`).
//!
//! Each check is also run on a copy of the files with one planted mismatch,
//! and must report it: a check that cannot fail proves nothing.
//! `docker-compose config` (when installed) must accept both compose files.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_yaml::{Mapping, Value};
use tracemesh_runtime::admin::paths::METRICS;
use tracemesh_runtime::contract::metric;
use tracemesh_runtime::topology::{CONTAINER_ADMIN_PORT, TOPOLOGY};

mod common;

use common::yaml::{Texts, at, host_port, interpolation_default, scalar, strings};

/// Profiles the checks consider active: `load` is part of the demo (started
/// on demand); a service in any other profile is disabled.
const ACTIVE_PROFILES: &[&str] = &["load"];

/// The compose service the five services export to.
const COLLECTOR: &str = "otel-collector";

/// The compose service that scrapes the services' metrics.
const PROMETHEUS: &str = "prometheus";

/// The tag build-images.sh gives the Prometheus image it builds from
/// Debian's binary, as the local compose file names it.
const LOCAL_PROMETHEUS_IMAGE: &str = "${TRACEMESH_PROMETHEUS_IMAGE:-tracemesh-prometheus:local}";

// ---------------------------------------------------------------------------
// The files, as text (so a test can plant a mismatch) and parsed.

const FILES: &[&str] = &[
    "docker-compose.yml",
    "docker-compose.local.yml",
    "otel-collector.yaml",
    "tempo.yaml",
    "grafana-datasource.yaml",
    "grafana/dashboards.yaml",
    "grafana/dashboards/red.json",
    "prometheus.yml",
    "prometheus-admin-token",
    "Dockerfile",
    "scripts/build-images.sh",
];

/// The dashboards the provider loads (grafana/dashboards/, mounted whole).
const DASHBOARDS: &[&str] = &["grafana/dashboards/red.json"];

/// The files, read from the repository.
fn real_texts() -> Texts {
    Texts::read(FILES)
}

/// Every file parsed: the base compose file, the base merged with the
/// override (as `-f docker-compose.yml -f docker-compose.local.yml`), and
/// the backends' configurations.
struct Setup {
    compose: Value,
    local: Value,
    collector: Value,
    tempo: Value,
    grafana: Value,
    prometheus: Value,
    dashboard_provider: Value,
    /// Each dashboard's file name and JSON.
    dashboards: Vec<(&'static str, serde_json::Value)>,
}

impl Setup {
    fn parse(texts: &Texts) -> Setup {
        let compose = texts.yaml("docker-compose.yml");
        let local = merge_compose(&compose, &texts.yaml("docker-compose.local.yml"));
        Setup {
            compose,
            local,
            collector: texts.yaml("otel-collector.yaml"),
            tempo: texts.yaml("tempo.yaml"),
            grafana: texts.yaml("grafana-datasource.yaml"),
            prometheus: texts.yaml("prometheus.yml"),
            dashboard_provider: texts.yaml("grafana/dashboards.yaml"),
            dashboards: DASHBOARDS
                .iter()
                .map(|file| {
                    let json = serde_json::from_str(texts.text(file))
                        .unwrap_or_else(|e| panic!("{file} is not valid JSON: {e}"));
                    (*file, json)
                })
                .collect(),
        }
    }
}

/// Compose's merge of an override into a base file, for the keys these
/// checks read: mappings (`environment`, `depends_on`) merge key by key,
/// `ports`, `expose` and `volumes` are concatenated, anything else (`image`,
/// `command`, `healthcheck`, `profiles`) is replaced.
fn merge_compose(base: &Value, overlay: &Value) -> Value {
    let mut merged = base.clone();
    let Some(overlay_services) = overlay.get("services").and_then(Value::as_mapping) else {
        return merged;
    };
    let services = merged
        .get_mut("services")
        .and_then(Value::as_mapping_mut)
        .expect("the base compose file has services");
    for (name, overlay_service) in overlay_services {
        let Some(service) = services.get_mut(name).and_then(Value::as_mapping_mut) else {
            services.insert(name.clone(), overlay_service.clone());
            continue;
        };
        for (key, value) in overlay_service.as_mapping().into_iter().flatten() {
            let key_name = key.as_str().unwrap_or_default();
            match (service.get_mut(key), value) {
                (Some(Value::Mapping(old)), Value::Mapping(new))
                    if matches!(key_name, "environment" | "depends_on") =>
                {
                    for (k, v) in new {
                        old.insert(k.clone(), v.clone());
                    }
                }
                (Some(Value::Sequence(old)), Value::Sequence(new))
                    if matches!(key_name, "ports" | "expose" | "volumes") =>
                {
                    old.extend(new.iter().cloned());
                }
                _ => {
                    service.insert(key.clone(), value.clone());
                }
            }
        }
    }
    merged
}

// ---------------------------------------------------------------------------
// Reading a compose model.

/// The enabled services: no `profiles`, or one of [`ACTIVE_PROFILES`].
fn services(compose: &Value) -> BTreeMap<String, &Mapping> {
    let all = compose
        .get("services")
        .and_then(Value::as_mapping)
        .expect("a compose file has services");
    all.iter()
        .filter_map(|(name, service)| Some((name.as_str()?.to_owned(), service.as_mapping()?)))
        .filter(|(_, service)| match service.get("profiles") {
            None => true,
            Some(profiles) => strings(profiles)
                .iter()
                .any(|p| ACTIVE_PROFILES.contains(&p.as_str())),
        })
        .collect()
}

/// A service's command as arguments (a string command is split on spaces).
fn command(service: &Mapping) -> Vec<String> {
    match service.get("command") {
        Some(Value::String(line)) => line.split_whitespace().map(str::to_owned).collect(),
        Some(value) => strings(value),
        None => Vec::new(),
    }
}

/// The value after `flag` in `args` (`--listen 0.0.0.0:8080` or `--listen=...`).
fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter().enumerate().find_map(|(i, arg)| {
        if arg == flag {
            args.get(i + 1).map(String::as_str)
        } else {
            arg.strip_prefix(flag)?.strip_prefix('=')
        }
    })
}

/// What the container runs: `tracemesh service <name>`, `tracemesh
/// collector`, or a third-party image.
enum Role {
    Service,
    Collector,
    Other,
}

fn role(service: &Mapping) -> Role {
    match command(service).first().map(String::as_str) {
        Some("service") => Role::Service,
        Some("collector") => Role::Collector,
        _ => Role::Other,
    }
}

/// An environment variable of a service (mapping or `KEY=value` list form).
fn env(service: &Mapping, key: &str) -> Option<String> {
    match service.get("environment")? {
        Value::Mapping(map) => map.get(key).and_then(scalar),
        Value::Sequence(items) => items
            .iter()
            .filter_map(Value::as_str)
            .find_map(|item| item.strip_prefix(key)?.strip_prefix('=').map(str::to_owned)),
        _ => None,
    }
}

/// The ports a service's container listens on. For our own image they
/// follow from its command (what the process binds); for a third-party
/// image, from what the compose file declares (`expose` and the container
/// side of `ports`), which the checks then hold against its config file.
fn served_ports(service: &Mapping) -> BTreeSet<u16> {
    let args = command(service);
    match role(service) {
        Role::Service => {
            let mut ports: BTreeSet<u16> = flag(&args, "--listen")
                .and_then(port_of)
                .into_iter()
                .collect();
            ports.extend(
                env(service, "TRACEMESH_ADMIN_LISTEN")
                    .as_deref()
                    .and_then(port_of),
            );
            ports
        }
        // `tracemesh collector`'s defaults when the flags are absent.
        Role::Collector => [("--grpc-port", 4317), ("--http-port", 4318)]
            .into_iter()
            .filter_map(|(name, default)| {
                flag(&args, name).map_or(Some(default), |p| p.parse().ok())
            })
            .collect(),
        Role::Other => {
            let mut ports = BTreeSet::new();
            for value in service.get("expose").map(strings).unwrap_or_default() {
                ports.extend(value.split('/').next().and_then(|p| p.parse::<u16>().ok()));
            }
            for value in service.get("ports").map(strings).unwrap_or_default() {
                // [ip:]host:container[/proto]: the container side is last.
                let container = value.split('/').next().unwrap_or_default();
                ports.extend(
                    container
                        .rsplit(':')
                        .next()
                        .and_then(|p| p.parse::<u16>().ok()),
                );
            }
            ports
        }
    }
}

fn port_of(raw: &str) -> Option<u16> {
    host_port(raw).map(|(_, port)| port)
}

/// A URL or endpoint must name an enabled compose service and a port that
/// service serves; `what` says where it was found.
fn reaches_service(
    compose: &Value,
    what: &str,
    target: &str,
    problems: &mut Vec<String>,
) -> Option<(String, u16)> {
    let Some((host, port)) = host_port(target) else {
        problems.push(format!("{what}: {target:?} has no host:port"));
        return None;
    };
    let services = services(compose);
    match services.get(&host) {
        None => problems.push(format!(
            "{what}: {target} names {host:?}, which is not an enabled compose service ({})",
            services.keys().cloned().collect::<Vec<_>>().join(", ")
        )),
        Some(service) => {
            let ports = served_ports(service);
            if !ports.contains(&port) {
                problems.push(format!(
                    "{what}: {target} uses port {port}, but compose service {host} serves {ports:?}"
                ));
            }
        }
    }
    Some((host, port))
}

// ---------------------------------------------------------------------------
// The agreement checks. Each returns every problem found, one line each.

/// The collector's trace exporters send to compose services, on ports those
/// serve, and its OTLP receivers listen on every interface.
fn collector_exporters_reach_services(setup: &Setup) -> Vec<String> {
    let mut problems = Vec::new();
    let exporters = at(&setup.collector, "service.pipelines.traces.exporters")
        .map(strings)
        .unwrap_or_default();
    if exporters.is_empty() {
        problems.push("otel-collector.yaml: the traces pipeline has no exporter".to_owned());
    }
    for name in exporters {
        let what = format!("otel-collector.yaml exporter {name}");
        match setup
            .collector
            .get("exporters")
            .and_then(|e| e.get(name.as_str()))
            .and_then(|e| e.get("endpoint"))
            .and_then(scalar)
        {
            None => problems.push(format!("{what}: no endpoint")),
            Some(endpoint) => {
                reaches_service(&setup.compose, &what, &endpoint, &mut problems);
            }
        }
    }
    for protocol in ["grpc", "http"] {
        let path = format!("receivers.otlp.protocols.{protocol}.endpoint");
        let endpoint = at(&setup.collector, &path).and_then(scalar);
        match endpoint.as_deref().and_then(host_port) {
            Some((host, _)) if host == "0.0.0.0" => {}
            _ => problems.push(format!(
                "otel-collector.yaml {path} is {endpoint:?}: other containers reach it only on 0.0.0.0"
            )),
        }
    }
    problems
}

/// The OTLP/gRPC port of `tempo.yaml`'s distributor, and its bind host.
fn tempo_grpc_receiver(tempo: &Value) -> Option<(String, u16)> {
    at(tempo, "distributor.receivers.otlp.protocols.grpc.endpoint")
        .and_then(scalar)
        .as_deref()
        .and_then(host_port)
}

/// Tempo's OTLP/gRPC receiver listens, on 0.0.0.0, at the port the collector
/// sends to; compose declares Tempo's receiver and query ports.
fn tempo_receives_where_collector_sends(setup: &Setup) -> Vec<String> {
    let mut problems = Vec::new();
    let receiver = tempo_grpc_receiver(&setup.tempo);
    match &receiver {
        None => problems.push(
            "tempo.yaml: no distributor.receivers.otlp.protocols.grpc.endpoint (host:port)".into(),
        ),
        Some((host, _)) if host != "0.0.0.0" => problems.push(format!(
            "tempo.yaml: the OTLP gRPC receiver binds {host}: the collector, in another \
             container, needs 0.0.0.0"
        )),
        Some(_) => {}
    }
    let to_tempo: Vec<(String, u16)> = setup
        .collector
        .get("exporters")
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(name, config)| {
            let endpoint = config.get("endpoint").and_then(scalar)?;
            let (host, port) = host_port(&endpoint)?;
            (host == "tempo").then(|| (name.as_str().unwrap_or("?").to_owned(), port))
        })
        .collect();
    if to_tempo.is_empty() {
        problems.push("otel-collector.yaml: no exporter sends to tempo".into());
    }
    for (exporter, port) in to_tempo {
        if let Some((_, receiving)) = &receiver
            && port != *receiving
        {
            problems.push(format!(
                "otel-collector.yaml exporter {exporter} sends to tempo:{port}, but tempo.yaml's \
                 OTLP gRPC receiver listens on {receiving}"
            ));
        }
    }
    let compose_tempo = services(&setup.compose)
        .get("tempo")
        .map(|s| served_ports(s))
        .unwrap_or_default();
    let query = at(&setup.tempo, "server.http_listen_port").and_then(Value::as_u64);
    let declared = [
        (
            "server.http_listen_port",
            query.and_then(|p| u16::try_from(p).ok()),
        ),
        ("the OTLP gRPC receiver", receiver.map(|(_, p)| p)),
    ];
    for (what, port) in declared {
        match port {
            None => problems.push(format!("tempo.yaml: {what} has no port")),
            Some(port) if !compose_tempo.contains(&port) => problems.push(format!(
                "tempo.yaml: {what} is port {port}, which compose service tempo does not \
                 expose ({compose_tempo:?})"
            )),
            Some(_) => {}
        }
    }
    problems
}

/// Grafana's data sources name compose services and their ports; the Tempo
/// one is Tempo's query port, and is the default.
fn grafana_datasources_name_services(setup: &Setup) -> Vec<String> {
    let mut problems = Vec::new();
    let datasources = setup
        .grafana
        .get("datasources")
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default();
    let mut types = BTreeSet::new();
    for source in &datasources {
        let name = source.get("name").and_then(scalar).unwrap_or_default();
        let kind = source.get("type").and_then(scalar).unwrap_or_default();
        types.insert(kind.clone());
        let what = format!("grafana-datasource.yaml data source {name:?}");
        let Some(url) = source.get("url").and_then(scalar) else {
            problems.push(format!("{what}: no url"));
            continue;
        };
        let reached = reaches_service(&setup.compose, &what, &url, &mut problems);
        if kind == "tempo" {
            let query = at(&setup.tempo, "server.http_listen_port").and_then(Value::as_u64);
            if let Some((_, port)) = reached
                && Some(u64::from(port)) != query
            {
                problems.push(format!(
                    "{what}: {url} uses port {port}, but tempo.yaml's server.http_listen_port is {query:?}"
                ));
            }
            if source.get("isDefault").and_then(Value::as_bool) != Some(true) {
                problems.push(format!("{what}: Tempo should be the default data source"));
            }
        }
    }
    for wanted in ["tempo", "jaeger", "prometheus"] {
        if !types.contains(wanted) {
            problems.push(format!(
                "grafana-datasource.yaml: no data source of type {wanted}"
            ));
        }
    }
    problems
}

/// The port the compose model's collector takes OTLP/gRPC on: from its
/// command when it is `tracemesh collector`, else from otel-collector.yaml.
fn collector_grpc_port(compose: &Value, collector_config: &Value) -> Option<u16> {
    let service = *services(compose).get(COLLECTOR)?;
    match role(service) {
        Role::Collector => {
            let args = command(service);
            flag(&args, "--grpc-port").map_or(Some(4317), |p| p.parse().ok())
        }
        _ => at(collector_config, "receivers.otlp.protocols.grpc.endpoint")
            .and_then(scalar)
            .as_deref()
            .and_then(port_of),
    }
}

/// Every mesh service exports OTLP over gRPC to the collector's gRPC port.
fn services_export_to_collector(compose: &Value, collector_config: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let grpc_port = collector_grpc_port(compose, collector_config);
    if grpc_port.is_none() {
        problems.push(format!(
            "no OTLP gRPC port found for compose service {COLLECTOR}"
        ));
    }
    let mut mesh = 0;
    for (name, service) in services(compose) {
        if !matches!(role(service), Role::Service) {
            continue;
        }
        mesh += 1;
        let what = format!("compose service {name}");
        match env(service, "OTEL_EXPORTER_OTLP_PROTOCOL").as_deref() {
            Some("grpc") => {}
            other => problems.push(format!(
                "{what}: OTEL_EXPORTER_OTLP_PROTOCOL is {other:?}, but the endpoint is the \
                 collector's gRPC port"
            )),
        }
        let Some(endpoint) = env(service, "OTEL_EXPORTER_OTLP_ENDPOINT") else {
            problems.push(format!("{what}: no OTEL_EXPORTER_OTLP_ENDPOINT"));
            continue;
        };
        match host_port(&endpoint) {
            Some((host, port)) if host == COLLECTOR && Some(port) == grpc_port => {}
            _ => problems.push(format!(
                "{what}: OTEL_EXPORTER_OTLP_ENDPOINT is {endpoint}, but the collector takes \
                 OTLP/gRPC at {COLLECTOR}:{}",
                grpc_port.map_or("?".into(), |p| p.to_string())
            )),
        }
    }
    if mesh != 5 {
        problems.push(format!(
            "{mesh} compose services run `tracemesh service`, not 5"
        ));
    }
    problems
}

/// Every container running our image probes, with `tracemesh probe` on
/// loopback, a port its process listens on.
fn healthchecks_probe_listen_ports(compose: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, service) in services(compose) {
        let args = command(service);
        let listening: BTreeSet<u16> = match role(service) {
            Role::Service => flag(&args, "--listen")
                .and_then(port_of)
                .into_iter()
                .collect(),
            Role::Collector => served_ports(service),
            // A one-off job (the load run) or a third-party image.
            Role::Other => continue,
        };
        let what = format!("compose service {name}");
        let test = service
            .get("healthcheck")
            .and_then(|h| h.get("test"))
            .map(strings)
            .unwrap_or_default();
        let Some(at_probe) = test.iter().position(|a| a == "probe") else {
            problems.push(format!(
                "{what}: no healthcheck running `tracemesh probe` ({test:?})"
            ));
            continue;
        };
        let Some(url) = test[at_probe + 1..].iter().find(|a| !a.starts_with("--")) else {
            problems.push(format!("{what}: `probe` without a URL"));
            continue;
        };
        match host_port(url) {
            Some((host, port)) if matches!(host.as_str(), "127.0.0.1" | "localhost") => {
                if !listening.contains(&port) {
                    problems.push(format!(
                        "{what}: the healthcheck probes {url}, but the service listens on {listening:?}"
                    ));
                }
            }
            _ => problems.push(format!(
                "{what}: the healthcheck probes {url}: it should probe its own container on 127.0.0.1"
            )),
        }
    }
    problems
}

/// Every `http://host:port` in a command (`--user-url`, `--tempo`,
/// `--admin svc=URL`...) names an enabled service and a port it serves.
fn command_urls_name_services(compose: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, service) in services(compose) {
        for (i, arg) in command(service).iter().enumerate() {
            if arg.contains("://") {
                let what = format!("compose service {name}, command argument {i}");
                reaches_service(compose, &what, arg, &mut problems);
            }
        }
    }
    problems
}

/// Each of the five services runs as the topology table says: `tracemesh
/// service <name>` on its default port, its admin endpoint on the
/// container admin port, and wired to exactly the callees the table lists,
/// each by its flag and at the callee's compose name and port.
fn services_follow_the_topology(compose: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let enabled = services(compose);
    for spec in &TOPOLOGY {
        let name = spec.service.name();
        let Some(service) = enabled.get(name) else {
            problems.push(format!(
                "the topology's {name} is not an enabled compose service"
            ));
            continue;
        };
        let args = command(service);
        if args.get(..2) != Some(&["service".to_owned(), name.to_owned()][..]) {
            problems.push(format!(
                "compose service {name} does not run `service {name}`: {args:?}"
            ));
        }
        let port = spec.default_addr.port();
        let listen = flag(&args, "--listen").and_then(port_of);
        if listen != Some(port) {
            problems.push(format!(
                "compose service {name} listens on {listen:?}; the topology says {port}"
            ));
        }
        let admin = env(service, "TRACEMESH_ADMIN_LISTEN").and_then(|a| port_of(&a));
        if admin != Some(CONTAINER_ADMIN_PORT) {
            problems.push(format!(
                "compose service {name}'s admin endpoint listens on {admin:?}; \
                 the topology says {CONTAINER_ADMIN_PORT}"
            ));
        }
        for callee in spec.callees {
            let want = format!(
                "http://{}:{}",
                callee.service,
                callee.service.default_addr().port()
            );
            match flag(&args, callee.flag) {
                Some(got) if got == want => {}
                got => problems.push(format!(
                    "compose service {name} is not wired to {} as the topology says \
                     ({} {want}); it has {got:?}",
                    callee.service, callee.flag
                )),
            }
        }
        for arg in args
            .iter()
            .filter(|a| a.starts_with("--") && a.ends_with("-url"))
        {
            if !spec.callees.iter().any(|c| c.flag == arg) {
                problems.push(format!(
                    "compose service {name} has {arg}, a call the topology does not list"
                ));
            }
        }
    }
    problems
}

/// `depends_on` names enabled services only (Compose refuses the file
/// otherwise), and a mesh service waits for every service it calls to be
/// healthy, so `up` brings the mesh up in order.
fn dependencies_bring_the_mesh_up_in_order(compose: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let enabled = services(compose);
    for (name, service) in &enabled {
        let depends: BTreeMap<String, String> = match service.get("depends_on") {
            Some(Value::Mapping(map)) => map
                .iter()
                .filter_map(|(k, v)| {
                    let condition = v.get("condition").and_then(scalar).unwrap_or_default();
                    Some((k.as_str()?.to_owned(), condition))
                })
                .collect(),
            Some(list) => strings(list)
                .into_iter()
                .map(|s| (s, "service_started".to_owned()))
                .collect(),
            None => BTreeMap::new(),
        };
        for dependency in depends.keys() {
            if !enabled.contains_key(dependency) {
                problems.push(format!(
                    "compose service {name} depends on {dependency}, which is not enabled"
                ));
            }
        }
        if !matches!(role(service), Role::Service) {
            continue;
        }
        for arg in command(service).iter().filter(|a| a.contains("://")) {
            let Some((callee, _)) = host_port(arg) else {
                continue;
            };
            let callee_is_mesh = enabled
                .get(&callee)
                .is_some_and(|s| matches!(role(s), Role::Service));
            if callee_is_mesh && depends.get(&callee).map(String::as_str) != Some("service_healthy")
            {
                problems.push(format!(
                    "compose service {name} calls {callee} but does not wait for it \
                     (depends_on: {callee}: condition: service_healthy)"
                ));
            }
        }
    }
    problems
}

/// The runtime image has the same contract whichever way it is built: the
/// Dockerfile's final stage and build-images.sh's generated Dockerfile set
/// the same ENTRYPOINT, USER and ENV, and the compose file uses the tag the
/// script builds.
fn image_contract_agrees(texts: &Texts) -> Vec<String> {
    let mut problems = Vec::new();
    let dockerfile = texts.text("Dockerfile");
    // The runtime stage: everything after the last FROM.
    let runtime = dockerfile
        .rfind("\nFROM ")
        .map_or(dockerfile, |at| &dockerfile[at..]);
    let script = texts.text("scripts/build-images.sh");
    let generated = script
        .split_once("\nFROM scratch\n")
        .and_then(|(_, rest)| rest.split_once("\nEOF"))
        .map(|(body, _)| body)
        .unwrap_or_default();
    if generated.is_empty() {
        problems.push("scripts/build-images.sh: no generated `FROM scratch` Dockerfile".into());
    }
    for instruction in ["ENTRYPOINT", "USER", "ENV", "WORKDIR", "CMD"] {
        let ours = instructions(runtime, instruction);
        let theirs = instructions(generated, instruction);
        if ours.is_empty() {
            problems.push(format!(
                "Dockerfile: the runtime stage has no {instruction}"
            ));
        }
        if ours != theirs {
            problems.push(format!(
                "{instruction} differs: Dockerfile has {ours:?}, scripts/build-images.sh builds {theirs:?}"
            ));
        }
    }
    let envs = env_pairs(&instructions(runtime, "ENV"));
    for (key, value) in [
        ("TRACEMESH_DATA_DIR", "/data"),
        ("TRACEMESH_LOG_FORMAT", "json"),
    ] {
        if envs.get(key).map(String::as_str) != Some(value) {
            problems.push(format!(
                "Dockerfile: ENV {key} should be {value}, is {:?}",
                envs.get(key)
            ));
        }
    }
    if !instructions(runtime, "USER")
        .iter()
        .all(|u| u.starts_with("10001"))
    {
        problems.push("Dockerfile: the runtime user should be uid 10001".into());
    }
    let tag = "${TRACEMESH_IMAGE:-tracemesh:local}";
    if !script.contains(tag) {
        problems.push(format!("scripts/build-images.sh does not tag {tag}"));
    }
    let compose = texts.text("docker-compose.yml");
    if !compose.contains(&format!("image: {tag}")) {
        problems.push(format!("docker-compose.yml does not run image {tag}"));
    }
    problems
}

/// The arguments of every `instruction` line (continuations joined).
fn instructions(dockerfile: &str, instruction: &str) -> Vec<String> {
    let joined = dockerfile.replace("\\\n", " ");
    joined
        .lines()
        .map(str::trim)
        .filter_map(|line| line.strip_prefix(instruction)?.strip_prefix(' '))
        .map(|args| args.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// `ENV A=1 B=2` lines as a map.
fn env_pairs(lines: &[String]) -> BTreeMap<String, String> {
    lines
        .iter()
        .flat_map(|line| line.split_whitespace())
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

// ---------------------------------------------------------------------------
// Prometheus and Grafana.

/// A compose service by name, whatever its profiles (the local file puts
/// Prometheus in the `metrics` profile, which [`services`] leaves out).
fn any_service<'a>(compose: &'a Value, name: &str) -> Option<&'a Mapping> {
    compose.get("services")?.get(name)?.as_mapping()
}

/// `(source, target)` of a service's bind mounts (`./a:/b[:ro]`).
fn mounts(service: &Mapping) -> Vec<(String, String)> {
    service
        .get("volumes")
        .map(strings)
        .unwrap_or_default()
        .iter()
        .filter_map(|volume| {
            let mut parts = volume.split(':');
            Some((parts.next()?.to_owned(), parts.next()?.to_owned()))
        })
        .collect()
}

/// The repository file mounted at `target` in `service`, if any.
fn mounted_at(service: &Mapping, target: &str) -> Option<String> {
    mounts(service)
        .into_iter()
        .find(|(_, t)| t == target)
        .map(|(source, _)| source.trim_start_matches("./").to_owned())
}

/// prometheus.yml scrapes every service of the topology at its compose name
/// and admin port, on the admin path of the metrics, with the services'
/// admin token as a bearer token; every target is a compose service serving
/// that port; compose mounts the config and the token file where the flags
/// and the config say.
fn prometheus_scrapes_every_service(texts: &Texts, setup: &Setup) -> Vec<String> {
    let mut problems = Vec::new();
    let jobs = setup
        .prometheus
        .get("scrape_configs")
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default();
    // target -> (job, metrics_path, credentials_file)
    let mut scraped: BTreeMap<String, (String, String, Option<String>)> = BTreeMap::new();
    for job in &jobs {
        let name = job.get("job_name").and_then(scalar).unwrap_or_default();
        let path = job
            .get("metrics_path")
            .and_then(scalar)
            .unwrap_or_else(|| "/metrics".into());
        let credentials = at(job, "authorization.credentials_file").and_then(scalar);
        let kind = at(job, "authorization.type")
            .and_then(scalar)
            .unwrap_or_else(|| "Bearer".into());
        if credentials.is_some() && kind != "Bearer" {
            problems.push(format!(
                "prometheus.yml job {name}: authorization type {kind}, but the admin endpoint takes a Bearer token"
            ));
        }
        let configs = job
            .get("static_configs")
            .and_then(Value::as_sequence)
            .cloned()
            .unwrap_or_default();
        for target in configs
            .iter()
            .filter_map(|c| c.get("targets"))
            .flat_map(strings)
        {
            let what = format!("prometheus.yml job {name} target");
            reaches_service(&setup.compose, &what, &target, &mut problems);
            scraped.insert(target, (name.clone(), path.clone(), credentials.clone()));
        }
    }
    let mut credential_files = BTreeSet::new();
    for spec in &TOPOLOGY {
        let name = spec.service.name();
        let target = format!("{name}:{CONTAINER_ADMIN_PORT}");
        match scraped.get(&target) {
            None => problems.push(format!(
                "prometheus.yml: {name} is not scraped at {target} (its admin listener)"
            )),
            Some((job, path, credentials)) => {
                if path != METRICS {
                    problems.push(format!(
                        "prometheus.yml job {job}: metrics_path {path}, but the services serve {METRICS}"
                    ));
                }
                match credentials {
                    None => problems.push(format!(
                        "prometheus.yml job {job}: no authorization.credentials_file, but {METRICS} \
                         on the admin listener needs the admin token"
                    )),
                    Some(file) => {
                        credential_files.insert(file.clone());
                    }
                }
            }
        }
    }
    let Some(prometheus) = any_service(&setup.compose, PROMETHEUS) else {
        problems.push(format!("docker-compose.yml: no {PROMETHEUS} service"));
        return problems;
    };
    // The token the services default to, and the one Prometheus sends.
    let service_token = services(&setup.compose)
        .values()
        .filter(|s| matches!(role(s), Role::Service))
        .find_map(|s| env(s, "TRACEMESH_ADMIN_TOKEN"));
    let default_token = service_token.as_deref().and_then(interpolation_default);
    for file in credential_files {
        match mounted_at(prometheus, &file) {
            None => problems.push(format!(
                "prometheus.yml reads the token from {file}, which compose does not mount into {PROMETHEUS}"
            )),
            Some(source) => match texts.get(&source) {
                None => problems.push(format!(
                    "compose mounts {source} at {file}: not a file the checks know (add it to FILES)"
                )),
                Some(token) if Some(token.trim()) != default_token => problems.push(format!(
                    "the token in {source} ({:?}) is not the services' default admin token \
                     ({service_token:?}): Prometheus' scrapes would get 401",
                    token.trim()
                )),
                Some(_) => {}
            },
        }
    }
    let args = command(prometheus);
    match flag(&args, "--config.file") {
        None => problems.push(format!("compose service {PROMETHEUS}: no --config.file")),
        Some(config) => match mounted_at(prometheus, config).as_deref() {
            Some("prometheus.yml") => {}
            other => problems.push(format!(
                "compose service {PROMETHEUS} reads {config}, where {other:?} is mounted, not prometheus.yml"
            )),
        },
    }
    problems
}

/// Prometheus keeps exemplars (a flag, in both compose files) and publishes
/// its port; offline, it runs the image build-images.sh builds.
fn prometheus_keeps_exemplars(texts: &Texts, setup: &Setup) -> Vec<String> {
    let mut problems = Vec::new();
    for (label, compose) in [
        ("docker-compose.yml", &setup.compose),
        ("with docker-compose.local.yml", &setup.local),
    ] {
        let Some(prometheus) = any_service(compose, PROMETHEUS) else {
            problems.push(format!("[{label}] no {PROMETHEUS} service"));
            continue;
        };
        let args = command(prometheus);
        let features: Vec<&str> = args
            .iter()
            .filter_map(|a| a.strip_prefix("--enable-feature="))
            .flat_map(|list| list.split(','))
            .collect();
        if !features.contains(&"exemplar-storage") {
            problems.push(format!(
                "[{label}] {PROMETHEUS} runs without --enable-feature=exemplar-storage \
                 (features: {features:?}): it would drop every exemplar"
            ));
        }
        let listen = flag(&args, "--web.listen-address").and_then(port_of);
        let served = served_ports(prometheus);
        if listen.is_none_or(|port| !served.contains(&port)) {
            problems.push(format!(
                "[{label}] {PROMETHEUS} listens on {listen:?}, but compose declares {served:?}"
            ));
        }
    }
    let local_image = any_service(&setup.local, PROMETHEUS)
        .and_then(|s| s.get("image"))
        .and_then(scalar);
    if local_image.as_deref() != Some(LOCAL_PROMETHEUS_IMAGE) {
        problems.push(format!(
            "docker-compose.local.yml: {PROMETHEUS} runs {local_image:?}, not the locally built \
             {LOCAL_PROMETHEUS_IMAGE}"
        ));
    }
    let script = texts.text("scripts/build-images.sh");
    let tag = LOCAL_PROMETHEUS_IMAGE
        .trim_start_matches("${")
        .trim_end_matches('}');
    if !script.contains(tag) {
        problems.push(format!("scripts/build-images.sh does not tag {tag}"));
    }
    problems
}

/// Every string under `key` anywhere in a JSON document.
fn json_strings<'a>(value: &'a serde_json::Value, key: &str, found: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) if k == key => found.push(s),
                    _ => json_strings(v, key, found),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                json_strings(item, key, found);
            }
        }
        _ => {}
    }
}

/// Every data source uid Grafana's provisioning refers to exists: the
/// Prometheus exemplar link (whose label is the contract's trace id key),
/// Tempo's trace-to-metrics and service map, and the dashboards' data
/// sources. The provisioning files are mounted where Grafana and the
/// provider look.
fn grafana_references_resolve(setup: &Setup) -> Vec<String> {
    let mut problems = Vec::new();
    let datasources = setup
        .grafana
        .get("datasources")
        .and_then(Value::as_sequence)
        .cloned()
        .unwrap_or_default();
    let uids: BTreeSet<String> = datasources
        .iter()
        .filter_map(|d| d.get("uid").and_then(scalar))
        .collect();
    let mut referenced: Vec<(String, String)> = Vec::new();
    for source in &datasources {
        let name = source.get("name").and_then(scalar).unwrap_or_default();
        let what = format!("grafana-datasource.yaml data source {name:?}");
        let destinations = at(source, "jsonData.exemplarTraceIdDestinations")
            .and_then(Value::as_sequence)
            .cloned()
            .unwrap_or_default();
        for destination in &destinations {
            let label = destination.get("name").and_then(scalar);
            if label.as_deref() != Some(metric::EXEMPLAR_TRACE_ID) {
                problems.push(format!(
                    "{what}: the exemplar link reads label {label:?}, but exemplars carry {}",
                    metric::EXEMPLAR_TRACE_ID
                ));
            }
            if let Some(uid) = destination.get("datasourceUid").and_then(scalar) {
                referenced.push((format!("{what} exemplarTraceIdDestinations"), uid));
            }
        }
        for field in ["tracesToMetrics", "serviceMap"] {
            if let Some(uid) =
                at(source, &format!("jsonData.{field}.datasourceUid")).and_then(scalar)
            {
                referenced.push((format!("{what} {field}"), uid));
            }
        }
        if source.get("type").and_then(scalar).as_deref() == Some("prometheus")
            && destinations.is_empty()
        {
            problems.push(format!(
                "{what}: no exemplarTraceIdDestinations (exemplars link nowhere)"
            ));
        }
    }
    for (file, dashboard) in &setup.dashboards {
        let mut found = Vec::new();
        json_strings(dashboard, "uid", &mut found);
        // The dashboard's own uid is not a data source.
        let own = dashboard.get("uid").and_then(serde_json::Value::as_str);
        for uid in found.into_iter().filter(|u| Some(*u) != own) {
            referenced.push((format!("{file} data source"), uid.to_owned()));
        }
    }
    for (what, uid) in referenced {
        if !uids.contains(&uid) {
            problems.push(format!(
                "{what}: data source uid {uid} is not provisioned ({uids:?})"
            ));
        }
    }
    // Where Grafana reads the provisioning files, and where the provider
    // looks for dashboards.
    let Some(grafana) = any_service(&setup.compose, "grafana") else {
        problems.push("docker-compose.yml: no grafana service".into());
        return problems;
    };
    let mounted = mounts(grafana);
    let mounted_from = |source: &str| {
        mounted
            .iter()
            .find(|(s, _)| s.trim_start_matches("./") == source)
            .map(|(_, t)| t.clone())
    };
    for (source, under) in [
        (
            "grafana-datasource.yaml",
            "/etc/grafana/provisioning/datasources/",
        ),
        (
            "grafana/dashboards.yaml",
            "/etc/grafana/provisioning/dashboards/",
        ),
    ] {
        match mounted_from(source) {
            Some(target) if target.starts_with(under) => {}
            other => problems.push(format!(
                "compose service grafana mounts {source} at {other:?}, not under {under}"
            )),
        }
    }
    let paths: Vec<String> = setup
        .dashboard_provider
        .get("providers")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|p| at(p, "options.path").and_then(scalar))
        .collect();
    let dashboards_dir = mounted_from("grafana/dashboards");
    if paths.is_empty() || paths.iter().any(|p| Some(p) != dashboards_dir.as_ref()) {
        problems.push(format!(
            "grafana/dashboards.yaml loads dashboards from {paths:?}, but compose mounts \
             grafana/dashboards at {dashboards_dir:?}"
        ));
    }
    problems
}

/// The series names the services expose: each histogram's `_bucket`,
/// `_count` and `_sum`, each counter's `_total`.
fn exposed_series() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for family in metric::HISTOGRAMS {
        for suffix in ["_bucket", "_count", "_sum"] {
            names.insert(format!("{}{suffix}", family.exposed));
        }
    }
    for family in metric::COUNTERS {
        names.insert(format!("{}_total", family.exposed));
    }
    names
}

/// The identifiers of a PromQL expression that name series: those ending in
/// a series suffix, or starting with a family's name. Quoted label values
/// are skipped; functions and label keys match neither rule.
fn series_names(expr: &str) -> Vec<String> {
    let mut unquoted = String::new();
    let mut quote = None;
    for c in expr.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' || c == '`' => quote = Some(c),
            None => unquoted.push(c),
        }
    }
    let families: Vec<&str> = metric::HISTOGRAMS
        .iter()
        .chain(metric::COUNTERS.iter())
        .map(|f| f.name)
        .collect();
    unquoted
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|word| {
            ["_bucket", "_count", "_sum", "_total"]
                .iter()
                .any(|suffix| word.ends_with(suffix))
                || families.iter().any(|family| word.starts_with(family))
        })
        .map(str::to_owned)
        .collect()
}

/// Every PromQL expression of the dashboards and of Tempo's trace-to-metrics
/// queries names at least one series, and only series the services expose;
/// the trace-to-metrics tags map service.name to the label the series
/// carry; the dashboards' quantile queries ask for exemplars; Grafana's own
/// `$` variables in the provisioning file are escaped from its environment
/// expansion.
fn queries_use_exposed_metrics(setup: &Setup) -> Vec<String> {
    let mut problems = Vec::new();
    let known = exposed_series();
    let mut expressions: Vec<(String, String)> = Vec::new();
    for (file, dashboard) in &setup.dashboards {
        let mut found = Vec::new();
        json_strings(dashboard, "expr", &mut found);
        if found.is_empty() {
            problems.push(format!("{file}: no query"));
        }
        expressions.extend(found.into_iter().map(|e| (file.to_string(), e.to_owned())));
        check_exemplars_requested(file, dashboard, &mut problems);
    }
    for source in setup
        .grafana
        .get("datasources")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        let Some(traces_to_metrics) = at(source, "jsonData.tracesToMetrics") else {
            continue;
        };
        let what = "grafana-datasource.yaml tracesToMetrics".to_owned();
        let mapped: Vec<(String, String)> = traces_to_metrics
            .get("tags")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(|t| {
                Some((
                    t.get("key").and_then(scalar)?,
                    t.get("value").and_then(scalar)?,
                ))
            })
            .collect();
        if !mapped.contains(&("service.name".to_owned(), metric::SERVICE_NAME.to_owned())) {
            problems.push(format!(
                "{what}: tags map {mapped:?}, not service.name to {}",
                metric::SERVICE_NAME
            ));
        }
        for query in traces_to_metrics
            .get("queries")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(|q| q.get("query").and_then(scalar))
        {
            // Grafana expands $NAME from its environment in provisioning
            // files; `$$` is a literal `$`.
            let lone_dollar = query.split("$$").any(|piece| piece.contains('$'));
            if lone_dollar {
                problems.push(format!(
                    "{what}: {query:?} has a `$` Grafana expands from its environment; write $$"
                ));
            }
            if !query.contains("__tags") {
                problems.push(format!(
                    "{what}: {query:?} does not filter by the span's tags"
                ));
            }
            expressions.push((what.clone(), query));
        }
    }
    for (what, expr) in expressions {
        let names = series_names(&expr);
        if names.is_empty() {
            problems.push(format!(
                "{what}: {expr:?} names no series the services expose"
            ));
        }
        for name in names.into_iter().filter(|n| !known.contains(n)) {
            problems.push(format!(
                "{what}: {name} in {expr:?} is not a metric the services expose \
                 (tracemesh_runtime::contract::metric)"
            ));
        }
    }
    problems
}

/// Each panel target computing a quantile shows exemplars.
fn check_exemplars_requested(
    file: &str,
    dashboard: &serde_json::Value,
    problems: &mut Vec<String>,
) {
    let mut panels = Vec::new();
    collect_panels(dashboard, &mut panels);
    for panel in panels {
        let title = panel
            .get("title")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("?");
        for target in panel
            .get("targets")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
        {
            let expr = target
                .get("expr")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default();
            let exemplar = target.get("exemplar").and_then(serde_json::Value::as_bool);
            if expr.contains("histogram_quantile") && exemplar != Some(true) {
                problems.push(format!(
                    "{file} panel {title:?}: {expr:?} computes a duration without `exemplar: true`"
                ));
            }
        }
    }
}

fn collect_panels<'a>(value: &'a serde_json::Value, found: &mut Vec<&'a serde_json::Value>) {
    for panel in value
        .get("panels")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        found.push(panel);
        collect_panels(panel, found);
    }
}

/// Every check on the base demo and on the local override.
fn all_problems(texts: &Texts) -> Vec<String> {
    let setup = Setup::parse(texts);
    let mut problems = Vec::new();
    problems.extend(collector_exporters_reach_services(&setup));
    problems.extend(tempo_receives_where_collector_sends(&setup));
    problems.extend(grafana_datasources_name_services(&setup));
    problems.extend(image_contract_agrees(texts));
    problems.extend(prometheus_scrapes_every_service(texts, &setup));
    problems.extend(prometheus_keeps_exemplars(texts, &setup));
    problems.extend(grafana_references_resolve(&setup));
    problems.extend(queries_use_exposed_metrics(&setup));
    for (label, compose) in [
        ("base", &setup.compose),
        ("with docker-compose.local.yml", &setup.local),
    ] {
        let checks = [
            services_export_to_collector(compose, &setup.collector),
            healthchecks_probe_listen_ports(compose),
            command_urls_name_services(compose),
            dependencies_bring_the_mesh_up_in_order(compose),
            services_follow_the_topology(compose),
        ];
        problems.extend(
            checks
                .into_iter()
                .flatten()
                .map(|p| format!("[{label}] {p}")),
        );
    }
    problems
}

// ---------------------------------------------------------------------------
// The tests.

#[test]
fn the_shipped_files_agree() {
    let problems = all_problems(&real_texts());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_override_keeps_the_services_and_disables_the_external_backends() {
    let setup = Setup::parse(&real_texts());
    let base: BTreeSet<String> = services(&setup.compose).keys().cloned().collect();
    let local: BTreeSet<String> = services(&setup.local).keys().cloned().collect();
    for backend in ["tempo", "jaeger", "grafana"] {
        assert!(base.contains(backend), "the demo has {backend}");
        assert!(!local.contains(backend), "the override disables {backend}");
    }
    for kept in [
        "gateway",
        "user",
        "order",
        "inventory",
        "payment",
        COLLECTOR,
        "load",
    ] {
        assert!(local.contains(kept), "the override keeps {kept}");
    }
    // The override's collector is ours, and the load run reads it.
    let collector = services(&setup.local)[COLLECTOR];
    assert!(matches!(role(collector), Role::Collector));
    let load = command(services(&setup.local)["load"]);
    assert_eq!(flag(&load, "--tempo"), Some("http://otel-collector:4318"));
    // Prometheus runs offline from the image build-images.sh builds, in a
    // profile of its own (the demo comes up without that image).
    let prometheus = any_service(&setup.local, PROMETHEUS).expect("a prometheus service");
    assert_eq!(
        prometheus.get("image").and_then(scalar).as_deref(),
        Some(LOCAL_PROMETHEUS_IMAGE)
    );
    assert!(
        !local.contains(PROMETHEUS),
        "Prometheus needs --profile metrics offline"
    );
    assert!(base.contains(PROMETHEUS), "the demo has Prometheus");
    // Same tag for our image everywhere.
    let image = |s: &Mapping| s.get("image").and_then(scalar).unwrap_or_default();
    assert_eq!(image(collector), image(services(&setup.local)["gateway"]));
}

#[test]
fn every_check_reports_a_planted_mismatch() {
    let real = real_texts();
    // A check run on (possibly planted) texts.
    type Check = fn(&Texts) -> Vec<String>;
    type BoxedCheck = Box<dyn Fn(&Texts) -> Vec<String>>;
    // A compose check run on the base file, or on base + override.
    let base = |f: fn(&Value) -> Vec<String>| move |t: &Texts| f(&Setup::parse(t).compose);
    let local = |f: fn(&Value) -> Vec<String>| move |t: &Texts| f(&Setup::parse(t).local);
    // (file, from, to, the check that must complain, a word of its reason)
    let cases: Vec<(&str, &str, &str, BoxedCheck, &str)> = vec![
        (
            "otel-collector.yaml",
            "endpoint: jaeger:4317",
            "endpoint: jaeger:14250",
            Box::new(|t: &Texts| collector_exporters_reach_services(&Setup::parse(t))),
            "uses port 14250",
        ),
        (
            "otel-collector.yaml",
            "endpoint: tempo:4317",
            "endpoint: tempo-db:4317",
            Box::new(|t: &Texts| collector_exporters_reach_services(&Setup::parse(t))),
            "not an enabled compose service",
        ),
        (
            "otel-collector.yaml",
            "endpoint: 0.0.0.0:4317",
            "endpoint: localhost:4317",
            Box::new(|t: &Texts| collector_exporters_reach_services(&Setup::parse(t))),
            "0.0.0.0",
        ),
        (
            "tempo.yaml",
            "endpoint: 0.0.0.0:4317",
            "endpoint: 0.0.0.0:4417",
            Box::new(|t: &Texts| tempo_receives_where_collector_sends(&Setup::parse(t))),
            "listens on 4417",
        ),
        (
            "tempo.yaml",
            "endpoint: 0.0.0.0:4317",
            "endpoint: localhost:4317",
            Box::new(|t: &Texts| tempo_receives_where_collector_sends(&Setup::parse(t))),
            "binds localhost",
        ),
        (
            "tempo.yaml",
            "http_listen_port: 3200",
            "http_listen_port: 3100",
            Box::new(|t: &Texts| tempo_receives_where_collector_sends(&Setup::parse(t))),
            "port 3100",
        ),
        (
            "tempo.yaml",
            "http_listen_port: 3200",
            "http_listen_port: 3100",
            Box::new(|t: &Texts| grafana_datasources_name_services(&Setup::parse(t))),
            "http_listen_port is Some(3100)",
        ),
        (
            "grafana-datasource.yaml",
            "url: http://jaeger:16686",
            "url: http://jaeger-query:16686",
            Box::new(|t: &Texts| grafana_datasources_name_services(&Setup::parse(t))),
            "not an enabled compose service",
        ),
        (
            "grafana-datasource.yaml",
            "url: http://tempo:3200",
            "url: http://tempo:3100",
            Box::new(|t: &Texts| grafana_datasources_name_services(&Setup::parse(t))),
            "uses port 3100",
        ),
        (
            "docker-compose.yml",
            "OTEL_EXPORTER_OTLP_ENDPOINT: http://otel-collector:4317",
            "OTEL_EXPORTER_OTLP_ENDPOINT: http://otel-collector:4318",
            Box::new(|t: &Texts| {
                let setup = Setup::parse(t);
                services_export_to_collector(&setup.compose, &setup.collector)
            }),
            "OTEL_EXPORTER_OTLP_ENDPOINT is http://otel-collector:4318",
        ),
        (
            "docker-compose.local.yml",
            "- --grpc-port\n      - \"4317\"",
            "- --grpc-port\n      - \"4327\"",
            Box::new(|t: &Texts| {
                let setup = Setup::parse(t);
                services_export_to_collector(&setup.local, &setup.collector)
            }),
            "otel-collector:4327",
        ),
        (
            "docker-compose.yml",
            "\"probe\", \"tcp://127.0.0.1:50053\"",
            "\"probe\", \"tcp://127.0.0.1:50054\"",
            Box::new(base(healthchecks_probe_listen_ports)),
            "probes tcp://127.0.0.1:50054",
        ),
        (
            "docker-compose.local.yml",
            "http://127.0.0.1:4318/ready",
            "http://127.0.0.1:3200/ready",
            Box::new(local(healthchecks_probe_listen_ports)),
            "probes http://127.0.0.1:3200/ready",
        ),
        (
            "docker-compose.yml",
            "- http://order:50052",
            "- http://order:50055",
            Box::new(base(command_urls_name_services)),
            "uses port 50055",
        ),
        (
            "docker-compose.yml",
            "- http://tempo:3200",
            "- http://tempo:3100",
            Box::new(base(command_urls_name_services)),
            "uses port 3100",
        ),
        (
            "docker-compose.local.yml",
            "- http://otel-collector:4318",
            "- http://otel-collector:3200",
            Box::new(local(command_urls_name_services)),
            "uses port 3200",
        ),
        (
            "docker-compose.yml",
            "\"--listen\", \"0.0.0.0:50051\"",
            "\"--listen\", \"0.0.0.0:50061\"",
            Box::new(base(services_follow_the_topology)),
            "listens on Some(50061); the topology says 50051",
        ),
        (
            "docker-compose.yml",
            "      - --payment-url\n      - http://payment:8081\n",
            "",
            Box::new(base(services_follow_the_topology)),
            "not wired to payment",
        ),
        (
            "docker-compose.yml",
            "TRACEMESH_ADMIN_LISTEN: 0.0.0.0:9000",
            "TRACEMESH_ADMIN_LISTEN: 0.0.0.0:9100",
            Box::new(local(services_follow_the_topology)),
            "admin endpoint listens on Some(9100)",
        ),
        (
            "docker-compose.yml",
            "      payment:\n        condition: service_healthy",
            "      payment:\n        condition: service_started",
            Box::new(base(dependencies_bring_the_mesh_up_in_order)),
            "calls payment but does not wait for it",
        ),
        (
            "docker-compose.local.yml",
            "  grafana:\n    profiles: [\"external-backends\"]",
            "  gateway:\n    profiles: [\"external-backends\"]",
            Box::new(local(dependencies_bring_the_mesh_up_in_order)),
            "depends on gateway, which is not enabled",
        ),
        (
            "prometheus.yml",
            "- payment:9000",
            "- payment:9100",
            Box::new(|t: &Texts| prometheus_scrapes_every_service(t, &Setup::parse(t))),
            "payment is not scraped at payment:9000",
        ),
        (
            "prometheus.yml",
            "- payment:9000",
            "- payment:9100",
            Box::new(|t: &Texts| prometheus_scrapes_every_service(t, &Setup::parse(t))),
            "uses port 9100",
        ),
        (
            "prometheus.yml",
            "metrics_path: /metrics",
            "metrics_path: /stats",
            Box::new(|t: &Texts| prometheus_scrapes_every_service(t, &Setup::parse(t))),
            "metrics_path /stats",
        ),
        (
            "prometheus.yml",
            "credentials_file: /etc/prometheus/admin-token",
            "credentials_file: /etc/prometheus/token",
            Box::new(|t: &Texts| prometheus_scrapes_every_service(t, &Setup::parse(t))),
            "does not mount into prometheus",
        ),
        (
            "prometheus-admin-token",
            "workshop",
            "letmein",
            Box::new(|t: &Texts| prometheus_scrapes_every_service(t, &Setup::parse(t))),
            "not the services' default admin token",
        ),
        (
            "docker-compose.yml",
            "- --enable-feature=exemplar-storage",
            "- --enable-feature=memory-snapshot-on-shutdown",
            Box::new(|t: &Texts| prometheus_keeps_exemplars(t, &Setup::parse(t))),
            "without --enable-feature=exemplar-storage",
        ),
        (
            "docker-compose.local.yml",
            "image: ${TRACEMESH_PROMETHEUS_IMAGE:-tracemesh-prometheus:local}",
            "image: prom/prometheus:v3.5.0",
            Box::new(|t: &Texts| prometheus_keeps_exemplars(t, &Setup::parse(t))),
            "not the locally built",
        ),
        (
            "grafana-datasource.yaml",
            "datasourceUid: tempo",
            "datasourceUid: tempo-traces",
            Box::new(|t: &Texts| grafana_references_resolve(&Setup::parse(t))),
            "uid tempo-traces is not provisioned",
        ),
        (
            "grafana-datasource.yaml",
            "- name: trace_id",
            "- name: traceID",
            Box::new(|t: &Texts| grafana_references_resolve(&Setup::parse(t))),
            "reads label Some(\"traceID\")",
        ),
        (
            "grafana/dashboards/red.json",
            "\"uid\": \"prometheus\"",
            "\"uid\": \"mimir\"",
            Box::new(|t: &Texts| grafana_references_resolve(&Setup::parse(t))),
            "uid mimir is not provisioned",
        ),
        (
            "grafana/dashboards.yaml",
            "path: /var/lib/grafana/dashboards/tracemesh",
            "path: /var/lib/grafana/dashboards",
            Box::new(|t: &Texts| grafana_references_resolve(&Setup::parse(t))),
            "loads dashboards from",
        ),
        (
            "grafana/dashboards/red.json",
            "http_server_request_duration_seconds_bucket",
            "http_server_request_duration_second_bucket",
            Box::new(|t: &Texts| queries_use_exposed_metrics(&Setup::parse(t))),
            "http_server_request_duration_second_bucket in",
        ),
        (
            "grafana/dashboards/red.json",
            "(rate(tracemesh_orders_placed_total[",
            "(rate(tracemesh_orders_total[",
            Box::new(|t: &Texts| queries_use_exposed_metrics(&Setup::parse(t))),
            "tracemesh_orders_total in",
        ),
        (
            "grafana/dashboards/red.json",
            "\"exemplar\": true",
            "\"exemplar\": false",
            Box::new(|t: &Texts| queries_use_exposed_metrics(&Setup::parse(t))),
            "without `exemplar: true`",
        ),
        (
            "grafana-datasource.yaml",
            "rpc_server_call_duration_seconds_count{$${__tags}}",
            "grpc_server_handled_total{$${__tags}}",
            Box::new(|t: &Texts| queries_use_exposed_metrics(&Setup::parse(t))),
            "grpc_server_handled_total in",
        ),
        (
            "grafana-datasource.yaml",
            "rpc_server_call_duration_seconds_count{$${__tags}}",
            "rpc_server_call_duration_seconds_count{${__tags}}",
            Box::new(|t: &Texts| queries_use_exposed_metrics(&Setup::parse(t))),
            "write $$",
        ),
        (
            "grafana-datasource.yaml",
            "value: service_name",
            "value: service",
            Box::new(|t: &Texts| queries_use_exposed_metrics(&Setup::parse(t))),
            "not service.name to service_name",
        ),
        (
            "Dockerfile",
            "USER 10001:10001",
            "USER 1000:1000",
            Box::new(image_contract_agrees as Check),
            "USER differs",
        ),
        (
            "scripts/build-images.sh",
            "ENV TRACEMESH_DATA_DIR=/data TRACEMESH_LOG_FORMAT=json",
            "ENV TRACEMESH_DATA_DIR=/var/lib/tracemesh TRACEMESH_LOG_FORMAT=json",
            Box::new(image_contract_agrees as Check),
            "ENV differs",
        ),
        (
            "Dockerfile",
            "ENTRYPOINT [\"/usr/local/bin/tracemesh\"]",
            "ENTRYPOINT [\"/tracemesh\"]",
            Box::new(image_contract_agrees as Check),
            "ENTRYPOINT differs",
        ),
    ];
    for (file, from, to, check, reason) in cases {
        assert_eq!(
            check(&real),
            Vec::<String>::new(),
            "the shipped files pass before planting {to:?}"
        );
        let planted = real.planting(file, from, to);
        let problems = check(&planted);
        assert!(
            problems.iter().any(|p| p.contains(reason)),
            "planting {to:?} in {file} should be reported ({reason:?}); got {problems:#?}"
        );
        // And the full run names it too: nothing filters a check's finding.
        assert!(
            all_problems(&planted).iter().any(|p| p.contains(reason)),
            "all_problems misses {reason:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// docker-compose itself.

/// `docker-compose` (1.x) or `docker compose` (v2), whichever is installed.
fn compose_cli() -> Option<Vec<&'static str>> {
    let works = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works("docker-compose", &["version"]) {
        Some(vec!["docker-compose"])
    } else if works("docker", &["compose", "version"]) {
        Some(vec!["docker", "compose"])
    } else {
        None
    }
}

fn images_required() -> bool {
    std::env::var("TRACEMESH_REQUIRE_IMAGES").is_ok_and(|v| v == "1")
}

#[test]
fn docker_compose_accepts_both_files() {
    let Some(cli) = compose_cli() else {
        assert!(
            !images_required(),
            "TRACEMESH_REQUIRE_IMAGES=1 but neither docker-compose nor `docker compose` is installed"
        );
        eprintln!("skipped: neither docker-compose nor `docker compose` is installed");
        return;
    };
    for files in [
        &["docker-compose.yml"][..],
        &["docker-compose.yml", "docker-compose.local.yml"],
    ] {
        let mut args: Vec<&str> = cli[1..].to_vec();
        for file in files {
            args.extend(["-f", file]);
        }
        // `config --quiet` validates (schema, interpolation, references)
        // without printing the result; the profiles include the load
        // service and the offline Prometheus in what is validated.
        args.extend([
            "--profile",
            "load",
            "--profile",
            "metrics",
            "config",
            "--quiet",
        ]);
        let output = Command::new(cli[0])
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("the compose CLI runs");
        assert!(
            output.status.success(),
            "{} {}: {}",
            cli[0],
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
