#!/usr/bin/env python3
"""The machine's fsync rate in a folder: the ceiling for a durable spool.

Prints three figures, each measured for --seconds:
  fsyncs/s           512-byte write + fsync on one open file, one thread (the raw fsync rate);
  files/s            the spool's pattern for a 5 KB message, one thread: create a temporary file,
                     write, fsync, rename into place, fsync the folder (two fsyncs per file);
  parallel fsyncs/s  the first figure with --threads writers at once (default 20, like the
                     benchmark's sessions), each on its own file: what a disk gives concurrent
                     writers.

Usage: fsync_rate.py FOLDER [--seconds 3] [--size 5120] [--threads 20]
Output: one line `fsyncs_per_s=N files_per_s=M parallel_fsyncs_per_s=P` (easy to parse), then a
human line on stderr.
"""

import argparse
import os
import sys
import tempfile
import threading
import time


def raw_fsync_rate(folder: str, seconds: float) -> float:
    fd, path = tempfile.mkstemp(prefix="fsync-", dir=folder)
    try:
        block = b"x" * 512
        count = 0
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            os.write(fd, block)
            os.fsync(fd)
            count += 1
            now = time.perf_counter()
            if now >= deadline:
                return count / (now - start)
    finally:
        os.close(fd)
        os.unlink(path)


def parallel_fsync_rate(folder: str, seconds: float, threads: int) -> float:
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def writer(index: int) -> None:
        path = os.path.join(folder, f"parallel-{index}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            while time.perf_counter() < deadline:
                os.write(fd, b"z" * 512)
                os.fsync(fd)  # releases the GIL: the writers really are concurrent
                counts[index] += 1
        finally:
            os.close(fd)
            os.unlink(path)

    start = time.perf_counter()
    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - start)


def spool_pattern_rate(folder: str, seconds: float, size: int) -> float:
    tmp = os.path.join(folder, "tmp")
    new = os.path.join(folder, "new")
    os.makedirs(tmp, exist_ok=True)
    os.makedirs(new, exist_ok=True)
    payload = b"y" * size
    dir_fd = os.open(new, os.O_RDONLY | os.O_DIRECTORY)
    count = 0
    try:
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            name = f"m{count}"
            tmp_path = os.path.join(tmp, name)
            fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, payload)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp_path, os.path.join(new, name))
            os.fsync(dir_fd)
            count += 1
            now = time.perf_counter()
            if now >= deadline:
                return count / (now - start)
    finally:
        os.close(dir_fd)
        for sub in (tmp, new):
            for name in os.listdir(sub):
                os.unlink(os.path.join(sub, name))
            os.rmdir(sub)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--size", type=int, default=5120)
    parser.add_argument("--threads", type=int, default=20)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="fsync-rate-", dir=args.folder)
    try:
        fsyncs = raw_fsync_rate(work, args.seconds)
        files = spool_pattern_rate(work, args.seconds, args.size)
        parallel = parallel_fsync_rate(work, args.seconds, args.threads)
    finally:
        os.rmdir(work)
    print(f"fsyncs_per_s={fsyncs:.0f} files_per_s={files:.0f} parallel_fsyncs_per_s={parallel:.0f}")
    print(
        f"fsync rate in {args.folder}: {fsyncs:.0f} fsyncs/s (512 B writes); "
        f"{files:.0f} files/s (spool pattern: write {args.size} B, fsync, rename, fsync folder); "
        f"{parallel:.0f} fsyncs/s with {args.threads} threads",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
