#!/usr/bin/env python3
"""The end-to-end demo's bookkeeping (playbooks/demo.yml runs it on the controller).

    demo_report.py recap LOG
        sums up the output of one ansible-playbook run: the PLAY RECAP per host, the tasks that
        changed something, and the end of the output; one JSON object on stdout.
    demo_report.py summary --facts FACTS --stream DIR [--grace S] [--json OUT]
        joins what the demo recorded (FACTS: hosts, phases with the agents' answers after each
        move, the key rotation's counters, the playbook runs) with the UDP stream's records (DIR,
        scripts/stream.py), prints the summary table and the checks, writes the summary as JSON.
        Exit status 0 even when a check fails: the playbook asserts on the JSON's "ok".
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stream

RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
                   r"(?:\s+skipped=(\d+))?(?:\s+rescued=(\d+))?(?:\s+ignored=(\d+))?")
TASK = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(.*)\] \**$")
CHANGED = re.compile(r"^changed: \[([^\]]+)\]")
FIELDS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")


def recap(log: Path) -> dict[str, object]:
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    hosts: dict[str, dict[str, int]] = {}
    changed_tasks: list[str] = []
    task = None
    in_recap = False
    for line in lines:
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        if in_recap:
            m = RECAP.match(line)
            if m:
                hosts[m.group(1)] = {k: int(v or 0) for k, v in zip(FIELDS, m.groups()[1:], strict=True)}
            continue
        m = TASK.match(line)
        if m:
            task = m.group(1)
            continue
        m = CHANGED.match(line)
        if m and task is not None:
            changed_tasks.append(f"{m.group(1)}: {task}")
    changed = sum(h["changed"] for h in hosts.values())
    failed = sum(h["failed"] + h["unreachable"] for h in hosts.values())
    per_host = ", ".join(f"{h} {v['changed']}" for h, v in hosts.items())
    digest = (f"{len(hosts)} hosts, changed={changed} ({per_host}), failed={failed}" if hosts
              else "no PLAY RECAP (the run stopped before any play)")
    return {"recap": hosts, "changed": changed, "failed": failed, "changed_tasks": changed_tasks,
            "digest": digest, "tail": "\n".join(lines[-40:])}


# ------------------------------------------------------------------------------------- summary


def _counter_diff(after: dict | None, before: dict | None, prefix: str) -> dict[str, int]:
    after, before = after or {}, before or {}
    return {k: after[k] - before.get(k, 0) for k in sorted(after)
            if k.startswith(prefix) and after[k] - before.get(k, 0) > 0}


def _role_counters(info: dict | None, role: str) -> dict[str, int]:
    return ((info or {}).get("counters") or {}).get("roles", {}).get(role, {}) or {}


def _bindings_text(bindings: list[dict]) -> str:
    return ", ".join(f"{b['home_address']} -> {b['care_of_address']}" for b in bindings) or "none"


def _visitors_text(visitors: dict[str, list[dict]], care_of: str | None) -> str:
    """The foreign agents serving the node; an entry for another care-of address than the node's current
    one is its old visit, kept until the registration's lifetime runs out (RFC 5944 §3.7.1)."""
    parts = []
    for fa, vs in visitors.items():
        for v in vs:
            if v.get("care_of_address") == care_of:
                parts.append(fa)
            else:
                left = f" {v['lifetime_left']} s" if v.get("lifetime_left") is not None else ""
                parts.append(f"{fa} (old{left})")
    return ", ".join(parts) or "none"


def summary(facts: dict, analysis: dict) -> dict[str, object]:
    """The summary and its checks from the demo's facts and the stream's analysis."""
    phases = []
    streams = {p["phase"]: p for p in analysis["phases"]}
    checks: list[dict[str, object]] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        checks.append({"check": name, "ok": bool(ok), "detail": detail})

    for p in facts["phases"]:
        s = streams.get(p["name"], {})
        reg = p.get("registration") or {}
        row = {
            "phase": p["name"], "network": p["network"], "move": p["move"],
            "mn_location": reg.get("location"), "mn_care_of_address": reg.get("care_of_address"),
            "mn_registered": reg.get("registered"), "registration_code": reg.get("last_reply_code"),
            "bindings": p.get("bindings", []), "visitors": p.get("visitors", {}),
            "expected_care_of_address": p.get("expected_care_of_address"),
            "sent": s.get("sent", 0), "received": s.get("received", 0), "lost": s.get("lost", 0),
            "lost_in_handoff": s.get("lost_in_handoff", 0), "lost_outside_handoff": s.get("lost_outside_handoff", 0),
            "handoff_ms": s.get("handoff_ms"), "outage_ms": s.get("outage_ms"),
        }
        phases.append(row)
        where = f"{p['name']} ({p['network']})"
        if p["move"]:
            check(f"{where}: registration code 0", row["registration_code"] == 0,
                  f"last reply code {row['registration_code']}")
            check(f"{where}: handoff measured", row["handoff_ms"] is not None,
                  "no datagram reached the node on its new link" if row["handoff_ms"] is None
                  else f"{row['handoff_ms']:.0f} ms")
        expected = p.get("expected_care_of_address")
        bound = {b["home_address"]: b["care_of_address"] for b in row["bindings"]}
        home = p.get("home_address")
        if expected:
            check(f"{where}: binding {home} -> {expected}", bound == {home: expected}, _bindings_text(row["bindings"]))
        else:
            check(f"{where}: no binding (at home)", not bound, _bindings_text(row["bindings"]))
        check(f"{where}: datagrams reach the node", row["received"] > 0, f"{row['received']} of {row['sent']}")
        check(f"{where}: no loss outside the handoff window", row["lost_outside_handoff"] == 0,
              f"{row['lost_outside_handoff']} lost outside, {row['lost_in_handoff']} in the handoff window")

    rotation = facts.get("rotation") or {}
    rot: dict[str, object] = {}
    if rotation:
        ha_before, ha_after = (_role_counters(rotation.get(k), "home_agent") for k in ("ha_before", "ha_after"))
        mn_before, mn_after = (_role_counters(rotation.get(k), "mobile_node") for k in ("mn_before", "mn_after"))
        accepted = _counter_diff(ha_after, ha_before, "accepted.")
        denied = _counter_diff(ha_after, ha_before, "denied.")
        mn_denied = _counter_diff(mn_after, mn_before, "denied.")
        rot = {
            "registrations": sum(accepted.values()) + sum(denied.values()),
            "accepted": sum(accepted.values()), "failed": sum(denied.values()) + sum(mn_denied.values()),
            "denied_by_code": denied, "mobile_node_denied_by_code": mn_denied,
            "mobile_node_registered": mn_after.get("registered", 0) - mn_before.get("registered", 0),
            "spi_before": rotation.get("spi_before"), "spi_after": rotation.get("spi_after"),
            "mobile_node_spis": rotation.get("mn_spis"), "home_agent_spis": rotation.get("ha_spis"),
            "seconds": rotation.get("seconds"),
        }
        check("rotation: registrations during it", rot["accepted"] > 0, f"{rot['accepted']} accepted by the home agent")
        check("rotation: no failed registration", rot["failed"] == 0,
              f"home agent denied {denied or 'none'}, mobile node got {mn_denied or 'no refusal'}")
        check("rotation: the mobile node holds only the new SPI", rot["mobile_node_spis"] == [rot["spi_after"]],
              f"mobile node SPIs {rot['mobile_node_spis']}, new SPI {rot['spi_after']}")
        check("rotation: the home agent holds only the new SPI for the node",
              rot["home_agent_spis"] == [rot["spi_after"]], f"home agent SPIs {rot['home_agent_spis']}")

    totals = facts.get("totals") or {}
    ha_denied = _counter_diff(_role_counters(totals.get("ha_after"), "home_agent"),
                              _role_counters(totals.get("ha_before"), "home_agent"), "denied.")
    mn_denied = _counter_diff(_role_counters(totals.get("mn_after"), "mobile_node"),
                              _role_counters(totals.get("mn_before"), "mobile_node"), "denied.")
    if totals:
        check("no registration refused during the demo", not ha_denied and not mn_denied,
              f"home agent {ha_denied or 'none'}, mobile node {mn_denied or 'none'}")

    runs = facts.get("runs", [])
    for r in runs:
        check(f"{r['name']}: succeeded", r["rc"] == 0 and r["failed"] == 0, r["digest"])
        if r.get("expect_no_change"):
            check(f"{r['name']}: changed=0", r["changed"] == 0,
                  "; ".join(r["changed_tasks"][:5]) or r["digest"])

    return {
        "ok": all(c["ok"] for c in checks), "lab": facts.get("lab"), "hosts": facts.get("hosts"),
        "phases": phases, "rotation": rot, "runs": [{k: v for k, v in r.items() if k != "tail"} for r in runs],
        "stream": {k: analysis[k] for k in ("sent", "received", "lost", "lost_outside_handoff", "duplicates",
                                            "grace_s")} | {"rate": facts.get("stream_rate")},
        "registrations_refused": {"home_agent": ha_denied, "mobile_node": mn_denied},
        "checks": checks, "seconds": facts.get("seconds"),
    }


def table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]

    def line(r: list[str]) -> str:
        return "  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True)).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def render(s: dict) -> list[str]:
    out = ["Hosts"]
    rows = []
    last = s["phases"][-1] if s["phases"] else {}
    for h in s["hosts"] or []:
        state = ""
        if h["role"] == "home_agent":
            state = "bindings: " + _bindings_text(last.get("bindings", []))
        elif h["role"] == "foreign_agent":
            state = "visitors: " + (", ".join(v["home_address"] for v in last.get("visitors", {}).get(h["name"], [])
                                              if v.get("care_of_address") == last.get("expected_care_of_address"))
                                    or "none")
        elif h["role"] == "mobile_node":
            via = f" via {last.get('mn_care_of_address')}" if last.get("mn_location") == "away" else ""
            state = f"{last.get('mn_location')}{via}, last reply code {last.get('registration_code')}"
        elif h["role"] == "correspondent":
            state = f"streams {s['stream']['rate']:g} datagrams/s to the node's home address"
        rows.append([h["name"], h["role"], h.get("platform") or "linux", h["address"], state])
    out += table(rows, ["host", "role", "platform", "management", "at the end"])
    out += ["", "Phases (the correspondent streams to the mobile node's home address throughout)"]
    rows = []
    for p in s["phases"]:
        handoff = f"{p['handoff_ms']:.0f} ms" if p["handoff_ms"] is not None else "-"
        code = "-" if p["registration_code"] is None else str(p["registration_code"])
        rows.append([p["phase"], p["network"], code, _bindings_text(p["bindings"]),
                     _visitors_text(p["visitors"], p["expected_care_of_address"]), handoff, str(p["sent"]),
                     str(p["lost"]), str(p["lost_in_handoff"]), str(p["lost_outside_handoff"])])
    out += table(rows, ["phase", "node on", "code", "home agent binding", "foreign agents", "handoff", "sent", "lost",
                        "in handoff", "outside"])
    down = [p["outage_ms"] - p["handoff_ms"] for p in s["phases"] if p["handoff_ms"] is not None]
    if down:
        low, high = f"{min(down) / 1000:.2f}", f"{max(down) / 1000:.2f}"
        span = low if low == high else f"{low}-{high}"
        out += [f"handoff: from the node's carrier coming up on the new link to the first datagram reaching it there; "
                f"each move kept the link down {span} s.",
                "in handoff: lost between the last datagram before the link went down and the first one on the "
                "new link; outside: any other loss."]
    r = s["rotation"]
    if r:
        out += ["", f"Key rotation: SPI {r['spi_before']} -> {r['spi_after']} in {r['seconds']} s; "
                    f"registrations during it: {r['registrations']} ({r['accepted']} accepted), "
                    f"failed: {r['failed']}; the node now holds SPI {r['mobile_node_spis']}, "
                    f"its home agent {r['home_agent_spis']}"]
    out.append("")
    for run in s["runs"]:
        out.append(f"{run['name']}: {run['digest']}, {run['seconds']} s")
    failed = [c for c in s["checks"] if not c["ok"]]
    out += ["", f"Checks: {len(s['checks']) - len(failed)} of {len(s['checks'])} passed"
                + (" (registration codes, bindings after each move, no loss outside the handoff windows, "
                   "rotation without a failed registration, site.yml idempotent)" if not failed else "; failed:")]
    out += [f"  FAIL {c['check']}" + (f" ({c['detail']})" if c["detail"] else "") for c in failed]
    st = s["stream"]
    out += ["", f"{'DEMO OK' if s['ok'] else 'DEMO FAILED'}: {st['sent']} datagrams sent, {st['lost']} lost "
                f"({st['lost_outside_handoff']} outside the handoff windows); "
                f"{len(failed)} of {len(s['checks'])} checks failed; {s['seconds']} s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("recap")
    p.add_argument("log")
    p = sub.add_parser("summary")
    p.add_argument("--facts", required=True)
    p.add_argument("--stream", required=True)
    p.add_argument("--grace", type=float, default=0.5)
    p.add_argument("--json")
    args = parser.parse_args()
    if args.cmd == "recap":
        print(json.dumps(recap(Path(args.log))))
        return
    facts = json.loads(Path(args.facts).read_text())
    result = summary(facts, stream.analyse(Path(args.stream), args.grace))
    result["table"] = render(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    print("\n".join(result["table"]))


if __name__ == "__main__":
    main()
