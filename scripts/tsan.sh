#!/usr/bin/env bash
# Builds the ThreadSanitizer flavour (build/tsan) and runs the tests of the parts that share
# state between threads: the HTTP server and its dispatch, the request log's writer, the model
# registry and hot reload, and the crash test's concurrent clients. Exit 0 when they pass with
# no ThreadSanitizer report.
#   scripts/tsan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh tsan
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
cd build/tsan
ctest --output-on-failure -j "$(nproc)" \
  -R 'ServerTest|ServiceDispatch|RequestLog|ModelRegistry|ApiReload|ApiPredictRequestLog|CrashTest|ServeEndToEnd'
