#!/usr/bin/env bash
# How POST /predict scales with I/O threads: bench/wrk_predict.sh run once per thread count, nginx
# beside nbo at the same number of worker processes, on 127.0.0.1 only.
#
#   bench/scaling.sh [--counts "1 2 4 8 16"] [--duration S] [--connections "64"]
#                    NAME=PATH/TO/nbo[,MODELS_DIR] [...]
#
# With C cores, a count N up to C/2 pins the servers to cores 0..N-1 and wrk (C/2 threads) to
# the upper half, so client and server never share a core; a count above C/2 leaves both
# unpinned and the table marks it "shared". Each count takes (1 + targets) x duration seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

counts="1 2 4 8 16"
duration=5
connections="64"
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --counts) counts="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    -h|--help) sed -n 2,10p "$0"; exit 0 ;;
    *=*) targets+=("$1"); shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || { echo "give at least one NAME=PATH/TO/nbo" >&2; exit 2; }

cores="$(nproc)"
half=$((cores / 2 > 0 ? cores / 2 : 1))
echo "cores: $cores; pinned counts: server on cores 0..N-1, wrk ($half threads) on cores $half..$((cores - 1))"
for n in $counts; do
  if [ "$n" -le "$half" ] && [ "$cores" -gt 1 ]; then
    placement="pinned"
    pinning=(--server-cpus "0-$((n - 1))" --client-cpus "$half-$((cores - 1))")
  else
    placement="shared"
    pinning=()
  fi
  bash bench/wrk_predict.sh --duration "$duration" --connections "$connections" --threads "$half" \
    --server-threads "$n" "${pinning[@]}" "${targets[@]}" |
    sed "s/^/io_threads=$n $placement  /"
done
