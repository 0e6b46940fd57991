#!/usr/bin/env python3
"""The state store's cost per durable registration with few vs many nodes, over whole fold cycles.

The store alone (mipd.runtime.store: state_sync normal, WAL, its checkpointer thread), as a home agent
drives it: N home addresses' bindings rows written first (one registration per node, then the log
folded), then group commits of BATCH re-registrations of randomly chosen nodes, each a new value of
the node's row as a refresh writes it, until `--cycles` folds of the log have begun after the first.
CPU per registration from the first fold's start to the last one's: the commits on the main thread,
and the whole process (the checkpointer's copying of the WAL included). The queuing of the rows
(`put`: a row's encoding, pure Python) is timed apart, as a gauge of the machine's speed in that run:
the commit's cost as a multiple of it can be compared between runs while a shared machine changes
speed. Also printed: the length of a cycle, the longest commit (wall time: a reply waits that long),
and the RSS growth at its highest while cycling, per node (what the store holds between folds).

Issue 13 asks that a registration at 1,000,000 bindings cost at most 1.5 times one at 1,000; the
store's folds are the part of it that grows most with the number of nodes (benchmarks/binding_scale.py
--explain: half the difference). This isolates them, for work on the store's design: `--per-page`
sets FOLD_PER_PAGE for a run. Prints figures, asserts nothing; the temporary database is removed.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time

from binding_scale import coa, load, node, rss_kib
from mipd.protocol.home_agent import BINDINGS, Binding
from mipd.runtime import store as store_module
from mipd.runtime.daemon import BATCH  # datagrams per batch, one commit each
from mipd.runtime.roles import CODECS
from mipd.runtime.store import Store

IDENTIFICATION = 3_917_000_000 << 32  # an NTP timestamp of 2024, as registrations carry


def row(i: int, turn: int, now: float) -> tuple[Binding]:
    """Node `i`'s bindings as its `turn`-th registration leaves them (a new expiry and identification each)."""
    care_of = coa(turn % 1000)
    return (Binding(node(i), care_of, 1800, now + 1800 + turn * 0.001234, IDENTIFICATION + turn, "ipip", False,
                    care_of),)


def measure(n: int, cycles: int, path: str) -> dict[str, float]:
    store = Store(path, CODECS, "normal")
    now = time.time()
    try:
        for i in range(n):
            store.put(BINDINGS, row(i, i, now))
            if i % BATCH == BATCH - 1:
                store.commit()
        store.commit()
        store.close()  # folds the whole log: the cycles start from a records table of n rows
        store = Store(path, CODECS, "normal")
        rng = random.Random(n)
        rss0 = peak = rss_kib()
        starts: list[tuple[float, float, float, int]] = []  # (main CPU, process CPU, put CPU, registrations)
        main = process = put = longest = 0.0
        done, folds, turn = 0, store.folds, n
        while len(starts) <= cycles:
            p0 = time.process_time()
            for _ in range(BATCH):
                store.put(BINDINGS, row(rng.randrange(n), turn, now))
                turn += 1
            m0, p1, w0 = time.thread_time(), time.process_time(), time.perf_counter()
            store.commit()
            longest = max(longest, time.perf_counter() - w0)
            main, process, put = main + time.thread_time() - m0, process + time.process_time() - p1, put + p1 - p0
            done += BATCH
            if done % (BATCH * 1024) == 0:
                peak = max(peak, rss_kib())
            if store.folds != folds:
                folds = store.folds
                starts.append((main, process, put, done))
    finally:
        store.close()
    (m0, c0, q0, d0), (m1, c1, q1, d1) = starts[0], starts[-1]
    regs = d1 - d0
    return {"n": n, "cycle": regs / cycles, "main_us": (m1 - m0) / regs * 1e6, "process_us": (c1 - c0) / regs * 1e6,
            "put_us": (q1 - q0) / regs * 1e6, "longest_ms": longest * 1e3, "bytes": (peak - rss0) * 1024 / n}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=1_000)
    ap.add_argument("--large", type=int, default=1_000_000)
    ap.add_argument("--cycles", type=int, default=2, help="whole fold cycles measured per size")
    ap.add_argument("--per-page", type=int, default=store_module.FOLD_PER_PAGE,
                    help=f"FOLD_PER_PAGE for this run (the store's: {store_module.FOLD_PER_PAGE})")
    args = ap.parse_args()
    store_module.FOLD_PER_PAGE = args.per_page
    tmp = tempfile.mkdtemp(prefix="mipbench-store-")
    try:
        print(f"store_scale: the state store alone, group commit per {BATCH}, FOLD_PER_PAGE {args.per_page}, "
              f"at least {store_module.FOLD_ROWS:,} rows a fold; load average {load()}")
        results = []
        for n in (args.small, args.large):
            r = measure(n, args.cycles, os.path.join(tmp, f"state-{n}.db"))
            results.append(r)
            print(f"  {n:>9,} nodes: commit CPU per registration {r['main_us']:.2f} us on the main thread, "
                  f"{r['process_us']:.2f} us with the checkpointer ({r['process_us'] / r['put_us']:.2f} x the put, "
                  f"{r['put_us']:.2f} us); cycles of {r['cycle']:,.0f} registrations; longest commit "
                  f"{r['longest_ms']:.0f} ms; RSS growth at most {r['bytes']:,.0f} bytes per node")
            sys.stdout.flush()
        small, large = results
        ratio = large["process_us"] / small["process_us"]
        print(f"  ratio {large['n']:,} / {small['n']:,} nodes: commit CPU {ratio:.2f} (as a multiple of the put: "
              f"{large['process_us'] / large['put_us']:.2f} against "
              f"{small['process_us'] / small['put_us']:.2f}); load average {load()}")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
