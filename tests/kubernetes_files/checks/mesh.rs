//! The five services against the topology table and compose: names, ports,
//! wiring, environment, images and probes.

use super::super::*;

/// Each service of the topology is a Deployment running `service <name>`
/// with the compose service's exact arguments (listen address, callee
/// flags and URLs), on the topology's port, its admin endpoint on the
/// container admin port; its Service exposes both, to named container
/// ports; each callee URL reaches a Service on a port it serves.
pub(crate) fn services_follow_the_topology(setup: &Setup) -> Vec<String> {
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
pub(crate) const PLACE_DEPENDENT: &[&str] =
    &["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_RESOURCE_ATTRIBUTES"];

/// Each service has the compose service's OTEL_* and TRACEMESH_* variables,
/// no more and no fewer, with compose's values (its defaults, for
/// `${VAR:-default}`) except where the value is an address; the OTLP
/// endpoint is the collector Service's OTLP/gRPC port.
pub(crate) fn environment_agrees_with_compose(setup: &Setup) -> Vec<String> {
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
pub(crate) fn images_agree(setup: &Setup) -> Vec<String> {
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
pub(crate) fn probes_agree_with_compose(setup: &Setup) -> Vec<String> {
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
