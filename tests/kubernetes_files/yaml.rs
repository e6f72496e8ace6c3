//! Small readers over `serde_yaml::Value`: paths, scalars, lists, container
//! fields, environment sources and ports.

use super::*;
pub(crate) use common::yaml::{Texts, at, host_port, interpolation_default, scalar, strings};

pub(crate) fn seq(value: &Value) -> Vec<Value> {
    value.as_sequence().cloned().unwrap_or_default()
}

/// The value after `flag` in `args`.
pub(crate) fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// A URL must name a Service a pod can reach, on a port it serves.
pub(crate) fn reaches(
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
pub(crate) fn pod_spec(object: &Object) -> Option<&Value> {
    at(&object.body, "spec.template.spec")
}

/// The containers of a workload.
pub(crate) fn containers(object: &Object) -> Vec<Value> {
    pod_spec(object)
        .and_then(|s| s.get("containers"))
        .map(seq)
        .unwrap_or_default()
}

/// The first container of a workload (every workload here has one).
pub(crate) fn container(object: &Object) -> Value {
    containers(object).into_iter().next().unwrap_or(Value::Null)
}

pub(crate) fn args(container: &Value) -> Vec<String> {
    container.get("args").map(strings).unwrap_or_default()
}

/// Where an environment variable's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EnvSource {
    Literal(String),
    ConfigMap { name: String, key: String },
    Secret { name: String, key: String },
    Field(String),
}

/// A container's environment: `envFrom` ConfigMaps (each key a variable)
/// then `env`, which overrides.
pub(crate) fn container_env(setup: &Setup, container: &Value) -> BTreeMap<String, EnvSource> {
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
pub(crate) fn resolve(setup: &Setup, source: &EnvSource) -> Option<String> {
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
pub(crate) fn ours(name: &str) -> bool {
    name.starts_with("OTEL_") || name.starts_with("TRACEMESH_")
}

/// A compose service's environment (mapping form, as compose writes it).
pub(crate) fn compose_env(service: &Mapping) -> BTreeMap<String, String> {
    service
        .get("environment")
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((scalar(k)?, scalar(v)?)))
        .collect()
}

/// Container port numbers by name.
pub(crate) fn container_ports(container: &Value) -> BTreeMap<String, u16> {
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
