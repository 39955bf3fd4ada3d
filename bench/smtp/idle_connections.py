#!/usr/bin/env python3
"""Peak memory of intaked holding N idle SMTP sessions (default 1,000), each after EHLO.

Opens N TCP connections to the daemon on loopback, reads the 220 greeting on each, sends
`EHLO bench.example`, reads the whole multi-line 250, and keeps every connection open and silent.
Then it reads the daemon's VmRSS (resident now) and VmHWM (peak resident) from /proc/PID/status,
before and with the connections open, and prints them.

Two ways to run it:
  idle_connections.py --intaked .build-release/release/intaked      # starts a fresh daemon
  idle_connections.py --pid PID --port PORT                         # measures a running one
A fresh daemon is the honest figure: VmHWM is the peak over the process's whole life. A daemon
started by this script gets the connection caps raised (smtp.max_connections,
smtp.max_connections_per_ip) so that N sessions from one address are allowed, and a data folder
in a temporary directory that is removed at the end.

Output (stdout): `connections=N rss_before_kib=.. rss_kib=.. hwm_kib=.. rss_mib=.. hwm_mib=..`
Exit status: 0 if every connection got its 250, 1 otherwise, 2 on a setup failure.
"""

import argparse
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

GOAL_MIB = 64


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        sys.exit(f"ulimit -n hard limit {hard} is below the {needed} descriptors needed")


def proc_status(pid: int) -> dict[str, int]:
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                values[key] = int(rest.split()[0])
    return values


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(host: str, port: int, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"intaked exited with status {process.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=1) as s:
                s.recv(512)  # the greeting; then QUIT implicitly by closing
                return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"intaked did not listen on {host}:{port} within {seconds} s")


def read_reply(sock: socket.socket, buffer: bytearray) -> tuple[str, bytearray]:
    """Reads one complete (possibly multi-line) reply; returns its last line and the rest."""
    while True:
        start = 0
        while True:
            end = buffer.find(b"\r\n", start)
            if end < 0:
                break
            line = bytes(buffer[start:end])
            start = end + 2
            if len(line) < 4 or line[3:4] != b"-":
                return line.decode("ascii", "replace"), buffer[start:]
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("connection closed before a complete reply")
        buffer += chunk


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int)
    parser.add_argument("--pid", type=int)
    parser.add_argument("--intaked", help="path of the intaked binary: start a fresh daemon")
    parser.add_argument("--hold", type=float, default=1.0, help="seconds to hold the connections before reading memory")
    args = parser.parse_args()

    if not args.host.startswith("127.") and args.host != "::1":
        sys.exit("loopback addresses only")
    raise_fd_limit(args.connections + 64)

    process = None
    data_dir = None
    try:
        if args.intaked:
            port = args.port or free_port()
            data_dir = tempfile.mkdtemp(prefix="intake-idle-")
            process = subprocess.Popen(
                [
                    args.intaked, "--data-dir", data_dir, "--smtp-host", args.host, "--smtp-port", str(port),
                    "--log-level", "warning",
                    "--set", "delivery=discard",
                    "--set", f"smtp.max_connections={args.connections + 100}",
                    "--set", f"smtp.max_connections_per_ip={args.connections + 100}",
                ],
                stdin=subprocess.DEVNULL,
            )
            pid = process.pid
            wait_for_port(args.host, port, process, 30)
            time.sleep(0.5)
        else:
            if args.pid is None or args.port is None:
                parser.error("give --intaked, or both --pid and --port")
            pid, port = args.pid, args.port

        before = proc_status(pid)
        sockets = []
        failures = 0
        started = time.perf_counter()
        for index in range(args.connections):
            try:
                sock = socket.create_connection((args.host, port), timeout=10)
                sockets.append(sock)
                greeting, rest = read_reply(sock, bytearray())
                if not greeting.startswith("220"):
                    raise ConnectionError(f"greeting: {greeting}")
                sock.sendall(b"EHLO bench.example\r\n")
                ehlo, rest = read_reply(sock, rest)
                if not ehlo.startswith("250"):
                    raise ConnectionError(f"EHLO: {ehlo}")
            except (OSError, ConnectionError) as error:
                failures += 1
                if failures <= 5:
                    print(f"connection {index}: {error}", file=sys.stderr)
        opened = time.perf_counter() - started
        time.sleep(args.hold)
        during = proc_status(pid)
        if process is not None and process.poll() is not None:
            print(f"intaked died during the test (status {process.returncode})", file=sys.stderr)
            return 1
        for sock in sockets:
            sock.close()

        ok = args.connections - failures
        rss, hwm = during["VmRSS"], during["VmHWM"]
        print(
            f"connections={ok} failed={failures} open_seconds={opened:.2f} threads={during.get('Threads', 0)} "
            f"rss_before_kib={before['VmRSS']} rss_kib={rss} hwm_kib={hwm} "
            f"rss_mib={rss / 1024:.1f} hwm_mib={hwm / 1024:.1f} "
            f"per_connection_kib={(rss - before['VmRSS']) / max(ok, 1):.1f}"
        )
        verdict = "met" if hwm < GOAL_MIB * 1024 else "NOT met"
        print(
            f"{ok} idle sessions after EHLO: VmRSS {rss / 1024:.1f} MiB (at start {before['VmRSS'] / 1024:.1f} MiB), "
            f"peak VmHWM {hwm / 1024:.1f} MiB; goal < {GOAL_MIB} MiB: {verdict}",
            file=sys.stderr,
        )
        return 0 if failures == 0 else 1
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if data_dir is not None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
