#!/usr/bin/env bash
# Measures the figures deploy/kubernetes's requests and limits and
# docs/scale.md's capacity model are built on, on one machine, the way the
# cluster runs the parts: the five services (`tracemesh up`, exporting
# OTLP/gRPC to a collector that runs as its own process), the collector
# (`tracemesh collector`, which also serves Tempo's query API), and the load
# run (`tracemesh run --gateway ... --tempo ...`, reading traces back from
# that API, as the load Job reads them from Tempo).
#
# While the run drives load, every second it reads, from /proc, each
# process's utime+stime (/proc/<pid>/stat) and VmRSS (/proc/<pid>/status),
# and the bytes the collector's OTLP/gRPC connections received (`ss -i`).
# It prints, per process, the CPU share over the run (cores), the peak RSS,
# and for the collector the spans stored (its /api/stats), the bytes per span
# received and the CPU per span; for the run, its CPU per span checked.
#
# Usage: deploy/measure.sh [SECONDS] [USERS]   (default 30 s, 8 users)
# Environment: TRACEMESH_BIN (default target/release/tracemesh); any other
# OTEL_* variable set by the caller reaches the services (for instance
# OTEL_EXPORTER_OTLP_COMPRESSION=gzip).
# Every new trace is sampled (parentbased_traceidratio at 1, --sampler-ratio
# 1; requests the load sends with an unsampled parent stay unsampled, as the
# checks expect): the figures are per
# span and per traced request; logs are not exported (OTEL_LOGS_EXPORTER=none)
# so the collector's bytes are spans only.
set -euo pipefail

secs="${1:-30}"
users="${2:-8}"
bin="${TRACEMESH_BIN:-target/release/tracemesh}"
work="$(mktemp -d)"
grpc_port=14317
http_port=14318
gateway_port=18080
token=measure
hz="$(getconf CLK_TCK)"

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

"$bin" collector --grpc-port "$grpc_port" --http-port "$http_port" \
    >"$work/collector.log" 2>&1 &
collector=$!
pids+=("$collector")

OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$grpc_port" \
OTEL_EXPORTER_OTLP_PROTOCOL=grpc \
OTEL_TRACES_SAMPLER=parentbased_traceidratio \
OTEL_TRACES_SAMPLER_ARG=1 \
OTEL_LOGS_EXPORTER=none \
TRACEMESH_ADMIN_TOKEN="$token" \
RUST_LOG=warn \
    "$bin" up --gateway-port "$gateway_port" >"$work/up.log" 2>&1 &
pids+=($!)

for _ in $(seq 60); do
    grep -q '^press ctrl-c' "$work/up.log" && break
    sleep 0.5
done
grep -q '^press ctrl-c' "$work/up.log" || { cat "$work/up.log"; exit 1; }

# "  gateway    http://127.0.0.1:18080  admin http://127.0.0.1:N/admin/faults ... pid P"
declare -A service_pid
admin_args=()
while read -r name admin pid; do
    service_pid[$name]="$pid"
    admin_args+=(--admin "$name=${admin%/admin/faults}")
done < <(awk '/^  (gateway|user|order|inventory|payment) / {print $1, $4, $NF}' "$work/up.log")

stat_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# Bytes the collector's OTLP/gRPC connections received, summed over its
# established sockets (tcp_info's bytes_received, as `ss -i` shows it):
# /proc/<pid>/io's rchar does not count recv(2), which the runtime reads with.
received() { ss -tinH state established "( sport = :$grpc_port )" | awk '
    { for (i = 1; i <= NF; i++) if ($i ~ /^bytes_received:/) { split($i, f, ":"); s += f[2] } }
    END { print s + 0 }'; }
stored() { curl -s "http://127.0.0.1:$http_port/api/stats" \
    | sed -E 's/.*"spans_received":([0-9]+).*/\1/'; }

TRACEMESH_ADMIN_TOKEN="$token" "$bin" run \
    --gateway "http://127.0.0.1:$gateway_port" \
    --tempo "http://127.0.0.1:$http_port" \
    --sampler-ratio 1 -u "$users" -t "${secs}s" \
    --report-dir "$work/report" "${admin_args[@]}" >"$work/run.log" 2>&1 &
run=$!
pids+=("$run")

declare -A start_ticks peak
watched=(gateway user order inventory payment collector run)
pid_of() {
    case "$1" in
        collector) echo "$collector" ;;
        run) echo "$run" ;;
        *) echo "${service_pid[$1]}" ;;
    esac
}
for name in "${watched[@]}"; do
    start_ticks[$name]="$(stat_ticks "$(pid_of "$name")")"
    peak[$name]=0
done
start_bytes="$(received)"
start_spans="$(stored)"
started="$(date +%s.%N)"
declare -A end_ticks
# Sample until the run exits; the services' and collector's CPU stops being
# counted when the load ends (the run's own stops when it exits: it then
# reads traces back and checks them, which is its cost per span).
load_end=""
while kill -0 "$run" 2>/dev/null; do
    for name in "${watched[@]}"; do
        rss="$(rss_kib "$(pid_of "$name")")"
        (( rss > peak[$name] )) && peak[$name]="$rss"
    done
    now="$(date +%s.%N)"
    if [[ -z "$load_end" ]] && awk -v a="$now" -v b="$started" -v s="$secs" 'BEGIN {exit !(a - b >= s)}'; then
        load_end="$now"
        for name in gateway user order inventory payment collector; do
            end_ticks[$name]="$(stat_ticks "$(pid_of "$name")")"
        done
        load_spans="$(stored)"
    fi
    run_ticks="$(stat_ticks "$run")"
    sleep 1
done
end_ticks[run]="$run_ticks"
sleep 2
end_spans="$(stored)"
end_bytes="$(received)"
[[ -n "$load_end" ]] || { echo "the run ended before ${secs}s: see $work/run.log"; exit 1; }
spans=$(( end_spans - start_spans ))

echo "deploy/measure.sh: ${secs} s of load, ${users} users, sampler ratio 1; $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)"
printf '%-10s %10s %12s\n' process "CPU cores" "peak RSS MiB"
for name in "${watched[@]}"; do
    ticks=$(( end_ticks[$name] - start_ticks[$name] ))
    awk -v n="$name" -v t="$ticks" -v hz="$hz" -v s="$secs" -v r="${peak[$name]}" \
        'BEGIN {printf "%-10s %10.3f %12.1f\n", n, t / hz / s, r / 1024}'
done
awk -v sp="$spans" -v b="$(( end_bytes - start_bytes ))" \
    -v lsp="$(( load_spans - start_spans ))" \
    -v ct="$(( end_ticks[collector] - start_ticks[collector] ))" \
    -v rt="$(( end_ticks[run] - start_ticks[run] ))" -v hz="$hz" -v s="$secs" 'BEGIN {
    printf "spans stored %d (%.0f/s); collector read %.0f bytes per span (OTLP/gRPC)\n", sp, sp / s, b / sp
    printf "collector CPU per span %.2f us; run (load + checks) CPU per span %.2f us\n", ct / hz / lsp * 1e6, rt / hz / sp * 1e6
}'
grep -E 'passed|failed|checkouts|requests' "$work/run.log" | tail -5 || true
echo "logs and report: $work"
