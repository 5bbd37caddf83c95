#!/usr/bin/env bash
# A local AWS emulator (moto in server mode) for the AWS adapter tests, bound to loopback.
#
#   scripts/moto.sh start   install moto into .tools/moto (first time), start it in the
#                           background, wait until it answers, print the endpoint
#   scripts/moto.sh stop    stop the server this script started (by its PID)
#   scripts/moto.sh env     print `export MOTO_ENDPOINT=…` for the running server
#
# PORT (default 5055) picks the port. The PID and log live in .tools/moto-server.{pid,log}.
# The adapter tests read MOTO_ENDPOINT and skip (with a note) when it is unset.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=.tools
VENV="$TOOLS/moto"
PORT="${PORT:-5055}"
PIDFILE="$TOOLS/moto-server.pid"
LOG="$TOOLS/moto-server.log"
ENDPOINT="http://127.0.0.1:$PORT"
MOTO_VERSION=5.2.5

install() {
    if [ -x "$VENV/bin/moto_server" ] && "$VENV/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
        return
    fi
    echo "installing moto[server]==$MOTO_VERSION into $VENV" >&2
    mkdir -p "$TOOLS"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
}

running() {
    [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

start() {
    install
    if running; then
        echo "moto already running (pid $(cat "$PIDFILE")) at $ENDPOINT" >&2
        echo "$ENDPOINT"
        return
    fi
    # Fake credentials only: moto accepts anything; nothing here can reach AWS.
    nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 100); do
        if curl -fsS -o /dev/null "$ENDPOINT/moto-api/" 2>/dev/null; then
            echo "moto $MOTO_VERSION running (pid $(cat "$PIDFILE")) at $ENDPOINT" >&2
            echo "$ENDPOINT"
            return
        fi
        if ! running; then
            echo "moto exited at start; its log:" >&2
            cat "$LOG" >&2
            rm -f "$PIDFILE"
            exit 1
        fi
        sleep 0.2
    done
    echo "moto did not answer at $ENDPOINT within 20 s; stopping it" >&2
    stop
    exit 1
}

stop() {
    if [ -f "$PIDFILE" ]; then
        local pid
        pid="$(cat "$PIDFILE")"
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
            for _ in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
            echo "moto stopped (pid $pid)" >&2
        fi
        rm -f "$PIDFILE"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    env) running && echo "export MOTO_ENDPOINT=$ENDPOINT" ;;
    install) install ;;
    *)
        echo "usage: $0 start|stop|env|install" >&2
        exit 2
        ;;
esac
