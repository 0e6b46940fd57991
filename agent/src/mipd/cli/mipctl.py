"""`mipctl`: ask a running mipd for its state, or tell it to reload.

    mipctl [--socket PATH] [--json] status|bindings|visitors|pending|registration|counters|sas|reload

Human-readable aligned tables by default; --json prints the daemon's answer as JSON (for Ansible).
Exit status: 0 done, 1 the daemon refused (e.g. an invalid configuration on reload, or a command
for a role this host does not have), 2 usage, 3 the daemon cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from mipd.cli.tables import block, table
from mipd.runtime.config import DEFAULT_CONFIG, DEFAULT_CONTROL_SOCKET, ConfigError, load_config
from mipd.runtime.control import COMMANDS, request

EXIT_REFUSED = 1
EXIT_UNREACHABLE = 3


def _status(r: dict[str, Any]) -> str:
    pairs: list[tuple[str, Any]] = [
        ("roles", r["roles"]), ("version", r["version"]), ("pid", r["pid"]), ("uptime", f"{r['uptime']:g} s"),
        ("config", r["config"]), ("keys file", r["keys_file"]), ("state db", r["state_db"]),
        ("dataplane", r["dataplane"]),
    ]
    pairs += [(k.replace("_", " "), v) for k, v in r.get("counts", {}).items()]
    for name, err in r.get("missing_links", {}).items():
        pairs.append((f"link {name}", f"missing ({err})"))
    text = block(pairs)
    if "registration" in r:
        text += "\n\n" + _registration(r["registration"])
    return text


def _registration(r: dict[str, Any]) -> str:
    left = r.get("lifetime_left")
    code = r.get("last_reply_code")
    return block([
        ("location", r.get("location")), ("registered", r.get("registered")), ("pending", r.get("pending")),
        ("care-of address", r.get("care_of_address")), ("agent", r.get("agent_address")),
        ("interface", r.get("interface")), ("home agent", r.get("home_agent")),
        ("lifetime left", None if left is None else f"{left:g} s"),
        ("last reply", None if code is None else f"{code} ({r.get('last_reply_name')})"),
    ])


def _counters(r: dict[str, Any]) -> str:
    rows = []
    for section, values in (*((f"{n}", v) for n, v in r.get("roles", {}).items()),
                            ("runtime", r.get("runtime", {})), ("dataplane", r.get("dataplane", {}))):
        rows += [{"where": section, "counter": k, "value": v} for k, v in sorted(values.items())]
    return table(rows, [("where", "WHERE"), ("counter", "COUNTER"), ("value", "VALUE")])


def _reload(r: dict[str, Any]) -> str:
    text = f"reloaded: roles {', '.join(r['roles'])}; {r['security_associations']} security associations"
    if r.get("restart_needed"):
        text += f"\nrestart needed for: {', '.join(r['restart_needed'])}"
    for w in r.get("warnings", []):
        text += f"\nwarning: {w}"
    return text


FORMATS: dict[str, Callable[[Any], str]] = {
    "status": _status,
    "bindings": lambda rows: table(rows, [
        ("home_address", "HOME ADDRESS"), ("care_of_address", "CARE-OF ADDRESS"), ("lifetime_left", "LEFT"),
        ("lifetime", "LIFETIME"), ("encap", "ENCAP"), ("reverse", "REVERSE"), ("source", "FROM"),
        ("nai", "NAI"), ("identification", "IDENTIFICATION")]),
    "visitors": lambda rows: table(rows, [
        ("home_address", "HOME ADDRESS"), ("nai", "NAI"), ("care_of_address", "CARE-OF ADDRESS"),
        ("home_agent", "HOME AGENT"), ("interface", "LINK"), ("lladdr", "LINK ADDRESS"),
        ("lifetime_left", "LEFT"), ("encap", "ENCAP"), ("reverse_tunnel", "REVERSE")]),
    "pending": lambda rows: table(rows, [
        ("home_address", "HOME ADDRESS"), ("nai", "NAI"), ("care_of_address", "CARE-OF ADDRESS"),
        ("home_agent", "HOME AGENT"), ("interface", "LINK"), ("lifetime", "LIFETIME"),
        ("timeout_left", "TIMEOUT"), ("identification", "IDENTIFICATION")]),
    "registration": _registration,
    "counters": _counters,
    "sas": lambda rows: table(rows, [
        ("peer", "PEER"), ("spi", "SPI"), ("algorithm", "ALGORITHM"), ("replay", "REPLAY"),
        ("replay_window", "WINDOW"), ("roles", "ROLES"), ("key_fingerprint", "KEY FINGERPRINT")]),
    "reload": _reload,
}


def _socket_path(args: argparse.Namespace) -> str:
    """--socket, else control_socket from --config (or the default config when it exists), else the default."""
    if args.socket:
        return args.socket
    config = args.config or (DEFAULT_CONFIG if os.path.exists(DEFAULT_CONFIG) else None)
    if config:
        try:
            return load_config(config).control_socket
        except ConfigError:
            pass
    return DEFAULT_CONTROL_SOCKET


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mipctl", description="Query or reload a running mipd.")
    p.add_argument("--socket", "-s", help=f"control socket (default: from the config, else {DEFAULT_CONTROL_SOCKET})")
    p.add_argument("--config", "-c", help="read the control socket path from this mipd configuration")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("command", choices=COMMANDS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    path = _socket_path(args)
    try:
        response = request(path, args.command)
    except (OSError, ValueError) as e:
        why = getattr(e, "strerror", None) or str(e)
        if args.json:
            print(json.dumps({"ok": False, "error": f"cannot reach mipd at {path}: {why}"}))
        print(f"mipctl: cannot reach mipd at {path}: {why}", file=sys.stderr)
        return EXIT_UNREACHABLE
    if args.json:
        print(json.dumps(response, indent=2, sort_keys=True))
        return 0 if response.get("ok") else EXIT_REFUSED
    if not response.get("ok"):
        print(f"mipctl: {response.get('error')}", file=sys.stderr)
        return EXIT_REFUSED
    print(FORMATS[args.command](response["result"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
