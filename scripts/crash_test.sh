#!/usr/bin/env bash
# Kills the real `nbo serve` with SIGKILL in the middle of concurrent customer writes and
# scoring, ROUNDS times with seeds FIRST_SEED.., restarting it on the same file each time, and
# checks every acknowledged write, the integrity of the database and readiness
# (tests/api/crash_test.cpp). Prints the totals. CI runs 3 rounds as part of the test suite.
#
#   scripts/crash_test.sh [ROUNDS [FIRST_SEED]]     e.g. scripts/crash_test.sh 200
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-50}"
first_seed="${2:-1000}"
binary=build/release/nbo_api_tests
[ -x "$binary" ] || binary=build/dev/nbo_api_tests
[ -x "$binary" ] || binary=build/test/nbo_api_tests
if [ ! -x "$binary" ]; then
  echo "crash_test.sh: no nbo_api_tests binary; build it first (bash scripts/build.sh test)" >&2
  exit 2
fi
NBO_CRASH_ROUNDS="$rounds" NBO_CRASH_SEED="$first_seed" \
  "$binary" --gtest_filter='CrashTest.*' --gtest_brief=1 | grep -E '^CRASH|FAILED|Failure|gone|stored'
