#!/usr/bin/env python3
"""Fuzzing, the long run: random and mutated inputs into the decoders and the HA, FA and MN machines.

    benchmarks/fuzz.py [--inputs N] [--seed S] [--targets wire,ha,fa,mn]
    benchmarks/fuzz.py --replay TARGET:EPISODE_SEED     (re-run one episode, printing every input)

Inputs are made in episodes of --episode inputs, each from its own seed, round-robin over the
targets: "wire" decodes random bytes and structure-aware mutations of valid requests, replies and
advertisements (registration.decode, decode_extensions, icmp.decode); "ha", "fa" and "mn" build a
fresh state machine and drive it with valid signed messages, wrong keys and SPIs, other nodes'
keys, mutated and replayed bytes, timers, time jumps and configuration reloads (tests/mipfuzz.py
says which inputs and invariants). Prints inputs tried per second (wall clock), CPU per input,
escapes (exceptions out of the API, or the machine's own safety net catching one) and invariant
violations, each with a reproducer: the input in hex and the episode seed for --replay.
Issue 9 goal: 1,000,000 inputs with zero escapes. Sends nothing on any network; asserts nothing.
Exit status 1 when anything escaped or an invariant broke.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from mipfuzz import WORLDS, Input, World, fuzz_decoders_once

TARGETS = ("wire", "ha", "fa", "mn")
SHOWN = 5  # reproducers printed per target and kind of finding


@dataclass
class Finding:
    target: str
    episode_seed: int
    step: int
    kind: str  # "escape" | "violation"
    what: str
    data: bytes

    def __str__(self) -> str:
        return (f"{self.kind} in {self.target} (episode seed {self.episode_seed}, input {self.step}): {self.what}\n"
                f"    input: {self.data.hex() or '(no datagram)'}\n"
                f"    reproduce: benchmarks/fuzz.py --replay {self.target}:{self.episode_seed}")


@dataclass
class Tally:
    inputs: int = 0
    cpu: float = 0.0
    wall: float = 0.0
    escapes: int = 0
    violations: int = 0
    findings: list[Finding] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)


def episode_seed(seed: int, episode: int) -> int:
    return seed * 1_000_003 + episode


def run_wire(seed: int, inputs: int, tally: Tally, verbose: bool = False) -> None:
    rng = random.Random(seed)
    for step in range(inputs):
        data = b""
        try:
            data, problem = fuzz_decoders_once(rng)
        except Exception as e:  # an escape: anything but WireError out of a decoder
            problem = None
            tally.escapes += 1
            tally.findings.append(Finding("wire", seed, step, "escape", _describe(e), data))
        tally.inputs += 1
        if verbose:
            print(f"  {step}: {data.hex()} -> {problem or 'ok'}")
        if problem:
            tally.violations += 1
            tally.findings.append(Finding("wire", seed, step, "violation", problem, data))


def run_world(target: str, seed: int, inputs: int, tally: Tally, verbose: bool = False) -> None:
    rng = random.Random(seed)
    world: World = WORLDS[target](rng)
    for step in range(inputs):
        kind = rng.choice(world.KINDS)
        tally.inputs += 1
        tally.kinds[kind] += 1
        try:
            made: Input = world.step(kind, rng)
        except Exception as e:  # an escape out of on_packet/on_timer/on_config/...: the episode ends
            tally.escapes += 1
            tally.findings.append(Finding(target, seed, step, "escape", f"{kind}: {_describe(e)}", world.last))
            if verbose:
                traceback.print_exc()
            return
        if verbose:
            print(f"  {step} t={world.now:.3f} {made.kind}: {made.data.hex()} {made.note}")
        for problem in world.violations():
            tally.violations += 1
            tally.findings.append(Finding(target, seed, step, "violation", problem, made.data))


def _describe(e: Exception) -> str:
    frame = traceback.extract_tb(e.__traceback__)[-1]
    return f"{type(e).__name__}: {e} at {Path(frame.filename).name}:{frame.lineno}"


def report(tallies: dict[str, Tally]) -> None:
    total = Tally()
    for target, t in tallies.items():
        if not t.inputs:
            continue
        print(f"{target:>5}: {t.inputs:>9,} inputs  {t.inputs / t.wall:>9,.0f} inputs/s  "
              f"{1e6 * t.cpu / t.inputs:6.1f} us CPU/input  escapes {t.escapes}  violations {t.violations}")
        total.inputs += t.inputs
        total.cpu += t.cpu
        total.wall += t.wall
        total.escapes += t.escapes
        total.violations += t.violations
    print(f"total: {total.inputs:>9,} inputs  {total.inputs / total.wall:>9,.0f} inputs/s  "
          f"{1e6 * total.cpu / total.inputs:6.1f} us CPU/input  escapes {total.escapes}  "
          f"violations {total.violations}  [goal: 1,000,000 inputs, 0 escapes]")
    for target, t in tallies.items():
        for kind in ("escape", "violation"):
            found = [f for f in t.findings if f.kind == kind]
            for f in found[:SHOWN]:
                print(f)
            if len(found) > SHOWN:
                print(f"... and {len(found) - SHOWN} more {kind}s in {target}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=1_000_000, help="inputs to try in all (default 1,000,000)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the whole run (default 1)")
    ap.add_argument("--episode", type=int, default=200, help="inputs per episode (fresh machine, own seed)")
    ap.add_argument("--targets", default=",".join(TARGETS), help=f"comma-separated subset of {','.join(TARGETS)}")
    ap.add_argument("--replay", metavar="TARGET:SEED", help="re-run one episode, printing every input")
    args = ap.parse_args()
    if args.replay:
        target, _, seed = args.replay.partition(":")
        tally = Tally()
        if target == "wire":
            run_wire(int(seed), args.episode, tally, verbose=True)
        else:
            run_world(target, int(seed), args.episode, tally, verbose=True)
        for f in tally.findings:
            print(f)
        return 1 if tally.findings else 0
    targets = [t for t in args.targets.split(",") if t]
    unknown = set(targets) - set(TARGETS)
    if unknown:
        ap.error(f"unknown target(s) {', '.join(sorted(unknown))}")
    tallies = {t: Tally() for t in targets}
    done, episode, next_report = 0, 0, 0.0
    start = time.monotonic()
    while done < args.inputs:
        target = targets[episode % len(targets)]
        count = min(args.episode, args.inputs - done)
        seed = episode_seed(args.seed, episode)
        tally = tallies[target]
        before = tally.inputs
        w0, c0 = time.monotonic(), time.process_time()
        if target == "wire":
            run_wire(seed, count, tally)
        else:
            run_world(target, seed, count, tally)
        tally.cpu += time.process_time() - c0
        tally.wall += time.monotonic() - w0
        done += tally.inputs - before
        episode += 1
        if time.monotonic() - start >= next_report:
            escapes = sum(t.escapes for t in tallies.values())
            violations = sum(t.violations for t in tallies.values())
            print(f"... {done:,} inputs in {time.monotonic() - start:.0f} s, escapes {escapes}, "
                  f"violations {violations}", flush=True)
            next_report += 30.0
    report(tallies)
    return 1 if any(t.escapes or t.violations for t in tallies.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
