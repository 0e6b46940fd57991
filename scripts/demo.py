#!/usr/bin/env python3
"""`./mip demo --sim`: the real HA, FA and MN state machines on the in-memory network, in seconds.

The protocol core end to end, without the namespace lab (`./mip demo` runs playbooks/demo.yml on
the lab, with real mipd processes): the mobile node starts at home, roams to FA1, then FA2, comes
home, and the fleet's key is rotated with an overlapping SPI, while a correspondent streams packets
to the node's home address (50 per simulated second). It prints progress, then a summary table, and
exits non-zero if any phase lost packets outside its handoff window, any registration failed, or a
binding is wrong.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from mipd.protocol import actions as A
from mipd.protocol import codes
from mipd.security import SecurityAssociation, SecurityAssociations
from mipd.simnet import Lab, standard_lab

NOW = 1_800_000_000.0
HOME = "10.1.0.10"
OLD = SecurityAssociation(HOME, 300, bytes(range(16)))
NEW = SecurityAssociation(HOME, 301, bytes(range(100, 116)))
RATE = 50  # CN packets per simulated second
LIFETIME = 30


@dataclass
class Phase:
    name: str
    start: float
    end: float = 0.0
    sent: int = 0
    lost: int = 0
    handoff: float | None = None
    codes: list[int] = field(default_factory=list)
    binding: str = ""
    visitors: str = ""
    path: str = ""


def stream(lab: Lab, phase: Phase, until: float) -> None:
    """Advance time to `until`, sending one CN packet every 1/RATE s to the home address."""
    t = lab.net.now
    while t < until:
        t = min(until, t + 1 / RATE)
        lab.net.run(t)
        phase.sent += 1
        if lab.net.deliver_to_home("ha", "mn", HOME) is None:
            phase.lost += 1


def ha_codes_since(lab: Lab, since: float) -> list[int]:
    return [a.fields["code"] for t, n, a in lab.net.trace
            if n == "ha" and t >= since and isinstance(a, A.Log) and isinstance(a.fields.get("code"), int)]


def binding_text(lab: Lab) -> str:
    bindings = lab.net.nodes["ha"].machine.bindings()
    return ", ".join(f"{b.home_address}->{b.care_of_address}" for b in bindings) or "(at home)"


def run_phase(lab: Lab, name: str, link: str | None, at: float, until: float, log: list[Phase]) -> Phase:
    phase = Phase(name, at)
    if log:
        stream(lab, log[-1], at)
    else:
        lab.net.run(at)
    if link is not None:
        lab.move(link, at)
        accepted = [t for t, n, a in lab.net.trace if n == "mn" and t >= at and isinstance(a, A.Log)
                    and a.event in ("registration", "deregistration") and a.fields.get("code") == 0]
        phase.handoff = (accepted[0] - at) if accepted else None
    stream(lab, phase, until)
    phase.end = lab.net.now
    phase.codes = ha_codes_since(lab, at)
    phase.binding = binding_text(lab)
    phase.visitors = "; ".join(
        f"{n}: {','.join(v.home_address for v in lab.net.nodes[n].machine.visitors())}"
        for n in ("fa1", "fa2") if lab.net.nodes[n].machine.visitors()
    ) or "-"
    phase.path = " > ".join(lab.net.deliver_to_home("ha", "mn", HOME) or ["LOST"])
    log.append(phase)
    status = lab.net.nodes["mn"].machine.status(lab.net.now)
    print(f"[{phase.end - NOW:6.1f}s] {name:<22} MN {status.location:<5} coa {status.care_of_address or '-':<10} "
          f"last code {status.last_reply_code} ({codes.name(status.last_reply_code or 0)}); path {phase.path}")
    return phase


def rotate(lab: Lab, sas: list[SecurityAssociation], at: float) -> None:
    lab.net.run(at)
    for name in ("ha", "mn"):
        m = lab.net.nodes[name].machine
        lab.net.execute(name, m.on_config(m.config, SecurityAssociations(sas), lab.net.now))


def main() -> int:
    print("netmobility.mobileip demo: HA 10.1.0.1 (home), FA1 10.2.0.1 (visit1), FA2 10.3.0.1 (visit2), "
          f"MN {HOME}; CN streams {RATE} pkt/s to the home address")
    lab = standard_lab(NOW, {"ha": [OLD], "mn": [OLD]}, lifetime=LIFETIME)
    phases: list[Phase] = []
    run_phase(lab, "at home", None, NOW, NOW + 5, phases)
    run_phase(lab, "roam to FA1", "visit1", NOW + 5, NOW + 20, phases)
    run_phase(lab, "roam to FA2", "visit2", NOW + 20, NOW + 35, phases)
    run_phase(lab, "return home", "home", NOW + 35, NOW + 45, phases)
    lab.move("visit1", NOW + 45)
    rotation = Phase("key rotation (via FA1)", NOW + 45)
    stream(lab, phases[-1], NOW + 45)
    rotate(lab, [OLD, NEW], NOW + 46)
    stream(lab, rotation, NOW + 46 + LIFETIME * 2)
    rotate(lab, [NEW], lab.net.now)
    stream(lab, rotation, lab.net.now + LIFETIME * 2)
    rotation.end = lab.net.now
    rotation.codes = ha_codes_since(lab, NOW + 45)
    rotation.path = " > ".join(lab.net.deliver_to_home("ha", "mn", HOME) or ["LOST"])
    rotation.binding = binding_text(lab)
    spis = {p.data[30:34].hex() for p in lab.net.nodes["ha"].received if not p.icmp and p.data[:1] == b"\x01"}
    print(f"[{rotation.end - NOW:6.1f}s] key rotation            SPI 300 -> 301 with overlap; "
          f"{len(rotation.codes)} registrations, codes {sorted(set(rotation.codes))}; path {rotation.path}")
    phases.append(rotation)

    print()
    print(f"{'phase':<24}{'handoff':>9}{'sent':>7}{'lost':>6}  {'HA codes':<14}{'HA binding':<24}{'FA visitors'}")
    for p in phases:
        handoff = f"{p.handoff * 1000:.0f} ms" if p.handoff is not None else "-"
        print(f"{p.name:<24}{handoff:>9}{p.sent:>7}{p.lost:>6}  {str(sorted(set(p.codes))):<14}{p.binding:<24}"
              f"{p.visitors}")
    failures = [p.name for p in phases if p.lost or any(not codes.accepted(c) for c in p.codes)]
    if len(spis) < 2:
        failures.append("rotation never used the new SPI")
    if lab.net.nodes["ha"].machine.bindings()[0].care_of_address != "10.2.0.1":
        failures.append("final binding is not via FA1")
    print()
    print("simulated in-process, zero-latency links (protocol core only); ./mip demo runs the namespace lab")
    print("with real mipd processes")
    print("RESULT: " + ("FAIL: " + ", ".join(failures) if failures else "OK: every registration accepted, "
                        "no packet lost, rotation completed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
