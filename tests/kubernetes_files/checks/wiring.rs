//! What the pods reach: the collector and Tempo, the sharded load Job and
//! its merge, Grafana's data sources.

use super::super::*;

/// The collector's configuration (its ConfigMap's config.yaml).
pub(crate) fn collector_config(setup: &Setup) -> Value {
    setup
        .object("ConfigMap", COLLECTOR)
        .and_then(|c| at(&c.body, "data")?.get("config.yaml"))
        .and_then(Value::as_str)
        .map(|text| serde_yaml::from_str(text).expect("the collector's config.yaml is YAML"))
        .unwrap_or(Value::Null)
}

/// The port the collector's OTLP receiver takes `protocol` on.
pub(crate) fn collector_receiver_port(setup: &Setup, protocol: &str) -> Option<u16> {
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
pub(crate) fn collector_reaches_tempo(setup: &Setup) -> Vec<String> {
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
pub(crate) fn load_job_is_sharded_consistently(setup: &Setup) -> Vec<String> {
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
pub(crate) fn grafana_datasources_resolve(setup: &Setup) -> Vec<String> {
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
pub(crate) fn collect_uids(value: &Value, into: &mut Vec<String>) {
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
