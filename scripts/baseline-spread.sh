#!/usr/bin/env bash
# Measures how much the figures `tracemesh run --baseline` compares move
# between two runs of the same build and scenario: the spread the default
# tolerances (harness/src/checks/baseline.rs) must stay above.
#
# Runs the scenario RUNS times, compares every run after the first with the
# first at zero tolerance (so every row is judged and its growth recorded),
# and prints, per kind of row and percentile, the largest growth in ms and
# the largest growth in percent among rows that grew by more than 1 ms.
#
# Usage: scripts/baseline-spread.sh [RUNS] [-- extra `tracemesh run` flags]
#   e.g. scripts/baseline-spread.sh 5 -- --run-time 20s
# Env:   TRACEMESH_BIN (default target/release/tracemesh),
#        OUT (default reports/spread-<time>)
# Needs: jq.
set -euo pipefail

runs=${1:-5}
shift || true
[ "${1:-}" = "--" ] && shift
bin=${TRACEMESH_BIN:-target/release/tracemesh}
out=${OUT:-reports/spread-$(date -u +%Y%m%dT%H%M%SZ)}
if [ ! -x "$bin" ]; then
  echo "baseline-spread: no binary at $bin (cargo build --release, or set TRACEMESH_BIN)" >&2
  exit 2
fi
command -v jq >/dev/null || { echo "baseline-spread: needs jq" >&2; exit 2; }
mkdir -p "$out"

# A failing check (the zero-tolerance comparison always fails) is exit 1:
# expected here. Anything else stops the measurement.
run() {
  local rc=0
  "$bin" run --report-dir "$@" >/dev/null 2>"${1}.stderr" || rc=$?
  if [ "$rc" -gt 1 ]; then
    echo "baseline-spread: tracemesh run exited $rc (see ${1}.stderr)" >&2
    exit "$rc"
  fi
}

echo "run 1 of $runs (the baseline) -> $out/run1" >&2
run "$out/run1" "$@"
for i in $(seq 2 "$runs"); do
  echo "run $i of $runs -> $out/run$i" >&2
  run "$out/run$i" "$@" --baseline "$out/run1" \
    --baseline-tolerance-ms 0 --baseline-tolerance-pct 0
done

# measure  percentile  base  now  subject
for i in $(seq 2 "$runs"); do
  jq -r '.baseline.rows[] | select(.not_judged == null)
    | (["p50", .baseline_p50_ms, .p50_ms], ["p90", .baseline_p90_ms, .p90_ms]) as $p
    | [.measure, $p[0], $p[1], $p[2], .subject] | @tsv' "$out/run$i/verdict.json"
done > "$out/rows.tsv"

echo
echo "spread over $((runs - 1)) comparisons with run 1 ($(wc -l < "$out/rows.tsv") judged figures):"
printf '%-10s %-4s %14s %16s %14s\n' measure pct "max growth ms" "max growth %" "max |change| ms"
awk -F'\t' '
  { key = $1 " " $2; d = $4 - $3; a = d < 0 ? -d : d
    if (!(key in g) || d > g[key]) { g[key] = d; gs[key] = $5 }
    if (!(key in m) || a > m[key]) m[key] = a
    if (d > 1 && $3 > 0) { p = 100 * d / $3; if (!(key in r) || p > r[key]) r[key] = p } }
  END { for (k in g) { split(k, kk, " ")
          printf "%-10s %-4s %14.2f %16s %14.2f   (%s)\n", kk[1], kk[2], g[k],
                 (k in r) ? sprintf("%.0f", r[k]) : "-", m[k], gs[k] } }' "$out/rows.tsv" | sort
echo
echo "rows: $out/rows.tsv" >&2
