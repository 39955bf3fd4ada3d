#!/usr/bin/env python3
"""Python baseline for the MailParser benchmark: parses the same classes of messages with the
standard `email` package (policy=default), walking the body and every attachment, and prints
messages/s and MB/s per class. With --intakectl PATH it also runs `intakectl bench-parse` on each
class, interleaved with the Python runs (best of --rounds), and prints the Swift/Python ratios.

    baseline.py [--seconds N] [--rounds R] [--intakectl PATH] PATH...   (a folder is one class)
"""
import argparse
import email
import email.policy
import os
import subprocess
import time


def load(path):
    if os.path.isdir(path):
        files = []
        for root, _, names in os.walk(path):
            files += [os.path.join(root, n) for n in names if n.endswith(".eml")]
        return [open(f, "rb").read() for f in sorted(files)]
    return [open(path, "rb").read()]


def work(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    n = len(str(msg.get("subject", ""))) + len(str(msg.get("from", ""))) + len(str(msg.get("to", "")))
    body = msg.get_body(preferencelist=("plain", "html"))
    if body is not None:
        try:
            n += len(body.get_content())
        except (LookupError, KeyError, ValueError):  # unknown charset: Python gives up, use the bytes
            n += len(body.get_payload(decode=True) or b"")
    for part in msg.iter_attachments():
        content = part.get_payload(decode=True) or b""
        n += len(content) + len(part.get_filename() or "")
    return n


def measure(msgs, seconds):
    for m in msgs:
        work(m)
    parsed = nbytes = 0
    start = time.perf_counter()
    while True:
        for m in msgs:
            work(m)
            parsed += 1
            nbytes += len(m)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    return parsed / elapsed, nbytes / elapsed / 1e6


def swift_measure(intakectl, path, seconds):
    out = subprocess.run([intakectl, "bench-parse", "--seconds", str(seconds), path],
                         check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) >= 5 and cols[0] != "class":
            return float(cols[3]), float(cols[4])
    raise RuntimeError(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=3, help="best of N, Swift and Python interleaved per class")
    ap.add_argument("--intakectl", help="also run `intakectl bench-parse` on each class and print ratios")
    ap.add_argument("paths", nargs="+")
    args = ap.parse_args()
    print("class\tfiles\tbytes\tpy_msgs_per_s\tpy_MB_per_s\tswift_msgs_per_s\tswift_MB_per_s\tratio")
    for path in args.paths:
        msgs = load(path)
        if not msgs:
            continue
        py = (0.0, 0.0)
        sw = (0.0, 0.0)
        for _ in range(args.rounds):
            if args.intakectl:
                sw = max(sw, swift_measure(args.intakectl, path, args.seconds))
            py = max(py, measure(msgs, args.seconds))
        label = os.path.basename(os.path.normpath(path))
        extra = f"\t{sw[0]:.1f}\t{sw[1]:.1f}\t{sw[0] / py[0]:.1f}x" if args.intakectl else "\t-\t-\t-"
        print(f"{label}\t{len(msgs)}\t{sum(map(len, msgs))}\t{py[0]:.1f}\t{py[1]:.1f}{extra}", flush=True)


if __name__ == "__main__":
    main()
