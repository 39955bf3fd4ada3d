#!/usr/bin/env bash
# Profiles intaked (delivery=filing) with perf while smtpload sends one message shape.
#
#   bench/filing/profile.sh [SIZE] [MODE]     # SIZE: 2k 5k fwd 50k 2m (default 2k)
#                                             # MODE: cpu (default) or faults (page faults: who touches new memory)
# Environment: SECONDS_TO_PROFILE (8), SESSIONS (20), RATE (0: as fast as possible; else msgs/s),
# INTAKED, INTAKECTL, PERF_ARGS (extra arguments for perf record), TOP (30 lines per report),
# KEEP_PERF (a path to keep perf.data at, for more `perf report`s).
# Prints the top symbols by self time and by inclusive time (demangled), and the load's figures.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
INTAKED=${INTAKED:-$ROOT/.build-release/release/intaked}
INTAKECTL=${INTAKECTL:-$ROOT/.build-release/release/intakectl}
SIZE=${1:-2k}
MODE=${2:-cpu}
SECONDS_TO_PROFILE=${SECONDS_TO_PROFILE:-8}
SESSIONS=${SESSIONS:-20}
RATE=${RATE:-0}
TOP=${TOP:-30}
USER_EMAIL=ada@acme-bench.example
DEMANGLE="cat"
command -v swift >/dev/null && DEMANGLE="swift demangle --simplified"

WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/intake-filing-profile.XXXXXX")
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../common.sh"

gcc -O2 -Wall -pthread -o "$WORK/smtpload" "$HERE/smtpload.c"
PORT=$(free_port)
mkdir -p "$WORK/intake"
"$INTAKED" --data-dir "$WORK/intake" --smtp-host 127.0.0.1 --smtp-port "$PORT" --log-level warning \
    --set smtp.max_connections_per_ip=200 2>"$WORK/intaked.log" &
PID=$!
PIDS+=("$PID")
for _ in $(seq 100); do [ -S "$WORK/intake/admin.sock" ] && break; sleep 0.1; done
"$INTAKECTL" org create --socket "$WORK/intake/admin.sock" --name "Acme Bench" --internal-domain acme-bench.example >/dev/null
"$INTAKECTL" user create --socket "$WORK/intake/admin.sock" --org "Acme Bench" --email "$USER_EMAIL" --name "Ada Lovelace" >/dev/null
TOKEN=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT token FROM user").fetchone()[0])' "$WORK/intake/intake.sqlite")
python3 "$HERE/make_messages.py" "$WORK/messages" --user "$USER_EMAIL" --dropbox "$TOKEN@dropbox.localhost" >/dev/null
load() {
    "$WORK/smtpload" -p "$PORT" -s "$SESSIONS" -d "$1" -R "$RATE" -t "$WORK/messages/$SIZE.eml" \
        -f "$USER_EMAIL" -r "$TOKEN@dropbox.localhost"
}
load 1 >/dev/null   # warm-up

EVENT=()
[ "$MODE" = faults ] && EVENT=(-e page-faults)
# shellcheck disable=SC2086
perf record -q -g "${EVENT[@]}" ${PERF_ARGS:-} -o "$WORK/perf.data" -p "$PID" -- sleep "$((SECONDS_TO_PROFILE + 1))" 2>/dev/null &
PERF_PID=$!
PIDS+=("$PERF_PID")
sleep 0.5
echo "load ($SIZE, $SESSIONS sessions, rate ${RATE:-max}): $(load "$SECONDS_TO_PROFILE")"
echo "VmHWM of intaked: $(awk '/VmHWM/ { printf "%.1f MiB", $2 / 1024 }' /proc/$PID/status)"
wait "$PERF_PID" || true
if [ -n "${KEEP_PERF:-}" ]; then cp "$WORK/perf.data" "$KEEP_PERF"; fi

echo
echo "== self ($MODE), top $TOP =="
perf report -i "$WORK/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null \
    | grep -v '^#' | grep -v '^$' | head -"$TOP" | $DEMANGLE | cut -c1-200 || true
echo
echo "== inclusive ($MODE), top $TOP functions of the daemon's own modules, GRDB and SQLite =="
perf report -i "$WORK/perf.data" --children --sort symbol --stdio -g none 2>/dev/null \
    | grep -v '^#' | grep -v '^$' | ${DEMANGLE% --simplified} \
    | grep -E 'MailParser\.|Filing\.|IntakeStore\.|IntakeServer\.|SMTPNIO\.|SMTPCore\.|GRDB\.|sqlite3' \
    | sed -E 's/ \(extension in [A-Za-z]+\)://g' | head -"$TOP" | cut -c1-220 || true
