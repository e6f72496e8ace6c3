//! The schema check: the pinned `kubernetes-validate` over every manifest.

use super::*;

pub(crate) fn validator_required() -> bool {
    std::env::var("TRACEMESH_REQUIRE_KUBE_VALIDATE").is_ok_and(|v| v == "1")
}

/// Whether the pinned validator is installed; `Err` says why not.
pub(crate) fn validator() -> Result<(), String> {
    let output = Command::new("kubernetes-validate")
        .arg("--version")
        .output()
        .map_err(|e| format!("kubernetes-validate is not installed ({e})"))?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if version != VALIDATOR_VERSION {
        return Err(format!(
            "kubernetes-validate {version:?} is installed, not {VALIDATOR_VERSION} \
             (pip install kubernetes-validate=={VALIDATOR_VERSION})"
        ));
    }
    Ok(())
}

/// Runs the validator over `files` (in `dir`); every line it prints with
/// `--quiet` is a failure or a warning, and a warning such as "Couldn't find
/// schema" (an unknown apiVersion or kind) counts as a failure too.
pub(crate) fn validate(dir: &Path, files: &[&str]) -> Vec<String> {
    let output = Command::new("kubernetes-validate")
        .args(["--strict", "--quiet", "-k", KUBERNETES_VERSION])
        .args(files)
        .current_dir(dir)
        .output()
        .expect("kubernetes-validate runs");
    let mut problems: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&output.stderr).lines())
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    if !output.status.success() && problems.is_empty() {
        problems.push(format!("kubernetes-validate exited {}", output.status));
    }
    problems
}

#[test]
pub(crate) fn kubernetes_validate_accepts_every_manifest() {
    if let Err(why) = validator() {
        assert!(
            !validator_required(),
            "TRACEMESH_REQUIRE_KUBE_VALIDATE=1 but {why}"
        );
        eprintln!("skipped: {why}");
        return;
    }
    let problems = validate(Path::new(env!("CARGO_MANIFEST_DIR")), MANIFESTS);
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The same run over copies with one planted schema error each.
    let real = real_texts();
    let services = "deploy/kubernetes/services.yaml";
    let cases = [
        // A misspelt field: only --strict rejects it.
        ("periodSeconds: 5", "periodSecond: 5", "periodSecond"),
        // A required field gone.
        (
            "containerPort: 8080",
            "containerport: 8080",
            "containerPort",
        ),
        // An apiVersion the schemas do not know: a warning, counted.
        ("apiVersion: apps/v1", "apiVersion: apps/v9", "apps/v9"),
    ];
    for (from, to, reason) in cases {
        let planted = real.planting(services, from, to);
        let dir = tempfile::tempdir().expect("a temporary directory");
        let copy = dir.path().join("services.yaml");
        std::fs::write(&copy, planted.text(services)).expect("write the planted copy");
        let problems = validate(dir.path(), &["services.yaml"]);
        assert!(
            problems.iter().any(|p| p.contains(reason)),
            "planting {to:?} should fail validation ({reason:?}); got {problems:#?}"
        );
    }
}
