#!/usr/bin/env python3
"""The state store's cost per durable registration with few vs many nodes, with its log compacting.

The store alone (mipd.runtime.store: state_sync normal, WAL, its checkpointer thread), as a home agent
drives it: N home addresses' bindings rows written first (one registration per node), the store closed
and opened again, then group commits of BATCH re-registrations of randomly chosen nodes, each a new
value of the node's row as a refresh writes it: first until the log compacts (it grows to LOG_PER_KEY
rows per key first) and has been compacted once through (binding_scale.settle: from then on its oldest
rows are live in a steady share), then `--measure` registrations timed. CPU per registration: the commits on the
main thread, and the whole process (the checkpointer's copying of the WAL included). The queuing of
the rows (`put`: a row's encoding, pure Python) is timed apart, as a gauge of the machine's speed in
that run: the commit's cost as a multiple of it can be compared between runs while a shared machine
changes speed. Also printed: the log rows compacted per registration and the share of them live
(copied to the log's end), the longest commit (wall time: a reply waits that long), the log's rows per
node and the database's size, and the RSS growth at its highest since the store was opened, per node
(the count of the log's rows by key, the page cache).

Issue 13 asks that a registration at 1,000,000 bindings cost at most 1.5 times one at 1,000; the
store is the part of it that grew most with the number of nodes while it folded its log into a
records table (benchmarks/binding_scale.py --explain). This isolates it, for work on the store's
design: `--per-key` sets LOG_PER_KEY for a run. Prints figures, asserts nothing; the temporary
database is removed.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import sys
import tempfile
import time

from binding_scale import coa, load, node, rss_kib, settle
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


def measure(n: int, regs: int, path: str) -> dict[str, float]:
    rss0 = rss_kib()
    store = Store(path, CODECS, "normal")
    now = time.time()
    try:
        for i in range(n):
            store.put(BINDINGS, row(i, i, now))
            if i % BATCH == BATCH - 1:
                store.commit()
        store.commit()
        store.close()
        store = Store(path, CODECS, "normal")
        rng = random.Random(n)
        turn = n

        def queue() -> None:
            nonlocal turn
            for _ in range(BATCH):
                store.put(BINDINGS, row(rng.randrange(n), turn, now))
                turn += 1

        def register() -> tuple[float, float, float, float]:
            """A group commit of BATCH registrations: its (main CPU, process CPU, put CPU, wall time)."""
            p0 = time.process_time()
            queue()
            m0, p1, w0 = time.thread_time(), time.process_time(), time.perf_counter()
            store.commit()
            return time.thread_time() - m0, time.process_time() - p1, p1 - p0, time.perf_counter() - w0

        settled = settle(store, queue) * BATCH  # the log at its size, compacted once through
        peak = rss_kib()
        main = process = put = longest = 0.0
        compacted, copied = store.compacted, store.copied
        for done in range(0, regs, BATCH):
            m, p, q, w = register()
            main, process, put, longest = main + m, process + p, put + q, max(longest, w)
            if done % (BATCH * 1024) == 0:
                peak = max(peak, rss_kib())
        done = -(-regs // BATCH) * BATCH
        compacted, copied = store.compacted - compacted, store.copied - copied
        logged = store._log_rows
    finally:
        store.close()
    return {"n": n, "settle": settled, "main_us": main / done * 1e6, "process_us": process / done * 1e6,
            "put_us": put / done * 1e6, "longest_ms": longest * 1e3, "bytes": (peak - rss0) * 1024 / n,
            "compacted": compacted / done, "live": copied / compacted if compacted else math.nan,
            "log_per_node": logged / n, "disk_mb": os.path.getsize(path) / 1e6}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=1_000)
    ap.add_argument("--large", type=int, default=1_000_000)
    ap.add_argument("--measure", type=int, default=400_000, help="registrations measured per size, once compacting")
    ap.add_argument("--per-key", type=int, default=store_module.LOG_PER_KEY,
                    help=f"LOG_PER_KEY for this run (the store's: {store_module.LOG_PER_KEY})")
    args = ap.parse_args()
    store_module.LOG_PER_KEY = args.per_key
    tmp = tempfile.mkdtemp(prefix="mipbench-store-")
    try:
        print(f"store_scale: the state store alone, group commit per {BATCH}, log compacted over "
              f"{args.per_key} rows per key (at least {store_module.LOG_MIN_ROWS:,}); load average {load()}")
        results = []
        for n in (args.small, args.large):
            r = measure(n, args.measure, os.path.join(tmp, f"state-{n}.db"))
            results.append(r)
            print(f"  {n:>9,} nodes: commit CPU per registration {r['main_us']:.2f} us on the main thread, "
                  f"{r['process_us']:.2f} us with the checkpointer ({r['process_us'] / r['put_us']:.2f} x the put, "
                  f"{r['put_us']:.2f} us); compacting {r['compacted']:.2f} log rows per registration, "
                  f"{r['live']:.0%} of them live; longest commit {r['longest_ms']:.0f} ms; "
                  f"the log {r['log_per_node']:.2f} rows per node, the database {r['disk_mb']:,.0f} MB; "
                  f"RSS at most {r['bytes']:,.0f} bytes per node ({r['settle']:,} registrations to settle)")
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
