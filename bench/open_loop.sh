#!/usr/bin/env bash
# POST /predict at fixed offered rates (open loop), side by side in one run: nginx's `return 200`
# with a fixed JSON body (the ceiling) and one or more nbo binaries, each on a fresh SQLite file,
# on 127.0.0.1 only. Where wrk_predict.sh asks "how many requests per second at most, and how
# long do they queue then", this asks what a CRM's traffic sees below saturation: the latency
# percentiles at a given arrival rate.
#
#   bench/open_loop.sh [--rates "5000 10000 20000 30000"] [--duration S] [--connections C]
#                      [--rounds N] [--models DIR] [--server-threads N] [--server-cpus LIST]
#                      [--client-cpus LIST] [--load-predict PATH]
#                      NAME=PATH/TO/nbo[,MODELS_DIR[,MIGRATIONS_DIR]] [...]
#
# The load is build/dev/load_predict --rate R (see bench/load_predict.cpp): R requests per second
# in all over C keep-alive connections (default 64), each request due at a fixed time, its latency
# counted from that time, so a request that waited for an earlier answer is counted that much
# later (no coordinated omission). Bodies are the store export's customers, one per request,
# scored with 3 reasons and logged. For each round, each rate, each target in turn (nginx first):
# the answered rate and whether it kept up with the offered one, p50 / p90 / p99 / p99.9 / max,
# and the CPU the server's processes spent per request (user + system, from /proc). A target
# whose PATH is a directory holding server.py is the Python peer (bench/python_peer, as in
# wrk_predict.sh). --server-threads, --server-cpus and --client-cpus are those of
# wrk_predict.sh. Needs nginx (nginx-light; scripts/install-deps.sh --bench).
set -euo pipefail
cd "$(dirname "$0")/.."

rates="5000 10000 20000 30000"
duration=5
connections=64
rounds=1
models_dir=models
server_threads=""
server_cpus=""
client_cpus=""
load_predict=build/dev/load_predict
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rates) rates="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --models) models_dir="$2"; shift 2 ;;
    --server-threads) server_threads="$2"; shift 2 ;;
    --server-cpus) server_cpus="$2"; shift 2 ;;
    --client-cpus) client_cpus="$2"; shift 2 ;;
    --load-predict) load_predict="$2"; shift 2 ;;
    -h|--help) sed -n 2,21p "$0"; exit 0 ;;
    *=*) targets+=("$1"); shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || { echo "give at least one NAME=PATH/TO/nbo" >&2; exit 2; }
[ -x "$load_predict" ] || {
  echo "no load generator at $load_predict (cmake --build build/dev)" >&2
  exit 2
}
nginx_bin="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
[ -x "$nginx_bin" ] || { echo "nginx is not installed (apt-get install nginx-light)" >&2; exit 2; }

source bench/servers.sh
make_work_dir nbo-open-loop

pin_server=()
pin_client=()
[ -z "$server_cpus" ] || pin_server=(taskset -c "$server_cpus")
[ -z "$client_cpus" ] || pin_client=(taskset -c "$client_cpus")

nginx_port="$(free_port)"
start_nginx "$nginx_bin" "$nginx_port" "${server_threads:-2}"
names=(nginx)
ports=("$nginx_port")
server_pids=("${pids[0]}")
for target in "${targets[@]}"; do
  port="$(free_port)"
  start_target "$target" "$models_dir" "$port" "${server_threads:-2}" \
    ${server_threads:+--threads "$server_threads"}
  server_pids+=($!)
  names+=("$target_name")
  ports+=("$port")
done

printf '%-6s %-7s %-10s %9s %-7s %7s %7s %7s %7s %7s %14s\n' round rate target "req/s" kept_up \
  "p50 ms" "p90 ms" "p99 ms" "p99.9" "max ms" "server us/req"
for round in $(seq 1 "$rounds"); do
  for rate in $rates; do
    for i in "${!names[@]}"; do
      cpu_before="$(cpu_seconds "${server_pids[$i]}")"
      result="$("${pin_client[@]}" "$load_predict" --target "127.0.0.1:${ports[$i]}" \
        --rate "$rate" --connections "$connections" --duration "$duration" --warmup 1 \
        2>>"$work/load_predict.err" | grep '^RESULT ')" || {
        echo "load_predict failed against ${names[$i]} at $rate/s:" >&2
        tail -5 "$work/load_predict.err" >&2
        exit 1
      }
      cpu_after="$(cpu_seconds "${server_pids[$i]}")"
      # The server's CPU over the warmup and the measured window, per request answered in both
      # (the same rate throughout).
      python3 - "$result" "$round" "$rate" "${names[$i]}" "$cpu_before" "$cpu_after" <<'PY'
import json, sys
r = json.loads(sys.argv[1][len("RESULT "):])
round_, rate, name, cpu_before, cpu_after = sys.argv[2:7]
l = r["latency_ms"]
requests = r["req_per_s"] * (r["duration_s"] + r["warmup_s"])
cpu_us = (float(cpu_after) - float(cpu_before)) * 1e6 / max(requests, 1)
print("%-6s %-7s %-10s %9.0f %-7s %7.3f %7.3f %7.3f %7.3f %7.2f %14.1f" % (
    round_, rate, name, r["req_per_s"], "yes" if r["kept_up"] else "NO", l["p50"], l["p90"],
    l["p99"], l["p99_9"], l["max"], cpu_us))
PY
    done
  done
done
