"""`python -m ios_sim`: run one IOS-like router (see README.md in this directory)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import sys
from pathlib import Path

import yaml

from ios_sim.mipd_attach import DEFAULT_TRANSLATOR, load_settings, load_translator
from ios_sim.router import DEFAULT_INTERFACES, Router, RouterOptions
from ios_sim.server import HOST_KEY_NAME, serve
from ios_sim.users import UsersFileError, load_users


def _listen(value: str) -> tuple[str, int]:
    host, _colon, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected ADDRESS:PORT, not {value!r}")
    return host.strip("[]"), int(port)


def _interface(value: str) -> tuple[str, str | None]:
    from ios_sim.interfaces import canonical

    name, _equals, link = value.partition("=")
    full = canonical(name)
    if full is None:
        raise argparse.ArgumentTypeError(f"not an interface name: {name!r} (e.g. Ethernet0/0)")
    return full, link or None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ios_sim", description="An IOS-like router over SSH.")
    p.add_argument("--hostname", required=True, help="hostname before any startup-config (IOS: Router)")
    p.add_argument("--listen", type=_listen, default=("0.0.0.0", 22), help="ADDRESS:PORT (default 0.0.0.0:22; "
                   "port 0: any free port, written to STATE_DIR/listen)")
    p.add_argument("--state-dir", type=Path, required=True, help="startup-config, logs, PID file, host key, mipd files")
    p.add_argument("--users-file", type=Path, required=True, help="YAML users and enable secret (mode 0600)")
    p.add_argument("--interface", type=_interface, action="append", metavar="NAME[=LINK]",
                   help=f"a physical interface, optionally the Linux link it stands for (repeat; default "
                        f"{' '.join(DEFAULT_INTERFACES)})")
    p.add_argument("--ios-version", default="12.4(25d)", help="release shown by show version (default 12.4(25d))")
    p.add_argument("--no-pipe-section", action="store_true", help="no `| section` (IOS 12.2 behaviour)")
    p.add_argument("--enable-tries", type=int, default=3, help="Password: prompts before %% Bad secrets (default 3)")
    p.add_argument("--newline", choices=("lf", "crlf"), default="lf", help="end of output lines (default lf)")
    p.add_argument("--refuse", type=re.compile, action="append", default=[], metavar="REGEX",
                   help="configuration lines matching REGEX (whole line) are invalid input, as on a release "
                        "without them (repeat)")
    p.add_argument("--ignore", type=re.compile, action="append", default=[], metavar="REGEX",
                   help="configuration lines matching REGEX are accepted and not kept, as on a release that "
                        "ignores them (repeat)")
    p.add_argument("--translator", metavar="MODULE:FUNCTION",
                   help=f"running config -> mipd configuration (default {DEFAULT_TRANSLATOR}: the collection's "
                        "IOS parser and Linux renderer; none with --mipd-config; `none`: keep mipd as it is)")
    p.add_argument("--mipd-settings", type=Path, metavar="YAML",
                   help="daemon settings (dataplane, log, state_sync) for the translated mipd configuration")
    p.add_argument("--mipd-config", type=Path, help="start a mipd with this configuration at boot")
    p.add_argument("--host-key", type=Path, help=f"SSH host key (default STATE_DIR/{HOST_KEY_NAME}, made if absent)")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.umask(0o077)  # startup-config, logs and mipd's keys file hold secrets
    args.state_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(filename=args.state_dir / "router.log", level=args.log_level.upper(),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    try:
        users = load_users(args.users_file)
        spec = args.translator or ("none" if args.mipd_config else DEFAULT_TRANSLATOR)
        translator = load_translator(spec) if spec != "none" else None
        mipd_settings = load_settings(args.mipd_settings) if args.mipd_settings else {}
    except (UsersFileError, OSError, ValueError, ImportError, AttributeError, yaml.YAMLError) as error:
        print(f"ios_sim: {error}", file=sys.stderr)
        return 2
    options = RouterOptions(
        hostname=args.hostname, state_dir=args.state_dir,
        interfaces=dict(args.interface) if args.interface else dict.fromkeys(DEFAULT_INTERFACES),
        enable_secret=users.enable_secret, enable_tries=args.enable_tries, pipe_section=not args.no_pipe_section,
        ios_version=args.ios_version, newline="\r\n" if args.newline == "crlf" else "\n", translator=translator,
        mipd_config=args.mipd_config, mipd_settings=mipd_settings, refuse=tuple(args.refuse),
        ignore=tuple(args.ignore))
    host_key = args.host_key or args.state_dir / HOST_KEY_NAME
    asyncio.run(serve(Router(options), users, args.listen, host_key))
    return 0


if __name__ == "__main__":
    sys.exit(main())
