"""`mipctl`: ask a running mipd for its state, or tell it to reload.

    mipctl [--socket PATH] [--json] status|bindings|visitors|pending|registration|counters|sas|reload
    mipctl drop-sas NODE|--all     forget SAs fetched from RADIUS (one node's, or every one)

Human-readable aligned tables by default; --json prints the daemon's answer as JSON (for Ansible).
`reload` waits for the outcome (the new configuration is parsed off the daemon's event loop, which
keeps answering meanwhile): up to --timeout seconds, 300 by default (10 for the other commands).
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
from mipd.runtime.control import COMMANDS, AnswerTimeout, request

EXIT_REFUSED = 1
EXIT_UNREACHABLE = 3
EXIT_TIMED_OUT = 4
TIMEOUT = 10.0  # seconds for an answer: the read-only commands answer at once
RELOAD_TIMEOUT = 300.0  # a reload parses and validates the keys file first (seconds per 100,000 SAs)
EXIT_STATUS = """exit status:
  0  done (reload: the new configuration is applied)
  1  the daemon refused (reload: invalid configuration or keys file, or roles changed; the running
     configuration stays), or the command is for a role this host does not have
  2  usage error
  3  the daemon cannot be reached (not running, no permission, no answer to connect)
  4  the request was delivered but not answered within --timeout; a reload goes on and its outcome
     is logged and shown by `mipctl status`"""


def _status(reply: dict[str, Any]) -> str:
    pairs: list[tuple[str, Any]] = [
        ("roles", reply["roles"]), ("version", reply["version"]), ("pid", reply["pid"]),
        ("uptime", f"{reply['uptime']:g} s"),
        ("config", reply["config"]), ("keys file", reply["keys_file"]), ("state db", reply["state_db"]),
        ("dataplane", reply["dataplane"]),
    ]
    pairs += [(k.replace("_", " "), v) for k, v in reply.get("counts", {}).items()]
    if "reload" in reply:
        pairs.append(("reload", _reload_state(reply["reload"])))
    for server in reply.get("radius", []):
        state = f"dead for {server['dead_for']:g} s" if server["dead_for"] else "in use"
        pairs.append((f"radius {server['server']}", f"{state}, {server['in_flight']} in flight"))
    for name, err in reply.get("missing_links", {}).items():
        pairs.append((f"link {name}", f"missing ({err})"))
    text = block(pairs)
    if "registration" in reply:
        text += "\n\n" + _registration(reply["registration"])
    return text


def _reload_state(reply: dict[str, Any]) -> str | None:
    if reply.get("in_progress"):
        return "in progress"
    last = reply.get("last")
    if last == "applied":
        return (f"applied ({reply.get('security_associations')} security associations{_sa_changes(reply)}, "
                f"{reply.get('seconds')} s)")
    if last == "refused":
        return f"refused: {reply.get('error')}"
    return None


def _sa_changes(reply: dict[str, Any]) -> str:
    """" (3 added, 1 removed, 2 changed)": what a reload changed in the keys file's SAs."""
    changes = reply.get("sa_changes")
    if not changes:
        return ""
    return f" ({changes['added']} added, {changes['removed']} removed, {changes['changed']} changed)"


def _registration(reply: dict[str, Any]) -> str:
    left = reply.get("lifetime_left")
    code = reply.get("last_reply_code")
    return block([
        ("location", reply.get("location")), ("registered", reply.get("registered")), ("pending", reply.get("pending")),
        ("care-of address", reply.get("care_of_address")), ("agent", reply.get("agent_address")),
        ("interface", reply.get("interface")), ("home agent", reply.get("home_agent")),
        ("lifetime left", None if left is None else f"{left:g} s"),
        ("last reply", None if code is None else f"{code} ({reply.get('last_reply_name')})"),
    ])


def _counters(reply: dict[str, Any]) -> str:
    rows = []
    for section, values in (*((f"{n}", v) for n, v in reply.get("roles", {}).items()),
                            ("runtime", reply.get("runtime", {})), ("dataplane", reply.get("dataplane", {}))):
        rows += [{"where": section, "counter": k, "value": v} for k, v in sorted(values.items())]
    return table(rows, [("where", "WHERE"), ("counter", "COUNTER"), ("value", "VALUE")])


def _reload(reply: dict[str, Any]) -> str:
    text = (f"reloaded: roles {', '.join(reply['roles'])}; {reply['security_associations']} security associations"
            f"{_sa_changes(reply)}; {reply['seconds']:g} s")
    if reply.get("restart_needed"):
        text += f"\nrestart needed for: {', '.join(reply['restart_needed'])}"
    for w in reply.get("warnings", []):
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
        ("replay_window", "WINDOW"), ("roles", "ROLES"), ("source", "SOURCE"), ("server", "SERVER"),
        ("expires_in", "EXPIRES IN"), ("key_fingerprint", "KEY FINGERPRINT")]),
    "drop-sas": lambda reply: f"dropped the SAs fetched for {reply['dropped']} node(s)",
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
    argparser = argparse.ArgumentParser(prog="mipctl", description="Query or reload a running mipd.",
                                        epilog=EXIT_STATUS,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    argparser.add_argument("--socket", "-s",
                           help=f"control socket (default: from the config, else {DEFAULT_CONTROL_SOCKET})")
    argparser.add_argument("--config", "-c", help="read the control socket path from this mipd configuration")
    argparser.add_argument("--json", action="store_true", help="print the answer as JSON")
    argparser.add_argument("--timeout", "-t", type=_seconds, metavar="SECONDS",
                   help=f"wait this long for the answer (default: {RELOAD_TIMEOUT:g} for reload, "
                        f"{TIMEOUT:g} otherwise)")
    argparser.add_argument("command", choices=COMMANDS)
    argparser.add_argument("node", nargs="?", help="drop-sas: the home address or NAI whose fetched SAs to forget")
    argparser.add_argument("--all", action="store_true", help="drop-sas: forget the fetched SAs of every node")
    return argparser


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1e6:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {text!r}")
    return value


def _fail(args: argparse.Namespace, text: str, status: int) -> int:
    if args.json:
        print(json.dumps({"ok": False, "error": text}))
    print(f"mipctl: {text}", file=sys.stderr)
    return status


def main(argv: list[str] | None = None) -> int:
    argparser = parser()
    args = argparser.parse_args(argv)
    if args.command == "drop-sas" and (args.node is None) == (not args.all):
        argparser.error("drop-sas needs a NODE or --all (one of them)")
    if args.command != "drop-sas" and (args.node is not None or args.all):
        argparser.error(f"{args.command} takes no NODE or --all")
    path = _socket_path(args)
    timeout = args.timeout or (RELOAD_TIMEOUT if args.command == "reload" else TIMEOUT)
    try:
        extra = {"node": args.node} if args.command == "drop-sas" else {}
        response = request(path, args.command, timeout, **extra)
    except AnswerTimeout:
        still = "; the reload goes on: its outcome is in the mipd log and `mipctl status`" \
            if args.command == "reload" else ""
        return _fail(args, f"mipd at {path} did not answer {args.command} within {timeout:g} s{still}",
                     EXIT_TIMED_OUT)
    except (OSError, ValueError) as e:
        why = getattr(e, "strerror", None) or str(e)
        return _fail(args, f"cannot reach mipd at {path}: {why}", EXIT_UNREACHABLE)
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
