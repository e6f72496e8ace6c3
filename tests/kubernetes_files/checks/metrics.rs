//! Prometheus (deploy/prometheus/values.yaml) against the services it
//! scrapes: every service pod's admin port, with the token those pods
//! check, exemplars kept. A scrape that gets 401 or finds no target leaves
//! Grafana's RED dashboard and its exemplar links empty, and nothing fails.

use super::super::*;

/// The feature flag without which Prometheus drops exemplars.
const EXEMPLAR_STORAGE: &str = "enable-feature=exemplar-storage";

pub(crate) fn prometheus_scrapes_every_service(setup: &Setup) -> Vec<String> {
    let values = &setup.prometheus;
    let mut problems = Vec::new();
    if !strings(at(values, "server.extraFlags").unwrap_or(&Value::Null))
        .iter()
        .any(|f| f == EXEMPLAR_STORAGE)
    {
        problems.push(format!(
            "{PROMETHEUS_VALUES}: server.extraFlags lacks {EXEMPLAR_STORAGE}: exemplars are dropped"
        ));
    }
    let jobs: Value = at(values, "extraScrapeConfigs")
        .and_then(Value::as_str)
        .and_then(|text| serde_yaml::from_str(text).ok())
        .unwrap_or(Value::Null);
    let Some(job) = seq(&jobs)
        .into_iter()
        .find(|j| at(j, "metrics_path").and_then(scalar).as_deref() == Some("/metrics"))
    else {
        return vec![format!(
            "{PROMETHEUS_VALUES}: no scrape config in extraScrapeConfigs reads /metrics"
        )];
    };
    let namespaces: Vec<String> = seq(at(&job, "kubernetes_sd_configs").unwrap_or(&Value::Null))
        .iter()
        .flat_map(|sd| strings(at(sd, "namespaces.names").unwrap_or(&Value::Null)))
        .collect();
    if !namespaces.iter().any(|n| n == NAMESPACE) {
        problems.push(format!(
            "{PROMETHEUS_VALUES}: pod discovery looks in {namespaces:?}, not {NAMESPACE}"
        ));
    }
    let kept_port = seq(at(&job, "relabel_configs").unwrap_or(&Value::Null))
        .into_iter()
        .find(|r| {
            at(r, "action").and_then(scalar).as_deref() == Some("keep")
                && strings(at(r, "source_labels").unwrap_or(&Value::Null))
                    == ["__meta_kubernetes_pod_container_port_name"]
        })
        .and_then(|r| at(&r, "regex").and_then(scalar));
    let token_file = at(&job, "authorization.credentials_file").and_then(scalar);
    let mounted = token_file.as_deref().and_then(|file| {
        let (dir, key) = file.rsplit_once('/')?;
        seq(at(values, "server.extraSecretMounts").unwrap_or(&Value::Null))
            .iter()
            .find(|m| at(m, "mountPath").and_then(scalar).as_deref() == Some(dir))
            .and_then(|m| at(m, "secretName").and_then(scalar))
            .map(|secret| (secret, key.to_owned()))
    });
    if mounted.is_none() {
        problems.push(format!(
            "{PROMETHEUS_VALUES}: the token file {token_file:?} is in no server.extraSecretMounts"
        ));
    }
    for spec in &TOPOLOGY {
        let name = spec.service.name();
        let Some(deployment) = setup.object("Deployment", name) else {
            continue;
        };
        let container = container(deployment);
        let admin_port = seq(at(&container, "ports").unwrap_or(&Value::Null))
            .into_iter()
            .find(|p| {
                at(p, "containerPort").and_then(Value::as_u64)
                    == Some(u64::from(CONTAINER_ADMIN_PORT))
            })
            .and_then(|p| at(&p, "name").and_then(scalar));
        if admin_port.is_none() || admin_port != kept_port {
            problems.push(format!(
                "Prometheus keeps container ports named {kept_port:?}, Deployment {name}'s admin port \
                 {CONTAINER_ADMIN_PORT} is named {admin_port:?}: it is not scraped"
            ));
        }
        if let Some((secret, key)) = &mounted {
            let token = container_env(setup, &container)
                .get("TRACEMESH_ADMIN_TOKEN")
                .cloned();
            let want = EnvSource::Secret {
                name: secret.clone(),
                key: key.clone(),
            };
            if token.as_ref() != Some(&want) {
                problems.push(format!(
                    "Prometheus sends the token in Secret {secret} key {key}, Deployment {name} \
                     checks TRACEMESH_ADMIN_TOKEN from {token:?}: its scrapes would get 401"
                ));
            }
        }
    }
    problems
}
