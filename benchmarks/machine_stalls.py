#!/usr/bin/env python3
"""How often this machine's CPUs run much slower than usual: the floor under any latency figure.

A probe does a fixed piece of pure CPU work (a Python loop of about 20 us, no memory allocation,
no system call) once per millisecond and records how long each one took. On an otherwise idle
virtual machine the same work sometimes takes 3-20 times its median for tens of milliseconds at
a time, on every CPU at once, with no steal time reported by the guest kernel: the host is busy.
Any process, our daemon included, is that much slower meanwhile, so a request that arrives during
such a stall waits for it. The probe costs about 2% of one CPU.

Run on its own it prints, for a few thresholds, the share of samples (= of wall time) that took
longer than that multiple of the median. benchmarks/registration_rate.py runs it beside its
latency measurement (`--json FILE` writes the samples) to tell which replies a stall delayed.

Prints figures, asserts nothing; needs nothing but Python.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import signal
import sys
import time
from collections.abc import Sequence

WORK = 400  # loop iterations of one sample: about 20 us on this project's machines
STALL = 3.0  # a sample that took this many times the median is a stall


def probe(seconds: float, period: float = 0.001, cpu: int = -1) -> list[tuple[float, float]]:
    """(wall-clock time, duration in seconds) of one fixed piece of work every `period`, for
    `seconds` or until SIGTERM."""
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})
    stop: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    perf, wall, sleep = time.perf_counter, time.time, time.sleep
    samples: list[tuple[float, float]] = []
    end = wall() + seconds
    while (now := wall()) < end and not stop:
        t = perf()
        x = 0
        for i in range(WORK):
            x += i
        samples.append((now, perf() - t))
        sleep(period)
    return samples


def median(samples: Sequence[tuple[float, float]]) -> float:
    durations = sorted(d for _, d in samples)
    return durations[len(durations) // 2] if durations else 0.0


def stall_share(samples: Sequence[tuple[float, float]], factor: float = STALL) -> float:
    """The share of samples that took more than `factor` times the median."""
    if not samples:
        return 0.0
    limit = factor * median(samples)
    return sum(1 for _, d in samples if d > limit) / len(samples)


class Stalls:
    """The times of the stalled samples, to ask whether a stall fell within a time interval."""

    def __init__(self, samples: Sequence[tuple[float, float]], factor: float = STALL) -> None:
        limit = factor * median(samples)
        self.times = sorted(t for t, d in samples if d > limit)

    def within(self, start: float, end: float) -> bool:
        i = bisect.bisect_left(self.times, start)
        return i < len(self.times) and self.times[i] <= end


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="how long to probe")
    ap.add_argument("--cpu", type=int, default=-1, help="pin the probe to this CPU")
    ap.add_argument("--json", help="write the samples [[wall time, duration], ...] to this file, print nothing")
    args = ap.parse_args()
    samples = probe(args.seconds, cpu=args.cpu)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(samples, f)
        return 0
    med = median(samples)
    shares = ", ".join(f">{k:g}x: {stall_share(samples, k) * 100:.2f}%" for k in (2, 3, 5, 10))
    print(f"machine_stalls: {len(samples):,} samples of a {med * 1e6:.0f} us CPU loop over {args.seconds:g} s "
          f"({os.cpu_count()} CPUs{f', on CPU {args.cpu}' if args.cpu >= 0 else ''}); "
          f"share of samples slower than the median by {shares}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
