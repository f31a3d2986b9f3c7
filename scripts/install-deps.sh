#!/usr/bin/env bash
# Installs every build and test dependency of nbo from Debian's archive.
# Idempotent: packages already present are skipped, and nothing runs apt when all are there.
# The Dockerfile installs exactly the same list (keep them in sync).
#   scripts/install-deps.sh           build and test dependencies
#   scripts/install-deps.sh --bench   also the load-test peers of bench/wrk_predict.sh (wrk, nginx)
#                                     and the Python peer of bench/python_peer.sh (FastAPI, uvicorn
#                                     with uvloop and httptools, scikit-learn, numpy)
#
# --bench and Boost: Debian 12's python3-scipy (needed by python3-sklearn) depends on
# python3-pythran, which depends on libboost-dev, i.e. libboost1.74-dev, and that conflicts with the
# libboost1.81-dev nbo builds with. Pythran only needs Boost's headers (scipy itself does not load
# it at run time), so --bench builds a local package, nbo-libboost-dev-1.81, that depends on
# libboost1.81-dev and provides libboost-dev, and installs it with the rest (dpkg-deb, no download).
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
boost_stub=nbo-libboost-dev-1.81
if [ "${1:-}" = "--bench" ]; then
  packages+=(wrk nginx-light python3
    "$boost_stub" python3-fastapi python3-uvicorn python3-uvloop python3-httptools
    python3-sklearn python3-numpy)
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
for i in "${!missing[@]}"; do
  if [ "${missing[$i]}" = "$boost_stub" ]; then  # built here, see the note at the top
    stub_dir="$(mktemp -d /tmp/nbo-deps-XXXXXX)"
    trap 'rm -rf "$stub_dir"' EXIT
    mkdir -p "$stub_dir/pkg/DEBIAN"
    cat > "$stub_dir/pkg/DEBIAN/control" <<'CONTROL'
Package: nbo-libboost-dev-1.81
Version: 1.81.0-nbo1
Architecture: all
Maintainer: nbo developers <nbo@localhost>
Depends: libboost1.81-dev
Provides: libboost-dev (= 1.81.0)
Conflicts: libboost-dev
Section: libdevel
Priority: optional
Description: libboost-dev satisfied by Boost 1.81 (nbo's benchmark dependencies)
 Lets python3-pythran (and through it python3-scipy and python3-sklearn) install beside
 libboost1.81-dev, which Debian 12's libboost-dev (1.74) conflicts with. Built by
 scripts/install-deps.sh --bench; contains no files.
CONTROL
    dpkg-deb --build --root-owner-group "$stub_dir/pkg" "$stub_dir/$boost_stub.deb" >/dev/null
    chmod -R a+rX "$stub_dir"
    missing[$i]="$stub_dir/$boost_stub.deb"
  fi
done
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
