# Sourced by the bench scripts (wrk_predict.sh, python_peer.sh, open_loop.sh): a scratch
# directory, free ports, readiness, starting nginx, an nbo or the Python peer on 127.0.0.1, and
# the CPU time and memory of a server's processes. The caller has set -euo pipefail, called
# make_work_dir, and set an array pin_server (a command prefix such as `taskset -c 0-3`, or
# empty). After a start_* call, $! is the server's pid.

# make_work_dir PREFIX: $work, a fresh directory /tmp/PREFIX-XXXXXX, and the array pids; on exit
# every process in pids is stopped and $work removed.
make_work_dir() {
  work="$(mktemp -d "/tmp/$1-XXXXXX")"
  pids=()
  trap cleanup_work_dir EXIT
}
cleanup_work_dir() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

# A process and its children processes (uvicorn's workers, nginx's).
process_tree() { echo "$1" $(pgrep -P "$1" || true); }  # pid

# CPU seconds (user + system) of a process and its children so far.
cpu_seconds() {  # pid
  local ticks=0 task stat
  for task in $(process_tree "$1"); do
    read -r -a stat < "/proc/$task/stat" || continue
    ticks=$((ticks + stat[13] + stat[14]))
  done
  python3 -c "print($ticks / $(getconf CLK_TCK))"
}

# Resident memory (VmRSS) or proportional set size (Pss) of a process and its children, in kB.
rss_kb() { sum_kb "$1" status VmRSS; }  # pid
pss_kb() { sum_kb "$1" smaps_rollup Pss; }  # pid
sum_kb() {  # pid file field
  local kb=0 task
  for task in $(process_tree "$1"); do
    kb=$((kb + $(awk -v f="$3:" '$1 == f {print $2}' "/proc/$task/$2" 2>/dev/null || echo 0)))
  done
  echo "$kb"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_ready() {  # URL: polls for up to 10 s
  for _ in $(seq 1 200); do
    if curl -sf -o /dev/null "$1"; then return 0; fi
    sleep 0.05
  done
  echo "not ready: $1" >&2
  return 1
}

# split_target NAME=BINARY[,MODELS_DIR[,MIGRATIONS_DIR]] DEFAULT_MODELS: sets target_name,
# target_binary, target_models (DEFAULT_MODELS when not given or empty) and target_migrations
# (this checkout's migrations/ when not given or empty).
split_target() {
  target_name="${1%%=*}"
  IFS=, read -r target_binary target_models target_migrations <<<"${1#*=}"
  target_models="${target_models:-$2}"
  target_migrations="${target_migrations:-migrations}"
}

# start_target NAME=PATH[,MODELS_DIR[,MIGRATIONS_DIR]] DEFAULT_MODELS PORT WORKERS [nbo serve
# flags...]: split_target, then the Python peer when PATH is a directory holding server.py (its
# model: MODELS_DIR when given, else logistic; WORKERS processes), else start_nbo with the flags.
# Sets target_kind to peer or nbo; $! is the server's pid.
start_target() {
  local target="$1" default_models="$2" port="$3" workers="$4"
  shift 4
  split_target "$target" "$default_models"
  if [ -f "$target_binary/server.py" ]; then
    local peer_model=logistic
    [ "$target_models" = "$default_models" ] || peer_model="$target_models"
    start_python_peer "$target_name" "$target_binary" "$peer_model" "$port" "$workers"
    target_kind=peer
  else
    start_nbo "$target_name" "$target_binary" "$port" "$target_models" "$target_migrations" "$@"
    target_kind=nbo
  fi
}

# start_nbo NAME BINARY PORT MODELS_DIR MIGRATIONS_DIR [nbo serve flags...]: a fresh SQLite file
# $work/NAME.db, its log in $work/NAME.log.
start_nbo() {
  local name="$1" binary="$2" port="$3" models="$4" migrations="$5"
  shift 5
  "${pin_server[@]}" "$binary" serve --host 127.0.0.1 --port "$port" --models "$models" \
    --db-path "$work/$name.db" --migrations "$migrations" "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
  wait_ready "http://127.0.0.1:$port/ready" || { cat "$work/$name.log" >&2; exit 1; }
}

# start_nginx BINARY PORT WORKERS: the HTTP ceiling of this machine, nginx answering every request
# (any method, any path) with a fixed 104-byte JSON body, its files in $work/nginx.
start_nginx() {
  local binary="$1" port="$2" workers="$3"
  local body='{"customer_id":"215349","label":true,"probability":0.9841,"risk_band":"high","threshold":0.5349000}'
  mkdir -p "$work/nginx"
  cat > "$work/nginx/nginx.conf" <<CONF
worker_processes $workers;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  server {
    listen 127.0.0.1:$port;
    location / { default_type application/json; return 200 '$body'; }
  }
}
CONF
  "${pin_server[@]}" "$binary" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2>"$work/nginx/stderr" &
  pids+=($!)
  wait_ready "http://127.0.0.1:$port/" || { cat "$work/nginx/stderr" "$work/nginx/error.log" >&2; exit 1; }
}

# start_python_peer NAME APP_DIR MODEL PORT WORKERS: the peer of bench/python_peer/ (README
# there), its model (logistic | knn) trained from the export ($PEER_DATA, default
# ../shared/data/market) into $work/NAME.pkl, then served by uvicorn with WORKERS processes,
# uvloop and httptools, no access log, a fresh SQLite request log; returns once every worker has
# loaded the model. $PEER_PYTHON (default /usr/bin/python3, Debian's, where
# scripts/install-deps.sh --bench installs the packages) runs it.
start_python_peer() {
  local name="$1" app_dir="$2" model="$3" port="$4" workers="$5"
  local python="${PEER_PYTHON:-/usr/bin/python3}"
  "$python" "$app_dir/model.py" --data "${PEER_DATA:-../shared/data/market}" --model "$model" \
    --out "$work/$name.pkl" 2>"$work/$name.train.log" || { cat "$work/$name.train.log" >&2; exit 1; }
  PEER_MODEL_PICKLE="$work/$name.pkl" PEER_DB_PATH="$work/$name.db" \
    PEER_READY_FILE="$work/$name.ready" \
    "${pin_server[@]}" "$python" -m uvicorn server:app --app-dir "$app_dir" --host 127.0.0.1 \
    --port "$port" --workers "$workers" --loop uvloop --http httptools --no-access-log \
    --log-level warning >"$work/$name.log" 2>&1 &
  pids+=($!)
  wait_ready "http://127.0.0.1:$port/ready" || { cat "$work/$name.log" >&2; exit 1; }
  for _ in $(seq 1 200); do  # every worker has loaded the model
    [ "$(cat "$work/$name.ready" 2>/dev/null | wc -l)" -ge "$workers" ] && return 0
    sleep 0.05
  done
  echo "$name: not every one of its $workers workers loaded the model within 10 s" >&2
  cat "$work/$name.log" >&2
  exit 1
}
