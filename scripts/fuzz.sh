#!/usr/bin/env bash
# Builds the fuzz flavour (scripts/build.sh fuzz: clang, libFuzzer, ASan + UBSan) and runs each
# fuzz target for SECONDS on its corpus, build/fuzz/corpus/<target>/, which starts from the
# committed seeds (fuzz/corpus/<target>/) and regression inputs
# (tests/fixtures/fuzz_regressions/<target>/) and keeps what the fuzzer finds between runs.
# Prints one line per target (executions, executions per second, new crashes); exits 1 when any
# target crashed, leaking its input's path (build/fuzz/crashes/<target>/...) and the end of its
# log (build/fuzz/logs/<target>.log) in the output.
#   scripts/fuzz.sh SECONDS [TARGET...]     e.g. scripts/fuzz.sh 60, scripts/fuzz.sh 600 csv
# A crash's input replays with build/fuzz/fuzz_<target> FILE; once fixed, it goes into
# tests/fixtures/fuzz_regressions/<target>/ with a test that replays it (see docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "usage: scripts/fuzz.sh SECONDS [TARGET...]" >&2
  exit 2
fi
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for source in fuzz/fuzz_*.cpp; do
    name="$(basename "$source" .cpp)"
    [ "$name" = fuzz_support ] || targets+=("${name#fuzz_}")
  done
fi

bash scripts/build.sh fuzz

# abort_on_error off: libFuzzer writes the crashing input itself, then exits non-zero.
export ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
failed=0
for target in "${targets[@]}"; do
  binary="build/fuzz/fuzz_${target}"
  if [ ! -x "$binary" ]; then
    echo "fuzz_${target}: no such target ($binary)" >&2
    exit 2
  fi
  corpus="build/fuzz/corpus/${target}"
  crashes="build/fuzz/crashes/${target}"
  log="build/fuzz/logs/${target}.log"
  mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
  for seeds in "fuzz/corpus/${target}" "tests/fixtures/fuzz_regressions/${target}"; do
    if [ -d "$seeds" ]; then cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true; fi
  done
  before="$(find "$crashes" -type f | wc -l)"
  status=0
  # -timeout: one input may take this long (the slowest seeds take well under a second);
  # -rss_limit_mb: the service target holds the committed models and a SQLite file.
  "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="${crashes}/" -print_final_stats=1 "$corpus" >"$log" 2>&1 || status=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  new=$(($(find "$crashes" -type f | wc -l) - before))
  echo "fuzz_${target}: ${execs:-?} execs, ${rate:-?} exec/s, ${new} new crashes (${seconds} s)"
  if [ "$status" -ne 0 ] || [ "$new" -ne 0 ]; then
    failed=1
    echo "fuzz_${target}: FAILED (exit ${status}); log: ${log}" >&2
    grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz invariant|.*runtime error)' "$log" | head -5 >&2 || true
    sed -n 's/.*Test unit written to /  crash input: /p' "$log" >&2 || true
  fi
done
exit "$failed"
