//! `tracemesh lab preflight`: can this laptop do the workshop?
//!
//! Required: rustc and cargo 1.88 or newer (the workspace's rust-version),
//! the mesh's fixed ports free (8080, 4317, 4318, admin 9100-9104: a bind
//! attempt each), 5 GiB free in the working directory (statvfs). Reported
//! but optional: Docker (lab 9) and Prometheus (`--prometheus start`).
//! Each outside command is bounded in time. Exit 0 when every required
//! item holds.

use std::net::{Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use super::messages::Messages;
use crate::Failure;

const MIN_RUST: (u32, u32) = (1, 88);
const PORTS: [u16; 8] = [8080, 4317, 4318, 9100, 9101, 9102, 9103, 9104];
const MIN_FREE_BYTES: u64 = 5 << 30;
/// `docker info` asks the daemon, which can hang when it is stuck.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// One line of the report.
struct Item {
    required: bool,
    ok: bool,
    text: String,
}

pub async fn run(m: &Messages, dir: &Path) -> Result<(), Failure> {
    let mut items = Vec::new();
    for tool in ["rustc", "cargo"] {
        let version = first_line(tool, &["--version"]).await;
        let ok = version
            .as_deref()
            .and_then(rust_version)
            .is_some_and(|v| v >= MIN_RUST);
        let text = match &version {
            Some(v) => m.f("preflight.rust", &[("tool", tool), ("version", v)]),
            None => m.f("preflight.rust_missing", &[("tool", tool)]),
        };
        items.push(Item {
            required: true,
            ok,
            text,
        });
    }
    let busy: Vec<String> = busy_ports(&PORTS).iter().map(u16::to_string).collect();
    items.push(Item {
        required: true,
        ok: busy.is_empty(),
        text: if busy.is_empty() {
            m.t("preflight.ports")
        } else {
            m.f("preflight.ports_busy", &[("ports", &busy.join(", "))])
        },
    });
    let free = free_bytes(dir);
    items.push(Item {
        required: true,
        ok: free.is_some_and(|b| b >= MIN_FREE_BYTES),
        text: match free {
            Some(bytes) => m.f(
                "preflight.disk",
                &[(
                    "gib",
                    &format!("{:.1}", bytes as f64 / f64::from(1u32 << 30)),
                )],
            ),
            None => m.t("preflight.disk_unknown"),
        },
    });
    let docker = first_line("docker", &["info", "--format", "{{.ServerVersion}}"]).await;
    items.push(Item {
        required: false,
        ok: docker.is_some(),
        text: match &docker {
            Some(v) => m.f("preflight.docker", &[("version", v)]),
            None => m.t("preflight.docker_missing"),
        },
    });
    let prometheus = first_line("prometheus", &["--version"]).await;
    items.push(Item {
        required: false,
        ok: prometheus.is_some(),
        text: match &prometheus {
            Some(v) => m.f("preflight.prometheus", &[("version", v)]),
            None => m.t("preflight.prometheus_missing"),
        },
    });
    let ready = items.iter().all(|i| i.ok || !i.required);
    println!(
        "{}",
        if ready {
            m.t("preflight.ready")
        } else {
            m.t("preflight.not_ready")
        }
    );
    for item in &items {
        let mark = match (item.ok, item.required) {
            (true, _) => "✓",
            (false, true) => "✗",
            (false, false) => "-",
        };
        println!("  {mark} {}", item.text);
    }
    if ready {
        Ok(())
    } else {
        Err(Failure::ChecksFailed)
    }
}

/// The first line `program args` prints when it succeeds within
/// [`COMMAND_TIMEOUT`]; `None` if it is missing, fails or hangs.
async fn first_line(program: &str, args: &[&str]) -> Option<String> {
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(COMMAND_TIMEOUT, child)
        .await
        .ok()?
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .next()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
}

/// The ports of `ports` that cannot be bound on loopback now (the listener
/// is dropped at once: a bind attempt is the one honest test).
fn busy_ports(ports: &[u16]) -> Vec<u16> {
    ports
        .iter()
        .copied()
        .filter(|&port| TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err())
        .collect()
}

/// `rustc 1.91.0 (f8297e351 2025-10-28)` -> (1, 91).
fn rust_version(line: &str) -> Option<(u32, u32)> {
    let version = line.split_whitespace().nth(1)?;
    let mut parts = version.split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Bytes an unprivileged user can still write under `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    let stat = nix::sys::statvfs::statvfs(dir).ok()?;
    Some(stat.blocks_available() * stat.fragment_size())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_from_rustc_and_cargo() {
        assert_eq!(
            rust_version("rustc 1.91.0 (f8297e351 2025-10-28)"),
            Some((1, 91))
        );
        assert_eq!(
            rust_version("cargo 1.88.0 (873a06493 2025-05-10)"),
            Some((1, 88))
        );
        assert_eq!(
            rust_version("rustc 1.90.0-nightly (abc 2025-07-01)"),
            Some((1, 90))
        );
        assert_eq!(rust_version("rustc"), None);
        assert!(rust_version("rustc 1.87.0 (x)").unwrap() < MIN_RUST);
    }

    #[test]
    fn a_port_in_use_is_busy_and_a_released_one_free() {
        let held = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = held.local_addr().unwrap().port();
        assert_eq!(busy_ports(&[port]), [port]);
        drop(held);
        assert!(busy_ports(&[port]).is_empty());
    }

    #[test]
    fn the_working_directory_has_a_free_space() {
        assert!(free_bytes(Path::new(".")).is_some());
        assert!(free_bytes(Path::new("/no/such/dir")).is_none());
    }
}
