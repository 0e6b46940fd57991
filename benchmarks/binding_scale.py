#!/usr/bin/env python3
"""Cost of a registration with few vs many live bindings, and memory per binding.

In process, no sockets: the HomeAgent state machine (protocol layer) with what the daemon runs
around it for `dataplane: {backend: none}` (mipd.runtime): the data-plane Driver over the null
backend, the keyed Timers on an asyncio loop, and the SQLite Store (state_sync normal, WAL),
committed once per batch of requests as the daemon's group commit does (one bindings row per registration:
with timestamps, as here, the node's replay state is that row's). Decision log lines are not written. The whole
daemon (sockets, event loop, decision log) at a million nodes is measured by `registration_rate.py --spread
--nodes 1000000`.

For each size N: N security associations and N bindings are created (one registration per
node, HMAC-MD5, timestamps), the store is brought to the steady state of a home agent that has run
long (settle: its log compacted once through), then `--repeats` pairs of rounds of `--measure`
re-registrations of randomly chosen nodes are timed (CPU time of this process), one keeping the
care-of address, one moving the node to another of 1,000 foreign agents. Two figures: the median
round, and the cost amortized over all rounds (their CPU over their registrations), the one to read
the ratio against. They differ by the garbage collector's full collections, which the median leaves
out and the amortized figure spreads; the output says how many fell in the rounds and how long the
longest stopped everything. The store compacts its log a chunk at a time in its commits, at the same
cost per registration all along, and the output gives how many log rows it compacted per registration
and the share of them live (copied). A move costs more than a refresh (more actions), so the median of
each kind is printed too, and their ratios. The collector is set up as the daemon sets it once
started: the SAs frozen, and mipd.runtime.collector's policy (what a full collection finding no cyclic
garbage walked is frozen; `--plain-collector` leaves it out, to compare). Memory: the RSS growth while
the N bindings were created and the store settled (SAs already loaded), per binding; and the SAs' own
RSS per node.

`--explain` measures the large size twice more, each time with one cost left out, and prints what each
accounts for of the difference between the two sizes (amortized): the store's compaction (held off: its
log grows) and the prepared-SA cache's misses (every SA prepared: a cache as large as the table, about
900 bytes more per node); what is left is the latency of memory the large tables do not keep in the
CPU's caches, beside which it prints what one lookup in a dictionary of each size costs with its entry
cold. One run of each: pair several runs before reading a difference of a microsecond or two.

Issue target: cost per registration at 1,000,000 bindings <= 1.5 x the cost at 1,000.
Prints figures, asserts nothing; the temporary database is removed at exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from mipd.dataplane.null import NullDataplane
from mipd.protocol.actions import ArmTimer, CancelTimer, DeleteRecord, Log, Packet, SendICMP, SendUDP, StoreRecord
from mipd.protocol.config import HomeAgentConfig
from mipd.protocol.filters import HostSet
from mipd.protocol.home_agent import BINDINGS, HomeAgent
from mipd.runtime import collector
from mipd.runtime import store as store_module
from mipd.runtime.daemon import BATCH  # datagrams per batch, one commit each
from mipd.runtime.driver import Driver
from mipd.runtime.roles import CODECS
from mipd.runtime.store import Store
from mipd.runtime.timers import Timers
from mipd.security import SecurityAssociation, SecurityAssociations, sign
from mipd.security.replay import ntp_timestamp
from mipd.security.table import PREPARED_LIMIT
from mipd.wire import registration as reg
from mipd.wire.extensions import MHAE

HA = "10.0.0.1"
SPI = 300
FOREIGN_AGENTS = 1000


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def node(i: int) -> str:
    i += 2
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def coa(j: int) -> str:
    return f"172.{16 + (j >> 8) % 16}.{j & 255}.1"


def load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


class Runtime:
    """The daemon's action execution for a signalling-only home agent (mipd.runtime.daemon)."""

    def __init__(self, ha: HomeAgent, path: str) -> None:
        self.ha = ha
        self.store = Store(path, CODECS, "normal")
        self.loop = asyncio.new_event_loop()
        self.timers = Timers(self.loop, lambda role, key: None)
        null = NullDataplane()
        self.driver = Driver(null, null)
        self.sent = 0
        self.cpu = {"protocol": 0.0, "actions": 0.0, "commit": 0.0}  # CPU seconds by part (see process)
        handlers: dict[type, Any] = {
            StoreRecord: lambda a: self.store.put(a.kind, a.record),
            DeleteRecord: lambda a: self.store.delete(a.kind, a.key),
            ArmTimer: lambda a: self.timers.arm("home_agent", a.key, a.at),
            CancelTimer: lambda a: self.timers.cancel("home_agent", a.key),
            Log: lambda a: None,
            SendUDP: self._send,
            SendICMP: self._send,
        }
        handlers.update(self.driver.handlers)
        self.handlers = handlers

    def _send(self, a: Any) -> None:
        self.sent += 1

    def process(self, packets: list[Packet], now: float) -> None:
        """As the daemon runs a receive batch: each datagram's decisions executed at once, one commit per batch."""
        handlers, on_packet, store = self.handlers, self.ha.on_packet, self.store
        for start in range(0, len(packets), BATCH):
            for pkt in packets[start : start + BATCH]:
                for a in on_packet(pkt, now):
                    handlers[type(a)](a)
            store.commit()
        self.loop.run_until_complete(asyncio.sleep(0))  # lets asyncio drop cancelled timer handles

    def process_by_part(self, packets: list[Packet], now: float) -> None:
        """The same work timed by part into `cpu` (process CPU, with the store's checkpoint thread): each
        batch's decisions first, then their actions, then the commit (the order differs from `process`,
        which is what the headline figure times)."""
        handlers, on_packet, cpu, clock = self.handlers, self.ha.on_packet, self.cpu, time.process_time
        for start in range(0, len(packets), BATCH):
            t0 = clock()
            decided = [on_packet(pkt, now) for pkt in packets[start : start + BATCH]]
            t1 = clock()
            for actions in decided:
                for a in actions:
                    handlers[type(a)](a)
            t2 = clock()
            self.store.commit()
            t3 = clock()
            cpu["protocol"] += t1 - t0
            cpu["actions"] += t2 - t1
            cpu["commit"] += t3 - t2
        self.loop.run_until_complete(asyncio.sleep(0))

    def close(self) -> None:
        self.timers.cancel_all()
        self.loop.close()
        self.store.close()


class FullCollections:
    """Wall time of the collector's full collections while installed (no reply goes out meanwhile)."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] == collector.FULL:
            if phase == "start":
                self._began = time.perf_counter()
            else:
                self.pauses.append(time.perf_counter() - self._began)


def requests(keys: list[bytes], picks: list[int], stamp: float, move: bool) -> list[Packet]:
    """Signed requests of nodes `picks` (the generator's SA of each is made here, outside the timing)."""
    out = []
    for k, i in enumerate(picks):
        sa = SecurityAssociation(node(i), SPI, keys[i], replay_window=3600)
        care_of = coa((i + (k if move else 0)) % FOREIGN_AGENTS)
        # increasing by 4 us per request: a node picked twice in a round still has rising timestamps
        req = reg.RegistrationRequest(0, 1800, sa.peer, HA, care_of, ntp_timestamp(stamp + k * 4e-6))
        out.append(Packet(sign(sa, req.encode(), MHAE), care_of, HA, 434))
    return out


@contextlib.contextmanager
def compaction_held_off() -> Iterator[None]:
    """The store never compacts its log while inside (--explain: what compacting costs; measure it with
    settled=False)."""
    saved = store_module.LOG_MIN_ROWS
    store_module.LOG_MIN_ROWS = sys.maxsize
    try:
        yield
    finally:
        store_module.LOG_MIN_ROWS = saved


def settle(store: Store, queue: Callable[[], None]) -> int:
    """Group commits of what `queue` queues until the store compacts its log and has compacted it once through,
    so the log's oldest rows are live in the share they keep from then on (the first rows compacted, written
    before it was compacting, are live more often). The registrations a home agent runs long are measured at
    that steady state; the commits it took are returned. Nothing is timed."""
    commits, through = 0, None  # through: the rows compacted once the log's rows then are
    while through is None or store.compacted < through:
        queue()
        store.commit()
        commits += 1
        if through is None and store.compacted:
            through = store.compacted + store.logged
    return commits


def cold_lookup_ns(n: int, lookups: int = 200_000) -> float:
    """Nanoseconds of one lookup in a dict of `n` address strings, each with a fresh equal string (as a request
    brings it) of a random key, then a read of the value it finds: what a table's entry costs once there are
    too many for the CPU's caches."""
    table = {node(i): [i] for i in range(n)}
    rng = random.Random(n)
    keys = [node(rng.randrange(n)) for _ in range(lookups)]
    for key in keys:
        hash(key)  # a request's string is hashed once on its way in
    started = time.process_time()
    for key in keys:
        table[key][0]
    return (time.process_time() - started) / lookups * 1e9


def measure(n: int, samples: int, repeats: int, tmp: str, policy: bool = True,
            prepared_limit: int = PREPARED_LIMIT, settled: bool = True) -> dict[str, float]:
    gc.collect()
    rss0 = rss_kib()
    rng = random.Random(n)
    t = time.perf_counter()
    keys = [rng.randbytes(16) for _ in range(n)]  # the nodes' side: only their keys are kept
    sas = SecurityAssociations(prepared_limit=prepared_limit)
    for i, key in enumerate(keys):
        sas.add(SecurityAssociation(node(i), SPI, key, replay_window=3600))
    cfg = HomeAgentConfig(HA, "lo", ("10.0.0.0/8",), mobile_hosts=HostSet(("10.0.0.0/8",)), max_lifetime=1800,
                          advertise=False)
    ha = HomeAgent(cfg, sas, random.Random(1))
    rt = Runtime(ha, os.path.join(tmp, f"state-{n}.db"))
    gc.collect()
    gc.freeze()  # as the daemon once started: the SAs out of every collection
    collector.freeze_after_barren_full_collections(policy)
    rss1 = rss_kib()
    now = time.time()
    chunk = 20_000
    for start in range(0, n, chunk):  # one registration per node: N live bindings
        rt.process(requests(keys, list(range(start, min(n, start + chunk))), now, False), now)
    setup = time.perf_counter() - t
    if settled:  # as a long-running home agent's store (not with compaction held off: it would never compact)
        settle(rt.store, functools.partial(rewrite, ha, rt.store, rng, n))
    gc.collect()
    rss2 = rss_kib()
    assert len(ha) == n, (len(ha), dict(ha.counters))
    costs = []
    by_kind: dict[bool, list[float]] = {False: [], True: []}  # the rounds' costs: refreshes, moves
    total_cpu, total_done = 0.0, 0
    compacted, copied, full_collections = rt.store.compacted, rt.store.copied, FullCollections()
    gc.callbacks.insert(0, full_collections)  # before the policy's: its freeze is not timed
    for r in range(repeats):
        for move in (False, True):
            picks = [rng.randrange(n) for _ in range(samples)]
            batch = requests(keys, picks, now + 1 + 2 * r + move, move)
            accepted = ha.counters["accepted.registration"]
            c0 = time.process_time()
            rt.process(batch, now)
            cpu = time.process_time() - c0
            done = ha.counters["accepted.registration"] - accepted
            costs.append(cpu / max(1, done) * 1e6)
            by_kind[move].append(costs[-1])
            total_cpu, total_done = total_cpu + cpu, total_done + done
            if done != samples:
                print(f"  WARNING: {samples - done} of {samples} not accepted: {dict(ha.counters)}")
    gc.callbacks.remove(full_collections)
    compacted, copied = rt.store.compacted - compacted, rt.store.copied - copied
    accepted = ha.counters["accepted.registration"]
    for move in (False, True):  # one more refresh and move round, timed by part
        picks = [rng.randrange(n) for _ in range(samples)]
        rt.process_by_part(requests(keys, picks, now + 1 + 2 * repeats + move, move), now)
    timed = max(1, ha.counters["accepted.registration"] - accepted)
    rt_cpu = rt.cpu
    rt.close()
    collector.freeze_after_barren_full_collections(False)
    gc.unfreeze()
    del rt, ha, sas, keys
    gc.collect()
    per_part = {part: v / timed * 1e6 for part, v in rt_cpu.items()}
    return {"n": n, "us": statistics.median(costs), **per_part, "best_us": min(costs), "setup_s": setup,
            "refresh_us": statistics.median(by_kind[False]), "move_us": statistics.median(by_kind[True]),
            "amortized_us": total_cpu / max(1, total_done) * 1e6, "compacted": compacted / max(1, total_done),
            "live": copied / compacted if compacted else math.nan,
            "full_collections": len(full_collections.pauses),
            "longest_full_ms": max(full_collections.pauses, default=0) * 1e3,
            "sa_bytes": (rss1 - rss0) * 1024 / n, "binding_bytes": (rss2 - rss1) * 1024 / n}


def rewrite(ha: HomeAgent, store: Store, rng: random.Random, n: int) -> None:
    """Queue a batch of the rows a refresh of BATCH random nodes writes, as the home agent holds them: settle's
    load, without the protocol's cost. That is each node's bindings row only: its SA's replay protection is by
    timestamps, which the bindings row keeps (the home agent writes a replay row only when a node's last binding
    goes, RFC 5944 §5.7.1)."""
    for _ in range(BATCH):
        store.put(BINDINGS, tuple(ha.bindings_of(node(rng.randrange(n)))))


def explain(small: dict[str, float], large: dict[str, float], args: argparse.Namespace, tmp: str) -> None:
    """What the store's compaction and the prepared-SA cache's misses account for of the difference between the
    sizes (amortized; one run of each variant), and what a cold dictionary lookup costs on this machine."""
    n, cost, gap = large["n"], large["amortized_us"], large["amortized_us"] - small["amortized_us"]
    print(f"  where the {n:,}-binding cost goes beyond the {small['n']:,} one (amortized; gap {gap:.1f} us):")
    with compaction_held_off():
        held = measure(n, args.measure, args.repeats, tmp, not args.plain_collector, settled=False)["amortized_us"]
    print(f"    the store's compaction held off: {held:.1f} us, so compacting takes {cost - held:.1f} us")
    sys.stdout.flush()
    prepared = measure(n, args.measure, args.repeats, tmp, not args.plain_collector, prepared_limit=n + 1)
    missed = cost - prepared["amortized_us"]
    print(f"    every SA prepared: {prepared['amortized_us']:.1f} us ({prepared['binding_bytes']:,.0f} bytes per "
          f"binding), so the prepared-SA cache's misses take {missed:.1f} us")
    rest = gap - (cost - held) - missed
    cold, warm = cold_lookup_ns(n), cold_lookup_ns(small["n"])
    print(f"    the rest, {rest:.1f} us: memory latency; one dictionary lookup and its value cost {cold:.0f} ns among "
          f"{n:,} keys against {warm:.0f} ns among {small['n']:,} on this machine")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=1_000)
    ap.add_argument("--large", type=int, default=1_000_000)
    ap.add_argument("--measure", type=int, default=20_000, help="timed re-registrations per round")
    ap.add_argument("--repeats", type=int, default=5, help="refresh and move round pairs")
    ap.add_argument("--plain-collector", action="store_true", help="without mipd.runtime.collector's freezing after "
                    "full collections that found nothing (the daemon's policy), for comparison")
    ap.add_argument("--explain", action="store_true", help="measure the large size again without the store's "
                    "compaction and with every SA prepared, and print what each accounts for of the difference between "
                    "the sizes")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="mipbench-scale-")
    try:
        print(f"binding_scale: HomeAgent (protocol layer) + runtime action execution (null data plane, "
              f"timers, SQLite store, group commit per {BATCH}) in process; load average {load()}")
        results = []
        for n in (args.small, args.large):
            r = measure(n, args.measure, args.repeats, tmp, not args.plain_collector)
            results.append(r)
            print(f"  {n:>9,} live bindings: {r['us']:.1f} us per registration (median of {2 * args.repeats} "
                  f"rounds of {args.measure:,}; best {r['best_us']:.1f} us) = {1e6 / r['us']:,.0f}/s; "
                  f"memory {r['binding_bytes']:,.0f} bytes per binding + {r['sa_bytes']:,.0f} bytes per SA; "
                  f"set-up {r['setup_s']:.1f} s")
            print(f"  {'':>9}   amortized over those rounds (total CPU / registrations): {r['amortized_us']:.1f} us, "
                  f"the store compacting {r['compacted']:.2f} log rows per registration ({r['live']:.0%} live), "
                  f"with {r['full_collections']} full garbage collection(s) (longest {r['longest_full_ms']:.0f} ms)")
            print(f"  {'':>9}   median of the refresh rounds {r['refresh_us']:.1f} us, of the move rounds "
                  f"{r['move_us']:.1f} us")
            print(f"  {'':>9}   CPU by part (one more refresh and move round): protocol {r['protocol']:.1f} us + "
                  f"actions {r['actions']:.1f} us + commit {r['commit']:.1f} us")
            sys.stdout.flush()
        small, large = results
        by_part = ", ".join(f"{part} {large[part] / max(small[part], 1e-9):.2f}"
                            for part in ("protocol", "actions", "commit"))
        print(f"  ratio {large['n']:,} / {small['n']:,} bindings: {large['us'] / small['us']:.2f} [target <= 1.5]; "
              f"amortized {large['amortized_us'] / small['amortized_us']:.2f}; refreshes "
              f"{large['refresh_us'] / small['refresh_us']:.2f}, moves {large['move_us'] / small['move_us']:.2f}; "
              f"by part: {by_part}; "
              f"load average {load()}")
        if args.explain:
            explain(small, large, args, tmp)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
