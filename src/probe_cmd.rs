//! `tracemesh probe <url>`: the health check of the container image.
//!
//! The runtime image holds nothing but this binary and the libraries it
//! links: no shell, no curl, no wget. A `HEALTHCHECK` (Dockerfile) or
//! `healthcheck:` (compose) therefore runs the binary itself:
//!
//! - `tracemesh probe http://127.0.0.1:8080/healthz`: GET; healthy on 2xx.
//! - `tracemesh probe tcp://127.0.0.1:50051`: healthy when a TCP connection
//!   is accepted. The gRPC services and payment have no HTTP health route of
//!   their own to call (the gateway's `/readyz` speaks grpc.health.v1 to them),
//!   and a listening socket is what their dependants wait for.
//!
//! Exit status is what Docker reads: 0 healthy, 1 unhealthy (with a one-line
//! reason, which `docker inspect` shows under `State.Health.Log`), 2 for a
//! URL the probe cannot understand — a mistake in the healthcheck itself,
//! not an unhealthy service. Every probe is bounded by `--timeout-ms`, so a
//! hung service is reported unhealthy instead of piling up probe processes.

use std::time::Duration;

use reqwest::Url;
use reqwest::header::{CONNECTION, HeaderValue};

use crate::Failure;
use crate::cli::ProbeArgs;

/// What to probe, parsed from the URL before any network is touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An HTTP GET of this URL must answer 2xx.
    Http(Url),
    /// A TCP connection to `host:port` must be accepted. `host` is a name or
    /// an IP address (IPv6 without brackets), as `lookup_host` takes it.
    Tcp { host: String, port: u16 },
}

impl Target {
    /// Parses `http://host[:port]/path` or `tcp://host:port`. The error
    /// names the URL and what is wrong with it.
    pub fn parse(raw: &str) -> Result<Target, String> {
        let url = Url::parse(raw).map_err(|e| format!("malformed probe URL {raw:?}: {e}"))?;
        let bad = |why: &str| format!("malformed probe URL {raw:?}: {why}");
        let scheme = url.scheme();
        match scheme {
            "http" | "tcp" => {}
            // A health check talks to its own container over loopback, and
            // the runtime image holds no CA certificates to verify one with.
            "https" => {
                return Err(bad(
                    "https is not supported; probe the service over http on loopback",
                ));
            }
            other => {
                return Err(bad(&format!(
                    "unsupported scheme {other:?}; use http:// or tcp://"
                )));
            }
        }
        // Url keeps IPv6 addresses in brackets; the socket lookup wants the
        // bare address.
        let host = url
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
            .unwrap_or_default();
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if scheme == "http" {
            return Ok(Target::Http(url));
        }
        let port = url
            .port()
            .ok_or_else(|| bad("tcp:// needs a port, e.g. tcp://127.0.0.1:50051"))?;
        // A path or query would be silently ignored: refuse it, so a typo
        // such as tcp://host:50051/healthz does not "work".
        if !matches!(url.path(), "" | "/") || url.query().is_some() {
            return Err(bad("tcp:// takes only host:port"));
        }
        Ok(Target::Tcp { host, port })
    }
}

pub async fn run(args: ProbeArgs) -> Result<(), Failure> {
    let target = Target::parse(&args.url).map_err(Failure::Usage)?;
    let timeout = Duration::from_millis(args.timeout_ms);
    // One deadline around everything (name lookup, connect, headers), on top
    // of reqwest's own: the probe must end within --timeout-ms whatever hangs.
    let outcome = match tokio::time::timeout(timeout, probe(&target, timeout)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("no answer within {} ms", args.timeout_ms)),
    };
    match outcome {
        Ok(what) => {
            println!("healthy: {} {what}", args.url);
            Ok(())
        }
        Err(reason) => Err(Failure::Runtime(format!(
            "unhealthy: {}: {reason}",
            args.url
        ))),
    }
}

/// Probes once; `Ok` says what made it healthy, `Err` why not (one line).
async fn probe(target: &Target, timeout: Duration) -> Result<String, String> {
    match target {
        Target::Http(url) => {
            let client = reqwest::Client::builder()
                .timeout(timeout)
                // A proxy from the environment (HTTP_PROXY) would send a
                // loopback health check somewhere else entirely.
                .no_proxy()
                // Follow nothing: a redirect is not the service saying "ok".
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
            let response = client
                .get(url.clone())
                // One request per process: don't leave a keep-alive behind.
                .header(CONNECTION, HeaderValue::from_static("close"))
                .send()
                .await
                .map_err(|e| one_line(&e))?;
            let status = response.status();
            if status.is_success() {
                Ok(format!("answered HTTP {}", status.as_u16()))
            } else {
                Err(format!("answered HTTP {status}"))
            }
        }
        Target::Tcp { host, port } => {
            tokio::net::TcpStream::connect((host.as_str(), *port))
                .await
                .map_err(|e| format!("cannot connect: {e}"))?;
            Ok("accepted a TCP connection".to_owned())
        }
    }
}

/// reqwest's error with its causes, on one line ("error sending request:
/// connection refused"), since Docker keeps only the probe's output.
fn one_line(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_are_probed_as_given() {
        let target = Target::parse("http://127.0.0.1:8080/healthz").unwrap();
        assert_eq!(
            target,
            Target::Http(Url::parse("http://127.0.0.1:8080/healthz").unwrap())
        );
        // No port: http's own.
        assert!(matches!(
            Target::parse("http://gateway/readyz").unwrap(),
            Target::Http(url) if url.port_or_known_default() == Some(80)
        ));
    }

    #[test]
    fn tcp_urls_need_a_host_and_a_port() {
        assert_eq!(
            Target::parse("tcp://127.0.0.1:50051").unwrap(),
            Target::Tcp {
                host: "127.0.0.1".into(),
                port: 50051
            }
        );
        assert_eq!(
            Target::parse("tcp://inventory:50053/").unwrap(),
            Target::Tcp {
                host: "inventory".into(),
                port: 50053
            }
        );
        // IPv6 loses its brackets, which the socket lookup does not take.
        assert_eq!(
            Target::parse("tcp://[::1]:4317").unwrap(),
            Target::Tcp {
                host: "::1".into(),
                port: 4317
            }
        );
    }

    #[test]
    fn malformed_urls_are_refused_naming_the_url() {
        for (raw, why) in [
            ("127.0.0.1:8080", "malformed"),
            ("localhost:8080/healthz", "unsupported scheme"),
            ("", "malformed"),
            ("tcp://127.0.0.1", "needs a port"),
            ("tcp://127.0.0.1:50051/healthz", "only host:port"),
            ("tcp://127.0.0.1:50051?x=1", "only host:port"),
            ("tcp://:50051", "malformed"),
            ("http://:8080/", "malformed"),
            ("http://127.0.0.1:99999/", "malformed"),
            ("https://127.0.0.1/healthz", "https is not supported"),
            ("ftp://127.0.0.1/", "unsupported scheme"),
        ] {
            let error = Target::parse(raw).expect_err(raw);
            assert!(error.contains(&format!("{raw:?}")), "{raw}: {error}");
            assert!(error.contains(why), "{raw}: {error}");
        }
    }

    #[tokio::test]
    async fn tcp_probe_tells_listening_from_closed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Target::Tcp {
            host: "127.0.0.1".into(),
            port,
        };
        assert!(probe(&open, Duration::from_secs(2)).await.is_ok());
        drop(listener);
        let error = probe(&open, Duration::from_secs(2)).await.unwrap_err();
        assert!(error.contains("cannot connect"), "{error}");
    }
}
