#!/usr/bin/env bash
# Installs every build and test dependency of nbo from Debian's archive.
# Idempotent: packages already present are skipped, and nothing runs apt when all are there.
# The Dockerfile installs exactly the same list (keep them in sync).
#   scripts/install-deps.sh           build and test dependencies
#   scripts/install-deps.sh --bench   also the load-test peers of bench/wrk_predict.sh (wrk, nginx)
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libboost1.81-dev libboost-program-options1.81-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev
  libsqlite3-dev sqlite3 libeigen3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libxgboost-dev libsvm-dev libsimdjson-dev
  libssl-dev curl ccache
)
if [ "${1:-}" = "--bench" ]; then
  packages+=(wrk nginx-light python3)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
