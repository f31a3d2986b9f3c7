#!/usr/bin/env bash
# Configures and builds nbo into a build directory.
#   scripts/build.sh [release|test|tsan|fuzz]
#   release: optimized (build/release), what `scripts/serve.sh` runs and bench/ measures
#   test:    AddressSanitizer + UndefinedBehaviorSanitizer, warnings as errors (build/test), what
#            the test suite runs
#   tsan:    ThreadSanitizer (build/tsan), for the concurrency tests: scripts/tsan.sh
#   fuzz:    clang, libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer (build/fuzz), the
#            fuzz targets only: scripts/fuzz.sh
# Compiles go through ccache when it is installed (scripts/install-deps.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-release}"
jobs="$(nproc)"
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # base_dir and nohashdir: paths inside the checkout are hashed relative to it, so another
  # checkout of the same sources reuses the results. The sloppiness lets ccache cache files
  # compiled with a precompiled header (the test binaries use one).
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
  export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
  export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"
fi
case "$flavour" in
  release)
    cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DNBO_BUILD_TESTS=OFF -DNBO_BUILD_BENCH=ON \
      "${launcher[@]}" >/dev/null
    cmake --build build/release -j "$jobs"
    ;;
  test)
    # -O1 -g1 (line tables only): compiles in about half the time of -O2 -g, which dominates a
    # clean CI run, while sanitizer reports still name files and lines.
    cmake -S . -B build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DNBO_SANITIZE=ON -DNBO_WERROR=ON \
      -DNBO_BUILD_TESTS=ON -DNBO_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
    cmake --build build/test -j "$jobs"
    ;;
  tsan)
    cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DNBO_TSAN=ON \
      -DNBO_BUILD_TESTS=ON -DNBO_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
    cmake --build build/tsan -j "$jobs" --target nbo_http_tests nbo_store_tests nbo_models_tests \
      nbo_api_tests nbo
    ;;
  fuzz)
    # Same -O1 -g1 as the test flavour. Only the fuzz targets (and the library they link) are
    # built: the tests and the bench run in the other flavours.
    cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_COMPILER="${NBO_FUZZ_CXX:-clang++}" \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DNBO_FUZZ=ON \
      -DNBO_BUILD_TESTS=OFF -DNBO_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
    cmake --build build/fuzz -j "$jobs" --target nbo_fuzz
    ;;
  *)
    echo "usage: scripts/build.sh [release|test|tsan|fuzz]" >&2
    exit 2
    ;;
esac
