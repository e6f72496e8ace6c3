#!/usr/bin/env bash
# Profiles the five service processes under checkout load, traced or not,
# as part 1 of `tracemesh bench` runs them (BENCHMARKS.md, "Profile of the
# traced services").
#
# Starts `tracemesh collector` on its own ports, then `tracemesh up` pointed
# at it (OTLP/gRPC, every span sampled, the SDK's 5000 ms schedule delay,
# services logging at warn unless SERVICES_LOG says, the warehouse lock
# removed), or with
# OTEL_SDK_DISABLED=true. CAB-004's stock is raised so the load never runs
# out. After a warm-up, SECS seconds of closed-loop checkouts (curl, 32 in
# flight on keep-alive connections) while `perf record` samples the services
# (cpu-clock, which works where hardware counters do not). Prints the
# checkouts answered, the services' CPU per checkout (utime+stime from
# /proc), the top symbols, and the share of samples per library.
#
# Usage: scripts/profile-mesh.sh traced|untraced [SECS]
# Env:   TRACEMESH_BIN (default target/release/tracemesh),
#        OUT (default /tmp/profile-mesh-<variant>), CLIENTS (32),
#        PORT_BASE (default 19000: gateway +0, collector gRPC +1, HTTP +2),
#        SERVICES_LOG (default warn, as the bench: the services' RUST_LOG;
#        info is what `up`, `run` and compose give them),
#        DWARF=1 for DWARF call graphs (then `perf report --children -i OUT/perf.data`)
# Needs: perf (linux-perf), curl, sqlite3; python3 with DWARF=1.
set -euo pipefail

variant=${1:?usage: profile-mesh.sh traced|untraced [SECS]}
secs=${2:-20}
bin=${TRACEMESH_BIN:-target/release/tracemesh}
out=${OUT:-/tmp/profile-mesh-$variant}
clients=${CLIENTS:-32}
base=${PORT_BASE:-19000}
# dwarf call graphs attribute time to callers (inclusive shares) but make
# large files: sample less often with them.
if [ -n "${DWARF:-}" ]; then call_graph="--call-graph dwarf,32768" freq=199; else call_graph=-g freq=999; fi
gateway_port=$base collector_grpc=$((base + 1)) collector_http=$((base + 2))
case "$variant" in traced | untraced) ;; *)
  echo "profile-mesh: the variant must be traced or untraced, not $variant" >&2
  exit 2
  ;;
esac
[ -x "$bin" ] || { echo "profile-mesh: no binary at $bin (cargo build --release --bin tracemesh)" >&2; exit 2; }
for tool in perf curl sqlite3; do
  command -v $tool >/dev/null || { echo "profile-mesh: needs $tool" >&2; exit 2; }
done
rm -rf "$out" && mkdir -p "$out/data"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"$bin" collector --grpc-port $collector_grpc --http-port $collector_http >"$out/collector.log" 2>&1 &
pids+=($!)
export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$collector_grpc OTEL_EXPORTER_OTLP_PROTOCOL=grpc
export RUST_LOG=${SERVICES_LOG:-warn} TRACEMESH_LOG_FORMAT=json
if [ "$variant" = traced ]; then
  export OTEL_TRACES_SAMPLER=always_on OTEL_BSP_SCHEDULE_DELAY=5000
else
  export OTEL_SDK_DISABLED=true
fi
"$bin" up --gateway-port $gateway_port --data-dir "$out/data" --fix-inventory-lock --fix-catalog-queries --fix-payment-pool >"$out/up.log" 2>&1 &
up=$!
pids=("$up" "${pids[@]}")
gateway=http://127.0.0.1:$gateway_port
for _ in $(seq 120); do
  curl -sf "$gateway/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -sf "$gateway/readyz" >/dev/null || { echo "profile-mesh: the mesh did not get ready ($out/up.log)" >&2; exit 1; }
sqlite3 "$out/data/inventory.db" "UPDATE stock SET available = 100000000 WHERE sku = 'CAB-004'"
services=$(pgrep -d, -P "$up")

body='{"user_id":"u-1001","items":[{"sku":"CAB-004","quantity":1}],"card":{"number":"4242424242424242","exp_month":12,"exp_year":2031,"cvc":"123"}}'
# $1 seconds of closed-loop checkouts.
load() {
  timeout "$1" curl -s --no-progress-meter -o /dev/null --parallel --parallel-max "$clients" \
    -X POST -H 'content-type: application/json' -d "$body" \
    "$gateway/api/checkout?[1-10000000]" || true
}
orders() { sqlite3 "$out/data/order.db" "SELECT count(*) FROM orders"; }
cpu_ticks() { # utime+stime of the services, in clock ticks
  local total=0 pid
  for pid in ${services//,/ }; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo $total
}

load 5
before=$(cpu_ticks) orders_before=$(orders)
perf record -e cpu-clock -F "$freq" $call_graph -p "$services" -o "$out/perf.data" -- sleep "$secs" 2>"$out/perf.log" &
perf_pid=$!
load "$secs"
wait $perf_pid
answered=$(($(orders) - orders_before))
if [ "$variant" = traced ]; then sleep 6; fi # the spans still queued are exported
after=$(cpu_ticks)

hz=$(getconf CLK_TCK)
echo "$variant: $answered orders placed in ${secs}s"
awk -v t=$((after - before)) -v n="$answered" -v hz="$hz" \
  'BEGIN { if (n > 0) printf "services CPU per checkout: %.3f ms\n", 1000 * t / hz / n }'
perf report -i "$out/perf.data" -g none --no-children --sort symbol --percent-limit 0.5 --stdio 2>/dev/null |
  grep -v '^#' | grep '%' | cut -c1-160 | head -40 >"$out/top.txt"
echo "top symbols (self, share of the services' samples):"
cat "$out/top.txt"
# Share of samples per library: the crate path of each sample's symbol.
perf report -i "$out/perf.data" -g none --no-children --sort symbol --stdio 2>/dev/null | grep -v '^#' | grep '%' |
  awk '{ pct = $1; sub("%", "", pct); kind = $2; $1 = ""; $2 = ""; sym = $0
         n = split("tracing_opentelemetry opentelemetry_sdk opentelemetry_proto opentelemetry_otlp opentelemetry_appender_tracing opentelemetry:: tracing_subscriber tracing_core tracing:: prost tonic h2 hyper flate2 rusqlite sqlite3 mi_ _mi_ tokio serde_json axum reqwest tracemesh_runtime core::fmt", libs, " ")
         lib = (kind == "[k]") ? "kernel" : "other"
         for (i = 1; i <= n; i++) if (index(sym, libs[i]) > 0) { lib = libs[i]; break }
         share[lib] += pct }
       END { for (l in share) printf "%6.2f%%  %s\n", share[l], l }' | sort -rn >"$out/libraries.txt"
echo "share of samples per library (symbol name match):"
cat "$out/libraries.txt"
# With DWARF call graphs: the share of samples whose call chain passes
# through each part of tracing (a sample counts once per part; parts nest,
# so they do not add up). Generic arguments are stripped before matching,
# since a layer stack's type names every layer in every symbol.
if [ -n "${DWARF:-}" ]; then
  echo "inclusive share of samples per part of tracing:"
  perf script -i "$out/perf.data" -F ip,sym 2>/dev/null | python3 -c '
import re, sys
parts = {
    "tracing-subscriber (registry, layers)": r"^<?tracing_subscriber",
    "  span enter/exit": r"Layered as .*::(enter|exit)$",
    "  span creation": r"Layered as .*::new_span$",
    "  span clone/close": r"Layered as .*::(try_close|clone_span)$",
    "tracing-opentelemetry layer": r"^<?tracing_opentelemetry",
    "  on_enter": r"OpenTelemetryLayer as .*::on_enter$",
    "  on_exit": r"OpenTelemetryLayer as .*::on_exit$",
    "  on_new_span": r"OpenTelemetryLayer as .*::on_new_span$",
    "  on_close (SDK span built, ended)": r"OpenTelemetryLayer as .*::on_close$",
    "  span.context() / set_attribute": r"OpenTelemetrySpanExt>::(context|set_attribute)$",
    "batch span processor thread": r"BatchSpanProcessor",
    "OTLP exporter (encode, send)": r"^<?opentelemetry_(otlp|proto)",
    "propagation (extract, inject)": r"propagation::(extract|inject|Hop::inject)",
    "metrics observe (exemplars)": r"metrics::Metrics::observe",
    "allocation (mimalloc)": r"^_?mi_",
    "core::fmt": r"^<?core::fmt",
}
pats = {k: re.compile(v) for k, v in parts.items()}
def strip(f):
    f = f.split(" ", 1)[1] if " " in f else f
    qualified = f.startswith("<")
    out, depth = [], 0
    for ch in f:
        if ch == "<":
            depth += 1
            if qualified and depth == 1: out.append(ch)
        elif ch == ">":
            if qualified and depth == 1: out.append(ch)
            depth -= 1
        elif depth == 0 or (qualified and depth == 1):
            out.append(ch)
    return "".join(out)
hits = dict.fromkeys(parts, 0); n = 0; frames = []
def flush():
    global n, frames
    if frames:
        n += 1
        for k, r in pats.items():
            if any(r.search(f) for f in frames): hits[k] += 1
    frames = []
for line in sys.stdin:
    if line[:1] in " \t" and line.strip(): frames.append(strip(line.strip()))
    else: flush()
flush()
for k in parts: print(f"{100 * hits[k] / max(n, 1):6.2f}%  {k}")
' | tee "$out/parts.txt"
fi
