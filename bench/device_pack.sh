#!/usr/bin/env bash
# Packs what the scaling run needs into one folder that runs on a machine without this one's
# packages: the 16-core machine a task may be lent (no package archive there, so no wrk, nginx or
# Boost), on which bench/scaling.sh measures req/s by I/O threads with client and server on
# separate cores. The folder holds this build's nbo and load_predict, this machine's wrk, nginx,
# curl and taskset, every shared library they load and glibc's own loader: each program runs
# through that loader with only the folder's libraries, so only the processor and the core count
# differ from here. The logistic models (the fastest family) are trained into it too.
#
#   bench/device_pack.sh [--out DIR] [--build build/dev] [--data ../shared/data/market]
#
# DIR (default .device-pack, which .gitignore leaves out) then goes along with the working tree
# (the device tool's `carry`), and on that machine, from the repository root:
#
#   bash DIR/run.sh [--counts "1 2 4 8 16"] [--duration 5] [--connections "16 64"]
#
# prints the scaling table for the default model (knn=) and the logistic one (lr=), then
# 100-customer batches against `nbo serve --threads 8` on cores 0-7 with load_predict on the
# others (when there are 16 cores or more). About 4 minutes with the defaults on 16 cores; here,
# `bash DIR/run.sh --counts "1 2" --duration 2` checks the folder in a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.device-pack
build=build/dev
data=../shared/data/market
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo pipefail/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

programs=("$build/nbo" "$build/load_predict")
for tool in wrk nginx curl taskset; do
  path="$(command -v "$tool" || true)"
  [ -n "$path" ] || [ "$tool" != nginx ] || path=/usr/sbin/nginx
  [ -x "$path" ] || { echo "$tool is missing: bash scripts/install-deps.sh --bench" >&2; exit 2; }
  programs+=("$path")
done
for program in "${programs[@]:0:2}"; do
  [ -x "$program" ] || { echo "$program is missing: cmake --build $build" >&2; exit 2; }
done
[ -d "$data" ] || { echo "no export at $data (--data): the logistic models are trained from it" >&2; exit 2; }

rm -rf "$out"
mkdir -p "$out/bin" "$out/exe" "$out/lib"
loader=""
for program in "${programs[@]}"; do
  name="$(basename "$program")"
  cp "$program" "$out/exe/$name"
  # Every library ldd resolves, and the loader itself (the line without "=>").
  libraries="$(ldd "$program")"
  while read -r library; do
    cp -L "$library" "$out/lib/"
  done < <(awk '/=> \// {print $3} /^[ \t]*\/.*ld-linux/ {print $1}' <<<"$libraries")
  [ -n "$loader" ] ||
    loader="$(basename "$(awk '/^[ \t]*\/.*ld-linux/ {print $1}' <<<"$libraries")")"
  # The program as its own name: glibc's loader from the folder, the folder's libraries only.
  cat > "$out/bin/$name" <<WRAPPER
#!/usr/bin/env bash
here="\$(cd "\$(dirname "\${BASH_SOURCE[0]}")/.." && pwd)"
exec "\$here/lib/$loader" --library-path "\$here/lib" --argv0 "\$0" "\$here/exe/$name" "\$@"
WRAPPER
  chmod +x "$out/bin/$name"
done

# The fastest family's models, as docs/benchmarks.md makes them for the issue's table.
cp -r models "$out/models-lr"
"$build/nbo" train churn --data "$data" --candidate logistic_l2 --out "$out/models-lr/churn.json" \
  --report "$out/lr-report" --trained-at 2026-11-23T00:00:00Z >/dev/null
"$build/nbo" train segments --data "$data" --model "$out/models-lr/churn.json" \
  --out "$out/models-lr/segments.json" --report "$out/lr-report" >/dev/null
rm -rf "$out/lr-report"

cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# The packed scaling run (bench/device_pack.sh): from the repository root, with the folder's
# programs first on PATH. Options go to bench/scaling.sh.
set -euo pipefail
pack="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The repository root: here, or the folder above the pack (its default place).
[ -f bench/scaling.sh ] || cd "$pack/.."
[ -f bench/scaling.sh ] || { echo "run this from the repository root" >&2; exit 2; }
export PATH="$pack/bin:$PATH" NGINX="$pack/bin/nginx"
echo "packed by: $(cat "$pack/packed-by")"
echo "this machine: $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- || true)"
counts="1 2 4 8 16" duration=5 connections="16 64"
while [ $# -gt 0 ]; do
  case "$1" in
    --counts) counts="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
bash bench/scaling.sh --counts "$counts" --duration "$duration" --connections "$connections" \
  knn="$pack/bin/nbo" lr="$pack/bin/nbo,$pack/models-lr"
cores="$(nproc)"
[ "$cores" -ge 16 ] || exit 0
echo
echo "== 100-customer batches: nbo serve --threads 8 on cores 0-7, load_predict on 8-$((cores - 1))"
# The bench scripts' own helpers: a scratch directory cleaned up on exit, free ports, start_nbo.
source bench/servers.sh
make_work_dir nbo-device-batches
pin_server=(taskset -c 0-7)
for target in knn:models lr:"$pack/models-lr"; do
  name="${target%%:*}"
  port="$(free_port)"
  start_nbo "$name" "$pack/bin/nbo" "$port" "${target#*:}" migrations --threads 8
  server=$!
  echo "-- $name"
  taskset -c "8-$((cores - 1))" "$pack/bin/load_predict" --target "127.0.0.1:$port" \
    --client-threads 4 --connections 16 --duration 8 --warmup 1 --batch 100 |
    grep -E '^(customers|throughput|latency ms|statuses|request_log|process CPU|target):' || true
  kill "$server"; wait "$server" 2>/dev/null || true
done
RUN
chmod +x "$out/run.sh"
echo "$(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes') on $(hostname), $(date -u +%FT%TZ)" \
  > "$out/packed-by"
echo "packed $(du -sh "$out" | cut -f1) into $out: bash $out/run.sh there, from the repository root"
