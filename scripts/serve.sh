#!/usr/bin/env bash
# Quick start, command 1: installs what is missing, builds, and serves the default models with an
# embedded SQLite file (var/nbo.db) on http://127.0.0.1:8080. Extra arguments go to `nbo serve`
# (e.g. scripts/serve.sh --port 9000 --log-format json).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release
exec build/release/nbo serve --models models --db-path var/nbo.db --migrations migrations "$@"
