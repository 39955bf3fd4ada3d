#!/usr/bin/env bash
# SMTP benchmark of intaked against Postfix's smtp-sink, in one run (see README.md beside this file).
#
#   bench/smtp/run.sh                 # build intaked in release, then measure everything
#   SKIP_BUILD=1 bench/smtp/run.sh    # use the binary already in .build-release
#
# Phases, each a fixed number of messages sent by Postfix's smtp-source (5 KB, 20 parallel
# sessions, connections reused with -d) to a server on a loopback port:
#   (a) smtp-sink            the baseline: a minimal C SMTP server that throws mail away
#   (b) intaked discard      delivery=discard: the protocol path only
#   (c) intaked spool        delivery=spool: temp file, fsync, rename, fsync folder before each 250
# then the machine's fsync rate in the same folder, then intaked's memory with 1,000 idle sessions.
# Overrides (environment): SINK_MESSAGES, DISCARD_MESSAGES, SPOOL_MESSAGES, SESSIONS, SIZE,
# WARMUP_MESSAGES, ROUNDS, IDLE_CONNECTIONS, BENCH_DIR (parent of the temporary data folder).
# The three servers run side by side and the phases alternate for ROUNDS rounds (a, b, c, fsync
# rate, a, b, c, fsync rate, ...), so that load from elsewhere on the machine hits them alike; the
# summary takes the median of the rounds.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SCRATCH="$ROOT/.build-release"
INTAKED="$SCRATCH/release/intaked"
SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
SMTP_SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}

SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-5120}
SINK_MESSAGES=${SINK_MESSAGES:-80000}
DISCARD_MESSAGES=${DISCARD_MESSAGES:-60000}
SPOOL_MESSAGES=${SPOOL_MESSAGES:-15000}
ROUNDS=${ROUNDS:-3}
WARMUP_MESSAGES=${WARMUP_MESSAGES:-1000}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-1000}
PHASE_TIMEOUT=${PHASE_TIMEOUT:-300}   # seconds; a phase that takes longer fails the run
HOST=127.0.0.1
FROM=sender@example.com
TO=bench@dropbox.localhost
CLK_TCK=$(getconf CLK_TCK)

for tool in "$SMTP_SOURCE" "$SMTP_SINK" python3 timeout; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (apt-get install postfix python3 coreutils)" >&2; exit 2; }
done

# --- cleanup: every process this script starts is recorded here and stopped on exit ---
WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/intake-bench.XXXXXX")
# shellcheck source=bench/common.sh
source "$(dirname "$0")/../common.sh"

cpu_ticks() {  # utime + stime (all threads) of PID, in clock ticks; fields after the ")" of comm
    local stat
    stat=$(cat "/proc/$1/stat")
    stat=${stat##*) }
    # after "comm) ": field 3 is state, so utime (14) and stime (15) are the 12th and 13th here
    awk '{ print $12 + $13 }' <<<"$stat"
}

ctx_switches() {  # voluntary + involuntary context switches of every thread of PID (threads alive now)
    cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'
}

now() { date +%s.%N; }

# send COUNT PORT LOG: smtp-source with the benchmark's shape; prints elapsed seconds
send() {
    local count=$1 port=$2 log=$3 start end
    start=$(now)
    if ! timeout "$PHASE_TIMEOUT" "$SMTP_SOURCE" -d -s "$SESSIONS" -m "$count" -l "$SIZE" \
            -f "$FROM" -t "$TO" -M bench.example "$HOST:$port" >"$log" 2>&1; then
        echo "smtp-source failed or timed out (${PHASE_TIMEOUT} s); its output:" >&2
        tail -20 "$log" >&2
        return 1
    fi
    end=$(now)
    if [ -s "$log" ]; then  # smtp-source is silent unless a reply was unexpected
        echo "smtp-source reported errors:" >&2
        tail -20 "$log" >&2
        return 1
    fi
    python3 -c "print(f'{$end - $start:.3f}')"
}

# measure NAME PID PORT COUNT: send COUNT messages; prints a line and appends
# "msgs/s cpu-s-per-1k ctx-switches-per-msg" to $WORK/NAME.results
measure() {
    local name=$1 pid=$2 port=$3 count=$4 before after cs_before cs_after seconds
    before=$(cpu_ticks "$pid")
    cs_before=$(ctx_switches "$pid")
    seconds=$(send "$count" "$port" "$WORK/$name.log")
    after=$(cpu_ticks "$pid")
    cs_after=$(ctx_switches "$pid")
    read -r RATE CPU_PER_K CPU CS_PER_MSG <<<"$(python3 -c "
n, s, t = $count, $seconds, ($after - $before) / $CLK_TCK
print(f'{n / s:.0f} {t / n * 1000:.3f} {t:.2f} {($cs_after - $cs_before) / n:.1f}')")"
    printf '%-16s %7d msgs in %6.2f s: %6d msgs/s; server CPU %6.2f s = %.3f s per 1,000 msgs; %s context switches/msg\n' \
        "$name" "$count" "$seconds" "$RATE" "$CPU" "$CPU_PER_K" "$CS_PER_MSG"
    echo "$RATE $CPU_PER_K $CS_PER_MSG" >>"$WORK/$name.results"
}

start_intaked() {  # start_intaked DELIVERY DATA_DIR PORT: starts it in the background, sets SERVER_PID
    "$INTAKED" --data-dir "$2" --smtp-host "$HOST" --smtp-port "$3" --log-level warning \
        --set "delivery=$1" --set smtp.max_connections_per_ip=200 \
        2> >(grep -v 'delivery is discard' >&2) &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_for_port "$3" "$SERVER_PID"
}

# --- build ---
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "building intaked (release, $SCRATCH)…"
    (cd "$ROOT" && timeout 3600 swift build -c release --product intaked --scratch-path "$SCRATCH" 2>&1 | tail -3)
fi
[ -x "$INTAKED" ] || { echo "no binary at $INTAKED" >&2; exit 2; }

echo "machine: $(nproc) cores, $(uname -r); data folder $WORK ($(df -T "$WORK" | awk 'NR==2 { print $2 }'))"
echo "load: ${SESSIONS} sessions in parallel, ${SIZE}-byte messages, connections reused (smtp-source -d);"
echo "      warm-up ${WARMUP_MESSAGES} msgs per server, then ${ROUNDS} rounds; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# --- the three servers, side by side ---
SINK_PORT=$(free_port)
sink_args=()
[ "$(id -u)" = 0 ] && sink_args=(-u nobody)   # smtp-sink refuses to run as root without -u
"$SMTP_SINK" "${sink_args[@]}" "$HOST:$SINK_PORT" 1000 &
SINK_PID=$!
PIDS+=("$SINK_PID")
wait_for_port "$SINK_PORT" "$SINK_PID"

DISCARD_PORT=$(free_port)
mkdir -p "$WORK/discard"
start_intaked discard "$WORK/discard" "$DISCARD_PORT"
DISCARD_PID=$SERVER_PID

SPOOL_PORT=$(free_port)
mkdir -p "$WORK/spool"
start_intaked spool "$WORK/spool" "$SPOOL_PORT"
SPOOL_PID=$SERVER_PID

send "$WARMUP_MESSAGES" "$SINK_PORT" "$WORK/warmup.log" >/dev/null
send "$WARMUP_MESSAGES" "$DISCARD_PORT" "$WORK/warmup.log" >/dev/null
send "$WARMUP_MESSAGES" "$SPOOL_PORT" "$WORK/warmup.log" >/dev/null

for round in $(seq "$ROUNDS"); do
    echo "round $round"
    measure smtp-sink "$SINK_PID" "$SINK_PORT" "$SINK_MESSAGES"
    measure "intaked discard" "$DISCARD_PID" "$DISCARD_PORT" "$DISCARD_MESSAGES"
    measure "intaked spool" "$SPOOL_PID" "$SPOOL_PORT" "$SPOOL_MESSAGES"
    python3 "$HERE/fsync_rate.py" "$WORK" --seconds 2 --size "$SIZE" --threads "$SESSIONS" 2>/dev/null \
        | sed -E 's/fsyncs_per_s=([0-9]+) files_per_s=([0-9]+) parallel_fsyncs_per_s=([0-9]+)/\1 \2 \3/' \
        >>"$WORK/fsync.results"
    read -r f1 f2 f3 < <(tail -1 "$WORK/fsync.results")
    printf '%-16s one thread: %s fsyncs/s (512 B writes), %s files/s (spool pattern); %s threads: %s fsyncs/s\n' \
        "fsync rate" "$f1" "$f2" "$SESSIONS" "$f3"
done

DISCARD_HWM=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$DISCARD_PID/status")
SPOOL_HWM=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$SPOOL_PID/status")
stop "$SINK_PID"
stop "$DISCARD_PID"
stop "$SPOOL_PID"

# every acknowledged message is in the spool, and nothing else
stored=$(find "$WORK/spool/spool/new" -type f | wc -l)
expected=$((SPOOL_MESSAGES * ROUNDS + WARMUP_MESSAGES))
if [ "$stored" -ne "$expected" ]; then
    echo "spool/new holds $stored messages, expected $expected" >&2
    exit 1
fi
echo "spool check: $stored messages in spool/new, as many as were acknowledged"
rm -rf "$WORK/spool/spool"

# --- idle connections (a fresh daemon, so that VmHWM is this test's peak) ---
IDLE=$(python3 "$HERE/idle_connections.py" --intaked "$INTAKED" --connections "$IDLE_CONNECTIONS" 2>/dev/null) || {
    echo "idle connection test failed: $IDLE" >&2
    exit 1
}

# --- summary (medians over the rounds) ---
python3 - "$WORK" "$IDLE_CONNECTIONS" "$IDLE" "$DISCARD_HWM" "$SPOOL_HWM" "$SESSIONS" <<'EOF'
import statistics, sys
work, want, idle, disc_hwm, spool_hwm, sessions = sys.argv[1:]
idle = dict(field.split("=") for field in idle.split())
def load(name):
    rows = [list(map(float, line.split())) for line in open(f"{work}/{name}.results")]
    return [statistics.median(column) for column in zip(*rows)]
sink, sink_cpu, sink_cs = load("smtp-sink")
disc, disc_cpu, disc_cs = load("intaked discard")
spool, spool_cpu, spool_cs = load("intaked spool")
fsyncs, files, parallel = load("fsync")
print()
print("summary (median)   msgs/s  CPU s/1k msgs  ctx sw/msg   vs smtp-sink: msgs/s  CPU/msg")
print(f"  smtp-sink       {sink:7.0f}  {sink_cpu:13.3f}  {sink_cs:10.1f}")
print(f"  intaked discard {disc:7.0f}  {disc_cpu:13.3f}  {disc_cs:10.1f}   {disc / sink:19.1%}  {disc_cpu / sink_cpu:6.1f}x")
print(f"  intaked spool   {spool:7.0f}  {spool_cpu:13.3f}  {spool_cs:10.1f}   {spool / sink:19.1%}  {spool_cpu / sink_cpu:6.1f}x")
print(f"  fsync rate of the data folder: one thread {fsyncs:.0f} fsyncs/s (512 B writes) and {files:.0f} files/s in the")
print(f"    spool's pattern (create, write, fsync, rename, fsync folder = 2 fsyncs/file); {sessions} threads {parallel:.0f} fsyncs/s.")
print(f"    The spool's 2 fsyncs per message at {spool:.0f} msgs/s = {2 * spool:.0f} fsyncs/s = {2 * spool / parallel:.0%} of the {sessions}-thread rate")
print(f"  peak RSS under load: intaked discard {disc_hwm} MiB, intaked spool {spool_hwm} MiB")
print(f"  {idle['connections']} idle sessions after EHLO: VmRSS {idle['rss_mib']} MiB "
      f"(at start {int(idle['rss_before_kib']) / 1024:.1f} MiB, {idle['per_connection_kib']} KiB per session), "
      f"peak VmHWM {idle['hwm_mib']} MiB")
print()
goal1 = disc / sink >= 0.5
goal2 = float(idle["hwm_mib"]) < 64 and idle["connections"] == want
print(f"goal: protocol path >= 50 % of smtp-sink's msgs/s: {'met' if goal1 else 'NOT met'} ({disc / sink:.1%})")
print(f"goal: peak RSS < 64 MiB with {want} idle sessions: {'met' if goal2 else 'NOT met'} ({idle['hwm_mib']} MiB)")
EOF
