"""`show ip mobile binding|visitor|globals|secure` in IOS's layout: the tables from the attached
mipd (`mipctl --json`), the security associations from the running configuration (mipd shows
key fingerprints only; IOS prints the keys, as in its configuration).

Layout (IOS 12.2-12.3, as the command references print it): an entry per home address ending
in `:`, indented detail lines, `HH:MM:SS (seconds)` lifetimes, registration flags `SBDMGVT`
(upper case set, lower case clear; mipd's bindings do not record B, D and V: shown clear),
the 64-bit Identification as two hex words joined by `.`,
a `TunnelN src A dest B` line and `Routing Options - (T)Reverse-tunnel` when options are set.
Interfaces are named as the router names them (its `--interface IOS=LINK` map), not by the
Linux link names mipd uses.

Without an attached mipd (no translator configured and no --mipd-config, or mipd not running)
the lists are empty and globals shows no agent: nothing runs, so nothing is bound.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ios_sim.cli import Command, Context
from ios_sim.grammar import Arg, Kw, Word, alt, match, opt, seq, tokenize
from ios_sim.mipd_attach import MipdUnavailable

INFINITE = 0xFFFF

SECURE_ENTITIES = ("host", "visitor", "home-agent", "foreign-agent", "proxy-host")


def hms(seconds: int | None) -> str:
    """IOS's lifetime clock: `02:46:40`; `INFINITE` for an infinite lifetime."""
    if seconds is None or seconds >= INFINITE:
        return "INFINITE"
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def identification(value: str) -> str:
    """16 hex digits (mipctl) -> `C4F1A2B3.0A1B2C3D` (IOS: high and low words)."""
    digits = f"{int(value, 16):016X}" if value else "0" * 16
    return f"{digits[:8]}.{digits[8:]}"


def flags(simultaneous: bool, decapsulating: bool, encap: str, reverse: bool) -> str:
    """`sbdmgvT`: S simultaneous, B broadcast, D decapsulation by the node, M minimal, G GRE, V VJ, T reverse."""
    bits = [("s", simultaneous), ("b", False), ("d", decapsulating), ("m", encap == "minimal"),
            ("g", encap == "gre"), ("v", False), ("t", reverse)]
    return "".join(letter.upper() if on else letter for letter, on in bits)


def _routing_options(simultaneous: bool, reverse: bool) -> list[str]:
    options = [text for text, on in (("(S)Simultaneous-bindings", simultaneous), ("(T)Reverse-tunnel", reverse)) if on]
    return [f"    Routing Options - {' '.join(options)}"] if options else []


def _tunnels(peers: list[str]) -> dict[str, str]:
    """Tunnel interface per peer (Tunnel0, Tunnel1, ... in address order, as IOS numbers them on creation)."""
    ordered = sorted(set(peers), key=lambda a: int(ipaddress.IPv4Address(a)))
    return {peer: f"Tunnel{index}" for index, peer in enumerate(ordered)}


def bindings_text(rows: list[dict[str, Any]], ha_address: str) -> list[str]:
    """`show ip mobile binding` from `mipctl --json bindings`."""
    out = ["Mobility Binding List:", f"Total {len(rows)}"]
    tunnels = _tunnels([r["care_of_address"] for r in rows])
    for row in sorted(rows, key=lambda r: int(ipaddress.IPv4Address(r["home_address"]))):
        reverse, simultaneous = bool(row.get("reverse")), bool(row.get("simultaneous"))
        out += [
            f"{row['home_address']}:",
            f"    Care-of Addr {row['care_of_address']}, Src Addr {row.get('source')},",
            f"    Lifetime granted {hms(row['lifetime'])} ({row['lifetime']}), "
            f"remaining {hms(row.get('lifetime_left'))}",
            f"    Flags {flags(simultaneous, False, row.get('encap', 'ipip'), reverse)}, "
            f"Identification {identification(row.get('identification', ''))},",
            f"    {tunnels[row['care_of_address']]} src {ha_address} dest {row['care_of_address']}"
            + (" reverse-allowed" if reverse else ""),
            *_routing_options(simultaneous, reverse),
        ]
    return out


def visitors_text(rows: list[dict[str, Any]], names: dict[str, str]) -> list[str]:
    """`show ip mobile visitor` from `mipctl --json visitors` (`names`: Linux link -> IOS interface)."""
    out = ["Mobile Visitor List:", f"Total {len(rows)}"]
    tunnels = _tunnels([r["home_agent"] for r in rows])
    for row in sorted(rows, key=lambda r: int(ipaddress.IPv4Address(r["home_address"]))):
        reverse = bool(row.get("reverse_tunnel"))
        lladdr = (row.get("lladdr") or "").replace(":", "")
        mac = ".".join(lladdr[i:i + 4] for i in range(0, len(lladdr), 4)) or "-"
        lifetime = row.get("lifetime", 0)
        out += [
            f"{row['home_address']}:",
            f"    Interface {names.get(row['interface'], row['interface'])}, MAC addr {mac}",
            f"    IP src {row['home_address']}, dest {row['care_of_address']}, UDP src port 434",
            f"    HA addr {row['home_agent']}, Identification {identification(row.get('identification', ''))}",
            f"    Lifetime {hms(lifetime)} ({lifetime}) Remaining {hms(row.get('lifetime_left'))}",
            f"    {tunnels[row['home_agent']]} src {row['care_of_address']} dest {row['home_agent']}"
            + (" reverse-allowed" if reverse else ""),
            *_routing_options(False, reverse),
        ]
    return out


def secure_text(entries: list[dict[str, Any]]) -> list[str]:
    """`show ip mobile secure` from parsed `ip mobile secure` lines (mobileip_commands' argument names)."""
    out = ["Security Associations (algorithm,mode,replay protection,key):"]
    for sa in entries:
        peer = sa["nai"] if "nai" in sa else sa["lower"] + (f" - {sa['upper']}" if sa.get("upper") else "")
        spi = f"SPI In {sa['spi']:X}, Out {sa['spi_out']:X}" if "spi_out" in sa else f"SPI {sa['spi']:X}"
        algorithm = "HMAC-MD5" if sa.get("algorithm") == "hmac-md5" else "MD5, Prefix-suffix"
        key = sa["key"].lower() if sa["key_type"] == "hex" else sa["key"].encode().hex()
        out += [peer, f"    {spi},  {algorithm}, Timestamp +/- {sa.get('replay', 7)},", f"    Key {key}"]
    return out


def globals_text(roles: list[str], settings: dict[str, Any], names: dict[str, str]) -> list[str]:
    """`show ip mobile globals` from mipd's roles (`mipctl status`) and the configuration it runs."""
    out = ["IP Mobility global information:", ""]
    if "home_agent" in roles:
        ha = settings.get("home_agent") or {}
        lifetime = int(ha.get("max_lifetime", 1800))
        out += ["Home Agent",
                f"    Registration lifetime: {hms(lifetime)} ({lifetime} secs)",
                "    Broadcast disabled",
                "    Replay protection time: 7 secs",
                f"    Reverse tunnel {'enabled' if ha.get('reverse_tunnel', True) else 'disabled'}",
                "    ICMP Unreachable enabled"]
        networks = list(ha.get("virtual_networks") or [])
        if networks:
            out += ["    Virtual networks", *(f"        {n}" for n in networks)]
        out.append("")
    if "foreign_agent" in roles:
        fa = settings.get("foreign_agent") or {}
        interfaces = fa.get("interfaces") or []
        encaps = [e.upper() if e != "minimal" else "Minimal" for e in fa.get("encapsulations", ["ipip", "gre"])]
        out += ["Foreign Agent",
                f"    Pending registrations expire after {int(float(fa.get('pending_timeout', 7)))} secs",
                "    Care-of addresses advertised"]
        for link in interfaces:
            for coa in link.get("care_of_addresses") or [link.get("address")]:
                out.append(f"        {names.get(link['name'], link['name'])} ({coa}) - up")
        out += ["    Mobility Agent",
                f"        {len(interfaces)} interfaces providing service",
                f"        Encapsulations supported: {' and '.join(encaps)}",
                "        Tunnel fast switching enabled",
                "        Discovered tunnel MTU aged out after 1:00:00",
                ""]
    return out


# ------------------------------------------------------------------ commands


def _link_names(ctx: Context) -> dict[str, str]:
    """Linux link -> IOS interface name, from the router's `--interface IOS=LINK` map."""
    return {link: name for name, link in ctx.session.router.options.interfaces.items() if link}


async def _query(ctx: Context, command: str) -> Any:
    try:
        return await ctx.session.router.attachment.query(command)
    except MipdUnavailable:
        return None


async def _binding(ctx: Context) -> None:
    rows = await _query(ctx, "bindings") or []
    ha = (ctx.session.router.attachment.settings().get("home_agent") or {}).get("address", "0.0.0.0")
    ctx.print(*bindings_text(rows, ha))


async def _visitor(ctx: Context) -> None:
    ctx.print(*visitors_text(await _query(ctx, "visitors") or [], _link_names(ctx)))


def _secure(ctx: Context) -> None:
    """The `ip mobile secure` lines of the running configuration, read back through the grammar."""
    session = ctx.session
    config_grammar = session.router.modes["config"].grammar
    entries = []
    for _key, item in session.router.config.find((), ("ip mobile secure",)):
        sa = match(config_grammar, tokenize(item.text), item.text).args
        if ctx.args.get("entity", sa["entity"]) == sa["entity"] and ctx.args.get("address", sa.get("lower")) in (
                sa.get("lower"), sa.get("nai")):
            entries.append(sa)
    ctx.print(*secure_text(entries))


async def _globals(ctx: Context) -> None:
    status = await _query(ctx, "status") or {}
    ctx.print(*globals_text(status.get("roles", []), ctx.session.router.attachment.settings(), _link_names(ctx)))


def commands() -> list[Command]:
    return [
        Command(seq("show", "ip", "mobile", "binding"), _binding, pipes=True),
        Command(seq("show", "ip", "mobile", "visitor"), _visitor, pipes=True),
        Command(seq("show", "ip", "mobile", "globals"), _globals, pipes=True),
        Command(seq("show", "ip", "mobile", "secure",
                    opt(alt(*(Kw(e, key="entity") for e in SECURE_ENTITIES)),
                        opt(Arg("address", Word())))), _secure, pipes=True),
    ]
