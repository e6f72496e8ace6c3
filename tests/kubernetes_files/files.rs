//! The files under test, as text (so a test can plant a mismatch) and parsed
//! into Kubernetes objects, the compose file and the Tempo values.

use super::*;

/// The manifests, the Tempo values, compose and the image build script,
/// read from the repository.
pub(crate) fn real_texts() -> Texts {
    Texts::read(
        MANIFESTS
            .iter()
            .chain(&[VALUES, PROMETHEUS_VALUES, COMPOSE, BUILD_SCRIPT]),
    )
}

/// One Kubernetes object of a manifest.
pub(crate) struct Object {
    pub(crate) file: &'static str,
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) body: Value,
}

/// Everything parsed: the objects, the Tempo values, the compose file.
pub(crate) struct Setup {
    pub(crate) objects: Vec<Object>,
    pub(crate) values: Value,
    /// deploy/prometheus/values.yaml.
    pub(crate) prometheus: Value,
    pub(crate) compose: Value,
    /// The tag build-images.sh gives the image.
    pub(crate) built_image: String,
}

impl Setup {
    pub(crate) fn parse(texts: &Texts) -> Setup {
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
        let compose = texts.yaml(COMPOSE);
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
            values: texts.yaml(VALUES),
            prometheus: texts.yaml(PROMETHEUS_VALUES),
            compose,
            built_image,
        }
    }

    pub(crate) fn object(&self, kind: &str, name: &str) -> Option<&Object> {
        self.objects
            .iter()
            .find(|o| o.kind == kind && o.name == name)
    }

    pub(crate) fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Object> {
        self.objects.iter().filter(move |o| o.kind == kind)
    }

    pub(crate) fn compose_service(&self, name: &str) -> Option<&Mapping> {
        self.compose.get("services")?.get(name)?.as_mapping()
    }

    /// Every Service a pod can reach by name, with the ports it serves: the
    /// manifests' own, the Tempo chart's (from the values file) and the
    /// other charts'.
    pub(crate) fn reachable(&self) -> BTreeMap<String, BTreeSet<u16>> {
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
pub(crate) fn tempo_http_port(values: &Value) -> u16 {
    at(values, "server.httpListenPort")
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(3200)
}
