#!/usr/bin/env python3
"""The disk alone for small durable writes: N writer threads, each in a loop
creating a temporary file, writing SIZE bytes, fdatasync, rename into one of
256 shard directories, fsync of that directory (what a durable store must do
per blob, with no hashing, no index and no network). Prints writes/s.

Usage: durable_writers.py DIR [--threads 32] [--size 16384] [--seconds 5]
Python's threads release the GIL in every system call; the per-write Python
overhead (~10 us) is small next to the flushes (~ms), so this is the disk.
"""
import argparse, os, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--threads", type=int, default=32)
ap.add_argument("--size", type=int, default=16384)
ap.add_argument("--seconds", type=float, default=5.0)
a = ap.parse_args()

tmp = os.path.join(a.dir, "tmp")
os.makedirs(tmp, exist_ok=True)
for s in range(256):
    os.makedirs(os.path.join(a.dir, f"{s:02x}"), exist_ok=True)
body = os.urandom(a.size)
counts = [0] * a.threads
stop = time.monotonic() + a.seconds


def writer(t):
    n = 0
    while time.monotonic() < stop:
        name = f"{t}-{n}"
        p = os.path.join(tmp, name)
        fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644)
        os.write(fd, body)
        os.fdatasync(fd)
        os.close(fd)
        shard = os.path.join(a.dir, f"{(t * 7919 + n) % 256:02x}")
        os.rename(p, os.path.join(shard, name))
        dfd = os.open(shard, os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(dfd)
        os.close(dfd)
        n += 1
    counts[t] = n


t0 = time.monotonic()
ts = [threading.Thread(target=writer, args=(i,)) for i in range(a.threads)]
for t in ts: t.start()
for t in ts: t.join()
el = time.monotonic() - t0
print(f"{sum(counts) / el:.0f}")
