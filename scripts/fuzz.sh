#!/usr/bin/env bash
# Builds every cargo-fuzz target in fuzz/ and runs each for a bounded time,
# then prints one line per target: executions, executions per second and
# crashes found. Exits non-zero if any target crashed (or failed to run).
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default $FUZZ_SECONDS or 60)
#
# Environment:
#   FUZZ_SECONDS       seconds per target when no argument is given
#   FUZZ_TARGETS       space-separated subset of targets (default: all)
#   FUZZ_SANITIZER     cargo-fuzz sanitizer (default none, see below)
#   FUZZ_TARGET_DIR    cargo target directory (default fuzz/target)
#   CARGO_BUILD_JOBS   cargo build jobs (default: one per core)
#
# Only the stable toolchain is needed: cargo-fuzz passes nightly-only flags
# (-Zsanitizer, -Cpasses=sancov...), which RUSTC_BOOTSTRAP=1 unlocks.
#
# Seeds live in fuzz/seeds/<target>/ (committed); they are copied into
# fuzz/corpus/<target>/ (ignored), where libFuzzer also keeps what it finds,
# so a second run starts from the first run's corpus.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

SECONDS_PER_TARGET=${1:-${FUZZ_SECONDS:-60}}
if ! [[ $SECONDS_PER_TARGET =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz.sh: seconds per target must be a positive integer, not '$SECONDS_PER_TARGET'" >&2
    exit 2
fi
ALL_TARGETS=(traceparent baggage otlp_protobuf otlp_json scenario expected_tree traceql)
read -r -a TARGETS <<<"${FUZZ_TARGETS:-${ALL_TARGETS[*]}}"
# No sanitizer by default: the project denies unsafe code, so ASan would
# mostly slow the parsers down (about 2x) on a small machine; panics, stack
# overflows, aborts, timeouts and out-of-memory are caught without it.
SANITIZER=${FUZZ_SANITIZER:-none}
TARGET_DIR=${FUZZ_TARGET_DIR:-$ROOT/fuzz/target}
export RUSTC_BOOTSTRAP=1

# Per-target input size cap: headers are small on the wire (servers refuse
# header blocks of a few KiB); bodies and files get 64 KiB.
max_len() {
    case $1 in
    traceparent | baggage) echo 4096 ;;
    *) echo 65536 ;;
    esac
}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz from crates.io" >&2
    cargo install cargo-fuzz --locked
fi

# One cargo invocation builds every target (they share the fuzz crate).
# Release optimisations with debug assertions and overflow checks on, the
# cargo-fuzz default; 16 codegen units instead of 1 trade a little
# throughput for a much shorter build on two cores.
build_args=(--fuzz-dir fuzz -s "$SANITIZER" -a --codegen-units 16 --target-dir "$TARGET_DIR")
cargo fuzz build "${build_args[@]}"

LOG_DIR=$ROOT/fuzz/logs
mkdir -p "$LOG_DIR"
failed=0
summary=()
for target in "${TARGETS[@]}"; do
    corpus=$ROOT/fuzz/corpus/$target
    artifacts=$ROOT/fuzz/artifacts/$target
    mkdir -p "$corpus" "$artifacts"
    if [[ -d $ROOT/fuzz/seeds/$target ]]; then
        cp -n "$ROOT/fuzz/seeds/$target/"* "$corpus/" 2>/dev/null || true
    fi
    crashes_before=$(find "$artifacts" -type f | wc -l)
    log=$LOG_DIR/$target.log
    echo "fuzz.sh: $target for ${SECONDS_PER_TARGET}s (log: ${log#"$ROOT"/})" >&2
    status=0
    # -timeout: one input taking over 10 s is a hang worth reporting.
    cargo fuzz run "${build_args[@]}" "$target" "$corpus" -- \
        -max_total_time="$SECONDS_PER_TARGET" \
        -max_len="$(max_len "$target")" \
        -rss_limit_mb=2048 \
        -timeout=10 \
        -print_final_stats=1 \
        -artifact_prefix="$artifacts/" \
        >"$log" 2>&1 || status=$?

    executions=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    per_second=$(sed -n 's/^stat::average_exec_per_sec: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    crashes=$(find "$artifacts" -type f | wc -l)
    new_crashes=$((crashes - crashes_before))
    line=$(printf '%-14s executions=%-10s exec/s=%-7s crashes=%s' \
        "$target" "${executions:-?}" "${per_second:-?}" "$crashes")
    if ((new_crashes > 0)); then
        line+=" (new: $new_crashes, see fuzz/artifacts/$target/)"
        failed=1
    elif ((crashes > 0)); then
        # Old artifacts not reproduced this run still need looking at.
        line+=" (from earlier runs, see fuzz/artifacts/$target/)"
        failed=1
    elif ((status != 0)); then
        line+=" (exit status $status, see ${log#"$ROOT"/})"
        failed=1
    fi
    summary+=("$line")
done

echo
echo "fuzz summary (${SECONDS_PER_TARGET}s per target):"
printf '%s\n' "${summary[@]}"
exit "$failed"
