#!/usr/bin/env bash
# nbo against its Python peer (bench/python_peer: FastAPI + uvicorn, 2 workers, scikit-learn),
# side by side in one run, on 127.0.0.1 only:
#   1. single customers: bench/wrk_predict.sh with nginx (the HTTP ceiling), nbo, and the peer with
#      its logistic and its k-NN model, --rounds alternating rounds at each --connections;
#   2. batches: load_predict --batch B --connections C --duration S --warmup 1 against nbo and the
#      two peers in alternation, --rounds times: customers/s, p50, p99, server CPU per customer,
#      each nbo against the issue's target for that batch size (200 000 customers/s with 100,
#      p99 <= 20 ms with 1000), then each nbo's pace over each peer's in the same round (target
#      10x);
#      with --batch-reasons N, each nbo also answers the same batches with ?reasons=N in every
#      round, on the same server (N=0: no explanation, the default model's largest cost);
#   3. memory: RSS and PSS (sum over the server's processes) idle after start and after the load.
#
#   bench/python_peer.sh [--duration S] [--rounds N] [--connections "16 64"] [--batch 100]
#                        [--batch-connections 16] [--nbo build/dev/nbo] [--models models]
#                        [--load-predict build/dev/load_predict] [--only single|batch]
#                        [--batch-reasons N]
#                        [NAME=PATH/TO/nbo[,MODELS_DIR[,MIGRATIONS_DIR]] ...]
#
# Without NAME=... targets, nbo is --nbo serving --models; with them, each is an nbo of its own in
# every part of the run (another commit's build, the fastest model family's models directory...),
# as in bench/wrk_predict.sh.
#
# The whole run holds the lock file $NBO_BENCH_LOCK (default /tmp/nbo-bench.lock; empty: none), so
# benchmarks of others on a shared machine never overlap with it. Needs
# `bash scripts/install-deps.sh --bench` (wrk, nginx-light, the Python packages) and a build with
# nbo and load_predict (cmake --build build/dev). Every process it starts is stopped on exit.
set -euo pipefail
self="$(realpath "$0")"
cd "$(dirname "$self")/.."

lock="${NBO_BENCH_LOCK-/tmp/nbo-bench.lock}"
if [ -n "$lock" ] && [ -z "${NBO_BENCH_LOCK_HELD:-}" ]; then
  NBO_BENCH_LOCK_HELD=1 exec flock "$lock" "$self" "$@"
fi

duration=5
rounds=2
connections="16 64"
batch=100
batch_connections=16
nbo=build/dev/nbo
models_dir=models
load_predict=build/dev/load_predict
only=""
batch_reasons=""
nbo_targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --batch-connections) batch_connections="$2"; shift 2 ;;
    --nbo) nbo="$2"; shift 2 ;;
    --models) models_dir="$2"; shift 2 ;;
    --load-predict) load_predict="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --batch-reasons) batch_reasons="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo pipefail/p' "$0" | sed '$d'; exit 0 ;;
    *=*) nbo_targets+=("$1"); shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
peer_python="${PEER_PYTHON:-/usr/bin/python3}"
export PEER_PYTHON="$peer_python"
"$peer_python" -c 'import fastapi, uvicorn, uvloop, httptools, sklearn, numpy' 2>/dev/null || {
  echo "the Python peer's packages are missing: bash scripts/install-deps.sh --bench" >&2; exit 2; }
[ ${#nbo_targets[@]} -gt 0 ] || nbo_targets=("nbo=$nbo,$models_dir")
for target in "${nbo_targets[@]}"; do
  binary="${target#*=}"
  [ -x "${binary%%,*}" ] || { echo "no nbo binary at ${binary%%,*} (cmake --build build/dev)" >&2; exit 2; }
done
[ -x "$load_predict" ] || { echo "no load_predict at $load_predict" >&2; exit 2; }
data="${PEER_DATA:-../shared/data/market}"

echo "== nbo vs its Python peer ($(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "nbo: ${nbo_targets[*]} (this checkout: $(git rev-parse --short HEAD 2>/dev/null || echo ?)$(git diff --quiet 2>/dev/null || echo '+changes'))"
"$peer_python" - <<'PY'
import sys, fastapi, uvicorn, starlette, pydantic, uvloop, httptools, sklearn, numpy, scipy
print("peer: Python %s, FastAPI %s, Starlette %s, pydantic %s, uvicorn %s (uvloop %s, httptools %s), "
      "scikit-learn %s, numpy %s, scipy %s" % (sys.version.split()[0], fastapi.__version__,
      starlette.__version__, pydantic.VERSION, uvicorn.__version__, uvloop.__version__,
      httptools.__version__, sklearn.__version__, numpy.__version__, scipy.__version__))
PY

if [ "$only" != "batch" ]; then
  echo
  echo "== single customers: bench/wrk_predict.sh --duration $duration --rounds $rounds --connections \"$connections\""
  bench/wrk_predict.sh --duration "$duration" --rounds "$rounds" \
    --connections "$connections" --models "$models_dir" \
    "${nbo_targets[@]}" py_lr=bench/python_peer,logistic py_knn=bench/python_peer,knn
fi
[ "$only" != "single" ] || exit 0

pin_server=()
source bench/servers.sh
make_work_dir nbo-python-peer
memory() {  # pid: "RSS MiB / PSS MiB" summed over it and its children
  "$peer_python" -c "print('%.1f / %.1f' % ($(rss_kb "$1") / 1024, $(pss_kb "$1") / 1024))"
}

names=()
ports=()
server_pids=()
# Each nbo with its defaults (log level info, one buffered line per request), as wrk_predict.sh
# runs it.
for target in "${nbo_targets[@]}"; do
  split_target "$target" "$models_dir"
  port="$(free_port)"
  start_nbo "$target_name" "$target_binary" "$port" "$target_models" "$target_migrations"
  server_pids+=($!); ports+=("$port"); names+=("$target_name")
done
for peer in py_lr:logistic py_knn:knn; do
  name="${peer%%:*}"
  port="$(free_port)"
  PEER_DATA="$data" start_python_peer "$name" bench/python_peer "${peer#*:}" "$port" 2
  server_pids+=($!); ports+=("$port"); names+=("$name")
  grep '^trained' "$work/$name.train.log" | sed "s/^/$name: /" || true
done
sleep 1
idle=()
for i in "${!names[@]}"; do idle+=("$(memory "${server_pids[$i]}")"); done

echo
echo "== batches of $batch: $load_predict --target 127.0.0.1:PORT --batch $batch --connections $batch_connections --duration $duration --warmup 1"
# Server CPU from /proc over the whole load_predict call (warmup included): "cores" is its average
# over the call, "us/cust" that divided by the measured pace (so it assumes the warmup ran as fast).
# The issue's batch targets, for nbo's targets: 200 000 customers/s with 100-customer batches,
# p99 <= 20 ms with 1000-customer ones.
batch_target() {  # customers/s, p99 ms: "met"/"NOT met" against this batch size's target, if any
  case "$batch" in
    100) "$peer_python" -c "print('>=200000/s ' + ('met' if $1 >= 200000 else 'NOT met'))" ;;
    1000) "$peer_python" -c "print('p99<=20ms ' + ('met' if $2 <= 20 else 'NOT met'))" ;;
    *) echo "" ;;
  esac
}
nbo_count=${#nbo_targets[@]}
declare -A batch_pace  # "round name" -> customers/s
printf '%-6s %-8s %13s %9s %9s %8s %8s %13s %9s  %s\n' round target "customers/s" "p50 ms" "p99 ms" \
  "non-200" "x ${names[0]}" "server cores" "~us/cust" "target"
# One row: target i's batches, with extra load_predict arguments, printed as `label`.
batch_row() {  # round i label [load_predict args...]
  local round="$1" i="$2" label="$3"
  shift 3
  cpu_before="$(cpu_seconds "${server_pids[$i]}")"
  started="$(date +%s.%N)"
  result="$("$load_predict" --target "127.0.0.1:${ports[$i]}" --batch "$batch" \
    --connections "$batch_connections" --duration "$duration" --warmup 1 \
    --data "$data" "$@" 2>"$work/load.err" | grep '^RESULT ' | cut -d' ' -f2-)" \
    || { cat "$work/load.err" >&2; exit 1; }
  cpu_after="$(cpu_seconds "${server_pids[$i]}")"
  wall="$("$peer_python" -c "import time; print(time.time() - $started)")"
  read -r cps p50 p99 bad requests <<<"$("$peer_python" -c "
import json, sys
r = json.loads(sys.argv[1])
print(r['customers_per_s'], r['latency_ms']['p50'], r['latency_ms']['p99'],
      r['requests'] - r['ok'] + r['transport_errors'], r['requests'])" "$result")"
  [ -n "$reference" ] || reference="$cps"
  cores="$("$peer_python" -c "print(($cpu_after - $cpu_before) / $wall)")"
  verdict="(a peer)"
  if [ "$i" -lt "$nbo_count" ]; then
    verdict="$(batch_target "$cps" "$p99")"
    [ $# -eq 0 ] || verdict="(no target: $*)"
  fi
  batch_pace["$round $label"]="$cps"
  printf '%-6s %-8s %13.0f %9.2f %9.2f %8s %8.3f %13.2f %9.1f  %s\n' "$round" "$label" \
    "$cps" "$p50" "$p99" "$bad" "$("$peer_python" -c "print($cps / $reference)")" "$cores" \
    "$("$peer_python" -c "print($cores * 1e6 / max($cps, 1))")" "$verdict"
}
# Whether target i reads ?reasons= (an nbo before it ignores the query and would explain anyway).
takes_reasons() {  # i
  curl -s -X POST -H 'Content-Type: application/json' \
    "http://127.0.0.1:${ports[$1]}/predict?reasons=x" | grep -q '"field":"reasons"'
}
for round in $(seq 1 "$rounds"); do
  reference=""
  for i in "${!names[@]}"; do
    batch_row "$round" "$i" "${names[$i]}"
    if [ -n "$batch_reasons" ] && [ "$i" -lt "$nbo_count" ] && takes_reasons "$i"; then
      batch_row "$round" "$i" "${names[$i]}/r$batch_reasons" --reasons "$batch_reasons"
    fi
  done
done

echo
echo "== batches of $batch against the Python peer, round by round (the issue's target: 10x)"
for name in "${names[@]:0:$nbo_count}"; do
  for round in $(seq 1 "$rounds"); do
    "$peer_python" -c "
import sys
name, round_, nbo, lr, knn = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:])
def over(peer):  # nbo's pace over the peer's, against 10x; a peer that scored nothing has none
    return 'no ratio (the peer scored 0)' if peer <= 0 else '%5.1fx (%s)' % (
        nbo / peer, 'met' if nbo / peer >= 10 else 'NOT met')
print('%-8s round %s: %s py_lr, %s py_knn' % (name, round_, over(lr), over(knn)))" \
      "$name" "$round" "${batch_pace["$round $name"]}" "${batch_pace["$round py_lr"]}" \
      "${batch_pace["$round py_knn"]}"
  done
done

echo
echo "== memory: RSS / PSS in MiB, summed over the server's processes (PSS shares pages fairly)"
printf '%-8s %10s %22s %22s\n' target processes "idle after start" "idle after the load"
sleep 1
for i in "${!names[@]}"; do
  printf '%-8s %10s %22s %22s\n' "${names[$i]}" "$(process_tree "${server_pids[$i]}" | wc -w)" "${idle[$i]}" \
    "$(memory "${server_pids[$i]}")"
done
