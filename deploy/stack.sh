#!/usr/bin/env bash
# The docasset production stack on one machine: PostgreSQL (instance storage), Redis (Celery
# broker), the code server, the daemon, the webserver and Celery run workers.
#   deploy/stack.sh up       start what is not running; prints the UI URL
#   deploy/stack.sh down     stop everything `up` started (by recorded pid / process group)
#   deploy/stack.sh status   what runs, with pids
# Configuration (environment; `up` records it in $DOCASSET_STACK_DIR/env.sh for the others):
#   DOCASSET_STACK_DIR   pids, logs, DAGSTER_HOME, local Postgres/Redis data (.docasset/stack)
#   DOCASSET_HOME        docasset working directory and IO-manager storage ($STACK_DIR/work);
#                        must be on a file system every worker mounts at the same path
#   DOCASSET_PG_HOST     an existing Postgres (then also DOCASSET_PG_PORT/_DB/_USER/_PASSWORD);
#                        unset: a local cluster in $STACK_DIR/pg on 127.0.0.1:$DOCASSET_PG_PORT
#   DOCASSET_CELERY_BROKER / DOCASSET_CELERY_BACKEND  an existing Redis (redis://host:port/N);
#                        unset: a local redis-server on 127.0.0.1:$DOCASSET_REDIS_PORT
#   DOCASSET_WEB_HOST/_PORT (127.0.0.1:3000), DOCASSET_CODE_PORT (4266), DOCASSET_WORKERS (2),
#   DOCASSET_WORKER_CONCURRENCY (1), DOCASSET_MAX_CONCURRENT_RUNS (workers x concurrency),
#   DOCASSET_CODE_MODULE (docasset.definitions)
set -euo pipefail
# Job control: every `&` job gets its own process group (pgid == $!), so `down` can stop a
# process with its children, and keeps SIGINT un-ignored (without it bash starts background
# jobs with SIGINT ignored, and Dagster's servers map SIGTERM to that handler).
set -m
DEPLOY=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$DEPLOY")
STACK_DIR=${DOCASSET_STACK_DIR:-$ROOT/.docasset/stack}
mkdir -p "$STACK_DIR"
STACK_DIR=$(cd "$STACK_DIR" && pwd)
PIDS=$STACK_DIR/pids
LOGS=$STACK_DIR/logs
ENV_FILE=$STACK_DIR/env.sh
export VIRTUAL_ENV="$ROOT/.venv"
export PATH="$ROOT/.venv/bin:$PATH"

T0=$SECONDS
say() { echo "stack: +$((SECONDS - T0))s $*"; }
die() { echo "stack: $*" >&2; exit 1; }

pg_bin() { # directory of initdb/pg_ctl (Debian keeps them out of PATH)
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$d" ] && [ -x "$d/initdb" ] && { echo "$d"; return; }
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return; }
  return 1
}

as_pg() { # Postgres refuses to run as root: as root, run its tools as the postgres user
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

alive() { # alive NAME: the recorded process group still has a live leader
  local f=$PIDS/$1.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ]
}

start() { # start NAME CMD...: in the background, own process group, pid file, log file
  local name=$1; shift
  if alive "$name"; then say "$name already running (pid $(cat "$PIDS/$name.pid"))"; return; fi
  "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
}

wait_for() { # wait_for SECONDS NAME CMD...: until CMD succeeds; fails when NAME died
  local end=$(($(date +%s) + $1)) name=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    if ! alive "$name" || [ "$(date +%s)" -ge "$end" ]; then
      echo "stack: $name did not come up; last lines of $LOGS/$name.log:" >&2
      tail -20 "$LOGS/$name.log" >&2 || true
      return 1
    fi
    sleep 0.3
  done
}

write_env() { # the configuration every process (and `down`, and an operator's shell) uses
  local workers=${DOCASSET_WORKERS:-2} conc=${DOCASSET_WORKER_CONCURRENCY:-1}
  local pg_local=0 redis_local=0 redis_port=${DOCASSET_REDIS_PORT:-56379}
  [ -n "${DOCASSET_PG_HOST:-}" ] || pg_local=1
  [ -n "${DOCASSET_CELERY_BROKER:-}" ] || redis_local=1
  # A shell that sourced env.sh keeps the choice made then (its host/broker are ours).
  pg_local=${DOCASSET_STACK_PG_LOCAL:-$pg_local}
  redis_local=${DOCASSET_STACK_REDIS_LOCAL:-$redis_local}
  # It holds the Postgres password and broker URLs: owner-only from its creation (umask),
  # written whole to a temp file and renamed (an older 0644 env.sh is replaced, not reused).
  local tmp="$ENV_FILE.tmp.$$"
  (umask 077 && rm -f "$tmp" && cat >"$tmp") <<ENV
# written by deploy/stack.sh up; source it to use the dagster CLI on the stack
export VIRTUAL_ENV="$ROOT/.venv"
export PATH="$ROOT/.venv/bin:\$PATH"
export DAGSTER_HOME="$STACK_DIR/dagster_home"
export DOCASSET_HOME="${DOCASSET_HOME:-$STACK_DIR/work}"
export DOCASSET_RUN_EXECUTOR=in_process
export OMP_THREAD_LIMIT="${OMP_THREAD_LIMIT:-1}"
export DOCASSET_STACK_PG_LOCAL=$pg_local
export DOCASSET_STACK_PG_DATA="${DOCASSET_PG_DATA:-$STACK_DIR/pg/data}"
export DOCASSET_PG_HOST="${DOCASSET_PG_HOST:-127.0.0.1}"
export DOCASSET_PG_PORT="${DOCASSET_PG_PORT:-$([ $pg_local = 1 ] && echo 55432 || echo 5432)}"
export DOCASSET_PG_DB="${DOCASSET_PG_DB:-dagster}"
export DOCASSET_PG_USER="${DOCASSET_PG_USER:-postgres}"
export DOCASSET_PG_PASSWORD="${DOCASSET_PG_PASSWORD:-}"
export DOCASSET_STACK_REDIS_LOCAL=$redis_local
export DOCASSET_REDIS_PORT=$redis_port
export DOCASSET_CELERY_BROKER="${DOCASSET_CELERY_BROKER:-redis://127.0.0.1:$redis_port/0}"
export DOCASSET_CELERY_BACKEND="${DOCASSET_CELERY_BACKEND:-redis://127.0.0.1:$redis_port/1}"
export DOCASSET_ARTIFACTS_DIR="${DOCASSET_ARTIFACTS_DIR:-$STACK_DIR/dagster_home/storage}"
export DOCASSET_COMPUTE_LOGS_DIR="${DOCASSET_COMPUTE_LOGS_DIR:-$STACK_DIR/dagster_home/logs}"
export DOCASSET_CODE_HOST=127.0.0.1
export DOCASSET_CODE_PORT="${DOCASSET_CODE_PORT:-4266}"
export DOCASSET_CODE_MODULE="${DOCASSET_CODE_MODULE:-docasset.definitions}"
export DOCASSET_WEB_HOST="${DOCASSET_WEB_HOST:-127.0.0.1}"
export DOCASSET_WEB_PORT="${DOCASSET_WEB_PORT:-3000}"
export DOCASSET_WORKERS=$workers
export DOCASSET_WORKER_CONCURRENCY=$conc
export DOCASSET_MAX_CONCURRENT_RUNS="${DOCASSET_MAX_CONCURRENT_RUNS:-$((workers * conc))}"
ENV
  chmod 600 "$tmp" && mv -f "$tmp" "$ENV_FILE"
}

pg_up() {
  local bin data=$DOCASSET_STACK_PG_DATA
  bin=$(pg_bin) || die "PostgreSQL is not installed (apt-get install postgresql)"
  mkdir -p "$(dirname "$data")"
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$(dirname "$data")"
    runuser -u postgres -- test -x "$(dirname "$data")" ||
      die "user postgres cannot reach $data (a parent directory is private); set DOCASSET_PG_DATA to a path it can reach, e.g. /var/lib/postgresql/docasset/data"
  fi
  if [ ! -s "$data/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$data" -U "$DOCASSET_PG_USER" -A trust -E UTF8 \
      >"$LOGS/initdb.log" 2>&1 || { tail "$LOGS/initdb.log" >&2; die "initdb failed"; }
  fi
  if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    say "postgres already running"
  else
    # TCP on localhost only, no Unix socket (its path length is limited; nothing needs it).
    as_pg "$bin/pg_ctl" -D "$data" -l "$data/../server.log" -w -t 60 \
      -o "-p $DOCASSET_PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200" \
      start >/dev/null || { tail "$data/../server.log" >&2; die "postgres did not start"; }
  fi
  head -1 "$data/postmaster.pid" >"$PIDS/postgres.pid"
  local psql=("$bin/psql" -h 127.0.0.1 -p "$DOCASSET_PG_PORT" -U "$DOCASSET_PG_USER" -d postgres -tAq)
  if [ "$("${psql[@]}" -c "select 1 from pg_database where datname = '$DOCASSET_PG_DB'")" != 1 ]; then
    "$bin/createdb" -h 127.0.0.1 -p "$DOCASSET_PG_PORT" -U "$DOCASSET_PG_USER" "$DOCASSET_PG_DB"
  fi
  say "postgres on 127.0.0.1:$DOCASSET_PG_PORT (data $data)"
}

redis_ping() { redis-cli -p "$DOCASSET_REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

redis_up() {
  command -v redis-server >/dev/null || die "Redis is not installed (apt-get install redis-server)"
  mkdir -p "$STACK_DIR/redis"
  start redis redis-server --port "$DOCASSET_REDIS_PORT" --bind 127.0.0.1 --daemonize no \
    --save '' --appendonly no --dir "$STACK_DIR/redis"
  wait_for 30 redis redis_ping
  say "redis on 127.0.0.1:$DOCASSET_REDIS_PORT"
}

http_ok() { curl -sf -o /dev/null "$1"; }

up() {
  # A failed start leaves nothing behind: stop what was recorded, then report.
  trap 'rc=$?; if [ $rc != 0 ]; then echo "stack: up failed, stopping it" >&2; down; fi' EXIT
  mkdir -p "$PIDS" "$LOGS" "$STACK_DIR/dagster_home"
  write_env
  # shellcheck source=/dev/null
  source "$ENV_FILE"
  [ -x "$ROOT/.venv/bin/dagster-celery" ] || die "the stack's Python packages are missing: ./run.sh setup"
  cp "$DEPLOY/dagster.yaml" "$DAGSTER_HOME/dagster.yaml"
  mkdir -p "$DOCASSET_HOME" "$DOCASSET_ARTIFACTS_DIR" "$DOCASSET_COMPUTE_LOGS_DIR"
  [ "$DOCASSET_STACK_PG_LOCAL" = 1 ] && pg_up
  [ "$DOCASSET_STACK_REDIS_LOCAL" = 1 ] && redis_up
  cd "$ROOT"
  start codeserver dagster code-server start -h "$DOCASSET_CODE_HOST" -p "$DOCASSET_CODE_PORT" \
    -m "$DOCASSET_CODE_MODULE" -d "$ROOT" --location-name docasset
  local i names=()
  for i in $(seq "$DOCASSET_WORKERS"); do
    names+=("worker$i")
    start "worker$i" dagster-celery worker start -A dagster_celery.app -y "$DEPLOY/celery.yaml" \
      -n "docasset-w$i" -q dagster -- --concurrency="$DOCASSET_WORKER_CONCURRENCY" \
      --without-gossip --without-mingle
  done
  # Workers, code server and webserver load in parallel; the daemon after the code server.
  wait_for 180 codeserver grep -q "Started Dagster code server" "$LOGS/codeserver.log"
  say "code server on $DOCASSET_CODE_HOST:$DOCASSET_CODE_PORT ($DOCASSET_CODE_MODULE)"
  start daemon dagster-daemon run -w "$DEPLOY/workspace.yaml"
  start webserver dagster-webserver -h "$DOCASSET_WEB_HOST" -p "$DOCASSET_WEB_PORT" \
    -w "$DEPLOY/workspace.yaml"
  for n in "${names[@]}"; do wait_for 180 "$n" grep -q " ready\.$" "$LOGS/$n.log"; done
  say "${#names[@]} celery workers (concurrency $DOCASSET_WORKER_CONCURRENCY each) on $DOCASSET_CELERY_BROKER"
  wait_for 180 daemon grep -q "Instance is configured with the following daemons" "$LOGS/daemon.log"
  wait_for 180 webserver http_ok "http://$DOCASSET_WEB_HOST:$DOCASSET_WEB_PORT/server_info"
  say "daemon and webserver up; logs in $LOGS"
  say "UI: http://$DOCASSET_WEB_HOST:$DOCASSET_WEB_PORT   (source $ENV_FILE for the dagster CLI)"
}

stop_groups() { # stop_groups NAME...: SIGTERM each recorded process group, SIGKILL after 30 s
  local n pid groups=()
  for n in "$@"; do
    alive "$n" || { rm -f "$PIDS/$n.pid"; continue; }
    pid=$(cat "$PIDS/$n.pid")
    kill -TERM -- "-$pid" 2>/dev/null || true
    groups+=("$n:$pid")
  done
  local end=$(($(date +%s) + 30)) left
  while :; do
    left=()
    for g in "${groups[@]}"; do pgrep -g "${g#*:}" >/dev/null && left+=("$g"); done
    [ ${#left[@]} = 0 ] || [ "$(date +%s)" -ge "$end" ] && break
    sleep 0.2
  done
  for g in "${left[@]}"; do
    say "${g%%:*} did not stop on SIGTERM: SIGKILL group ${g#*:}"
    kill -KILL -- "-${g#*:}" 2>/dev/null || true
  done
  for g in "${groups[@]}"; do say "stopped ${g%%:*} (pid ${g#*:})"; rm -f "$PIDS/${g%%:*}.pid"; done
}

down() {
  [ -f "$ENV_FILE" ] || { say "nothing to stop in $STACK_DIR"; return; }
  # shellcheck source=/dev/null
  source "$ENV_FILE"
  local workers=()
  for f in "$PIDS"/worker*.pid; do [ -e "$f" ] && workers+=("$(basename "$f" .pid)"); done
  # Dagster's processes together (each takes seconds to exit), then the servers they use.
  # A run still in flight dies with its worker; run monitoring marks it failed (re-execute it).
  stop_groups daemon webserver "${workers[@]}" codeserver
  stop_groups redis
  local bin
  if [ "$DOCASSET_STACK_PG_LOCAL" = 1 ] && bin=$(pg_bin) &&
    as_pg "$bin/pg_ctl" -D "$DOCASSET_STACK_PG_DATA" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$DOCASSET_STACK_PG_DATA" -m fast -w -t 60 stop >/dev/null
    say "stopped postgres"
  fi
  rm -f "$PIDS/postgres.pid"
}

status() {
  [ -f "$ENV_FILE" ] || { say "not started in $STACK_DIR"; return 1; }
  # shellcheck source=/dev/null
  source "$ENV_FILE"
  local rc=0 f n
  compgen -G "$PIDS/*.pid" >/dev/null || { say "not running ($STACK_DIR)"; return 1; }
  for f in "$PIDS"/*.pid; do
    [ -e "$f" ] || continue
    n=$(basename "$f" .pid)
    if [ "$n" = postgres ]; then
      if as_pg "$(pg_bin)/pg_ctl" -D "$DOCASSET_STACK_PG_DATA" status >/dev/null 2>&1; then
        echo "running  postgres (pid $(cat "$f"))"
      else
        echo "stopped  postgres"; rc=1
      fi
    elif alive "$n"; then
      echo "running  $n (pid $(cat "$f"))"
    else
      echo "stopped  $n"; rc=1
    fi
  done
  echo "UI: http://$DOCASSET_WEB_HOST:$DOCASSET_WEB_PORT"
  return $rc
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: deploy/stack.sh up|down|status" >&2; exit 2 ;;
esac
