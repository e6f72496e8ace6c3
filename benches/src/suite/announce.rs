//! Where a child of the bench listens, read from what it prints.
//!
//! The bench's children (`tracemesh collector`, the hello world) bind port
//! 0 and print the address the kernel gave them on stdout; the bench reads
//! it there. Picking a free port here and passing it to the child would
//! leave an instant, between this process releasing the port and the child
//! binding it, in which another program (a test running beside the bench)
//! can take it: the child then fails to start and the bench waits on a
//! port nobody serves.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

use super::BenchError;

/// How long a child has to say where it listens.
const WITHIN: Duration = Duration::from_secs(20);

/// Reads `child`'s stdout (piped) until it has printed a line starting with
/// each of `prefixes`, and returns what follows each prefix, trimmed, in
/// the order of `prefixes`. `what` names the child in errors. The child's
/// stderr should be inherited, so that why it stopped is on the bench's.
///
/// What the child prints afterwards is read and dropped, so the pipe never
/// fills and never closes under it while it runs.
pub async fn announced(
    child: &mut Child,
    what: &str,
    prefixes: &[&str],
) -> Result<Vec<String>, BenchError> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| BenchError::Runtime(format!("{what}: its stdout is not piped")))?;
    let mut lines = BufReader::new(stdout).lines();
    let mut found: Vec<Option<String>> = vec![None; prefixes.len()];
    let read = async {
        while found.iter().any(Option::is_none) {
            let Some(line) = lines.next_line().await? else {
                return Ok(false);
            };
            for (prefix, slot) in prefixes.iter().zip(found.iter_mut()) {
                if let Some(rest) = line.strip_prefix(prefix) {
                    *slot = Some(rest.trim().to_owned());
                }
            }
        }
        Ok::<bool, std::io::Error>(true)
    };
    let outcome = tokio::time::timeout(WITHIN, read).await;
    match outcome {
        Ok(Ok(true)) => {
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            Ok(found.into_iter().flatten().collect())
        }
        Ok(Ok(false)) => {
            let status = child
                .wait()
                .await
                .map_or_else(|e| e.to_string(), |s| s.to_string());
            Err(BenchError::Runtime(format!(
                "{what} stopped ({status}) before it said where it listens; its stderr is above"
            )))
        }
        Ok(Err(e)) => Err(BenchError::Runtime(format!(
            "cannot read {what}'s stdout: {e}"
        ))),
        Err(_) => Err(BenchError::Runtime(format!(
            "{what} did not say where it listens within {} s",
            WITHIN.as_secs()
        ))),
    }
}
