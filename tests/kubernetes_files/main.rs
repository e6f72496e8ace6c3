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
//!   - every flag and `TRACEMESH_*` variable the load and merge Jobs pass is
//!     one the built `tracemesh` lists in that subcommand's `--help`;
//!   - Prometheus (deploy/prometheus/values.yaml) finds every service pod's
//!     admin port, sends the token those pods check, and keeps exemplars;
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

mod checks;
#[path = "../common/mod.rs"]
mod common;
mod files;
mod schema;
mod yaml;

use checks::*;
use files::*;
use yaml::*;

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
const PROMETHEUS_VALUES: &str = "deploy/prometheus/values.yaml";
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
    ("Jobs speak the CLI", jobs_speak_the_cli),
    (
        "Prometheus scrapes every service",
        prometheus_scrapes_every_service,
    ),
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
    let problems = all_problems(&real_texts());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_check_reports_a_planted_mismatch() {
    let real = real_texts();
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
            load,
            "- --tempo\n",
            "- --tempo-url\n",
            jobs_speak_the_cli,
            "passes --tempo-url, which `tracemesh run` does not accept",
        ),
        (
            load,
            "name: TRACEMESH_RUN_TIME",
            "name: TRACEMESH_DURATION",
            jobs_speak_the_cli,
            "sets TRACEMESH_DURATION, which `tracemesh run` does not read",
        ),
        (
            merge,
            "- --output",
            "- --out",
            jobs_speak_the_cli,
            "passes --out, which `tracemesh report merge` does not accept",
        ),
        (
            PROMETHEUS_VALUES,
            "regex: admin",
            "regex: admn",
            prometheus_scrapes_every_service,
            "it is not scraped",
        ),
        (
            PROMETHEUS_VALUES,
            "credentials_file: /etc/tracemesh-admin/token",
            "credentials_file: /etc/tracemesh-admin/admin-token",
            prometheus_scrapes_every_service,
            "its scrapes would get 401",
        ),
        (
            PROMETHEUS_VALUES,
            "mountPath: /etc/tracemesh-admin",
            "mountPath: /etc/admin",
            prometheus_scrapes_every_service,
            "is in no server.extraSecretMounts",
        ),
        (
            PROMETHEUS_VALUES,
            "- enable-feature=exemplar-storage",
            "- web.enable-admin-api",
            prometheus_scrapes_every_service,
            "exemplars are dropped",
        ),
        (
            PROMETHEUS_VALUES,
            "names: [tracemesh]",
            "names: [default]",
            prometheus_scrapes_every_service,
            "not tracemesh",
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
