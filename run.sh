#!/usr/bin/env bash
# docasset set-up and entry points. Idempotent; the second run skips what is done.
#   ./run.sh demo   set up, then run the end-to-end demo (SQLite Dagster instance, local files)
#   ./run.sh test   set up, then run the whole test suite
#   ./run.sh setup  set up only
#   ./run.sh ui     set up, then open the Dagster UI (`dg dev`) on the demo's instance
#   ./run.sh stack | stack-stop | stack-status   the production stack (deploy/stack.sh:
#                   Postgres, Redis, code server, daemon, webserver, two Celery workers)
#   ./run.sh labelstudio [stop|status]  Label Studio for operators (own venv, data in .docasset/)
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
PY=${PYTHON:-python3.11}
CMD=${1:-demo}

need_apt=()
command -v tesseract >/dev/null 2>&1 || need_apt+=(tesseract-ocr tesseract-ocr-eng)
[ -f /usr/share/tesseract-ocr/5/tessdata/osd.traineddata ] || ls /usr/share/tesseract-ocr/*/tessdata/osd.traineddata >/dev/null 2>&1 || need_apt+=(tesseract-ocr-osd)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf ] || need_apt+=(fonts-dejavu-extra)
# Headless Chromium: the tests open the health and drift pages offline.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if ! command -v "$PY" >/dev/null 2>&1; then
  if python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    PY=python3
  else
    need_apt+=(python3.11)
  fi
fi
"$PY" -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3.11-venv)
# The stack and its integration test need PostgreSQL and Redis servers.
case "$CMD" in
  test|stack)
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
    command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server);;
esac

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing system packages: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "missing system packages; run:  sudo apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
fi

# The venv is rebuilt only when the dependency files change (stamp = their hash).
stamp_now=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.docasset-stamp 2>/dev/null)" != "$stamp_now" ]; then
  echo "setting up .venv (python: $("$PY" --version))"
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  log=.venv/pip-install.log
  { .venv/bin/python -m pip install --upgrade pip &&
    .venv/bin/python -m pip install -c constraints.txt -e ".[dev,stack]"; } > "$log" 2>&1 \
    || { tail -40 "$log" >&2; echo "pip install failed; full log: $log" >&2; exit 1; }
  echo "$stamp_now" > .venv/.docasset-stamp
fi

# Label Studio lives in its own venv (its SDK 2.1 needs numpy 2; ours must stay below 2), pinned
# by constraints-labelstudio.txt; rebuilt only when that file changes.
ensure_labelstudio() {
  local stamp
  stamp=$(sha256sum constraints-labelstudio.txt | cut -c1-16)
  if [ ! -x .venv-labelstudio/bin/label-studio ] || [ "$(cat .venv-labelstudio/.docasset-stamp 2>/dev/null)" != "$stamp" ]; then
    echo "setting up .venv-labelstudio (label-studio $(grep -m1 '^label-studio==' constraints-labelstudio.txt | cut -d= -f3), about a minute)"
    [ -x .venv-labelstudio/bin/python ] || "$PY" -m venv .venv-labelstudio
    local log=.venv-labelstudio/pip-install.log
    { .venv-labelstudio/bin/python -m pip install --upgrade pip &&
      .venv-labelstudio/bin/python -m pip install -c constraints-labelstudio.txt label-studio; } > "$log" 2>&1 \
      || { tail -40 "$log" >&2; echo "Label Studio install failed; full log: $log" >&2; exit 1; }
    echo "$stamp" > .venv-labelstudio/.docasset-stamp
  fi
}

export OMP_THREAD_LIMIT=1
# dg runs the project's Dagster from this venv, activated (dg warns when the active venv is
# not the project's).
export VIRTUAL_ENV="$ROOT/.venv"
export PATH="$ROOT/.venv/bin:$PATH"
export DOCASSET_STATE="$ROOT/.docasset"
case "$CMD" in
  setup) echo "set up: .venv ready, tesseract $(tesseract --version 2>&1 | head -1)";;
  demo)
    shift || true
    export DAGSTER_HOME="$DOCASSET_STATE/dagster_home" DOCASSET_HOME="$DOCASSET_STATE/work"
    exec .venv/bin/docasset demo --workdir "$DOCASSET_STATE" --fresh "$@";;
  test)
    shift || true
    ensure_labelstudio  # tests/integration/test_label_studio.py runs a real server
    # Static checks first: lint, format, types and import layers are part of the suite; then the
    # definitions load as `dg dev` would load them (autoloaded from docasset/defs/).
    .venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy \
      && .venv/bin/lint-imports || exit 1
    .venv/bin/dg check defs && .venv/bin/dg list defs >/dev/null || exit 1
    # Test files spread over the cores (one file's tests stay in one worker, so each file's
    # servers and module fixtures are set up once; the files sharing a session world, see
    # tests/conftest.py, stay in one worker too); one worker more than the cores, because the
    # integration files wait on servers and sensors and a worker that waits leaves a core idle;
    # DOCASSET_TEST_WORKERS=0 runs serially.
    # (nproc without the OMP limits: GNU nproc obeys OMP_THREAD_LIMIT, exported as 1 above.)
    workers="${DOCASSET_TEST_WORKERS:-$(($(env -u OMP_THREAD_LIMIT -u OMP_NUM_THREADS nproc) + 1))}"
    exec .venv/bin/python -m pytest -n "$workers" --dist loadfile "$@";;
  labelstudio)
    shift || true
    ensure_labelstudio
    # Any docasset home (DOCASSET_HOME), the demo's by default: Label Studio serves its files.
    export DOCASSET_HOME="${DOCASSET_HOME:-$DOCASSET_STATE/work}"
    exec .venv/bin/docasset labelstudio "${@:-start}" --state "$DOCASSET_STATE/labelstudio";;
  ui)
    export DAGSTER_HOME="${DAGSTER_HOME:-$DOCASSET_STATE/dagster_home}"
    export DOCASSET_HOME="${DOCASSET_HOME:-$DOCASSET_STATE/work}"
    mkdir -p "$DAGSTER_HOME"
    [ -s "$DAGSTER_HOME/dagster.yaml" ] || printf 'telemetry:\n  enabled: false\n' > "$DAGSTER_HOME/dagster.yaml"
    exec .venv/bin/dg dev;;
  stack) exec deploy/stack.sh up;;
  stack-stop) exec deploy/stack.sh down;;
  stack-status) exec deploy/stack.sh status;;
  *) echo "usage: ./run.sh [setup|demo|test|ui|stack|stack-stop|stack-status|labelstudio [start|stop|status]]" >&2; exit 2;;
esac
