//! Pod-level rules: resources set and consistent, disruption budgets that
//! fit, one namespace.

use super::super::*;

/// A CPU or memory quantity in its base unit (cores, bytes).
pub(crate) fn quantity(raw: &str) -> Option<f64> {
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
pub(crate) fn resources_are_set(setup: &Setup) -> Vec<String> {
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
pub(crate) fn disruption_budgets_fit(setup: &Setup) -> Vec<String> {
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
pub(crate) fn one_namespace(setup: &Setup) -> Vec<String> {
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
