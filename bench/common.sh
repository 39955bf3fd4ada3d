# Shared by the benchmark scripts: process hygiene (every process a script starts is recorded in
# PIDS and stopped on exit, the work folder WORK deleted), free ports, waiting for a server.
# Source it after setting WORK: WORK=$(mktemp -d ...); source bench/common.sh
# shellcheck shell=bash
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop() {  # stop PID: SIGTERM, wait up to 10 s, then SIGKILL
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_port() {  # wait_for_port PORT PID: until something answers 220 on the port
    local port=$1 pid=$2
    for _ in $(seq 300); do
        kill -0 "$pid" 2>/dev/null || { echo "server (pid $pid) exited before listening" >&2; return 1; }
        if python3 - "$port" <<'EOF' 2>/dev/null; then return 0; fi
import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1) as s:
    s.settimeout(2)
    assert s.recv(512).startswith(b"220")
    s.sendall(b"QUIT\r\n")
    s.recv(512)
EOF
        sleep 0.1
    done
    echo "nothing answered on port $port within 30 s" >&2
    return 1
}
