"""`show ip mobile binding|visitor|globals|host|traffic|tunnel|secure` in IOS's layout.

Sources: binding, visitor, globals from the attached mipd (`mipctl --json bindings|visitors|status`
and the configuration it runs); host from the running configuration's `ip mobile host` lines (the
hosts configured) and mipd's bindings (their state); traffic from `mipctl --json counters`; tunnel
from mipd's bindings and visitors (the tunnels they use) with the packet counts of the kernel's
tunnel device when the kernel data plane holds it (`ip -s -d -j link`, in the router's namespace);
secure from the running configuration (mipd reports key fingerprints only; IOS prints the keys,
as in its configuration).

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

import asyncio
import ipaddress
import json
from collections.abc import Iterator
from typing import Any

from ios_sim.cli import Command, Context
from ios_sim.grammar import Arg, IPv4Address, Kw, Word, alt, match, opt, seq, tokenize
from ios_sim.mipd_attach import MipdUnavailable

INFINITE = 0xFFFF
HA_LIFETIME_DEFAULT = 36000  # IOS's `ip mobile home-agent lifetime` default
MAX_HOST_ENTRIES = 4096  # `show ip mobile host` entries printed (a range may hold 65536 hosts)
TUNNEL_OVERHEAD = {"ipip": 20, "gre": 24, "minimal": 12}  # outer header bytes (RFC 2003, 2784, 2004)
ENCAPS = {"ipip": "IP/IP", "gre": "GRE/IP", "minimal": "MIN/IP"}

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


def _visitor_entry(row: dict[str, Any], names: dict[str, str], lifetime: int, remaining: Any) -> list[str]:
    """A visitor's (or pending request's) lines before its tunnel: interface, addresses, lifetime and time left."""
    lladdr = (row.get("lladdr") or "").replace(":", "")
    mac = ".".join(lladdr[i:i + 4] for i in range(0, len(lladdr), 4)) or "-"
    return [
        f"{row['home_address']}:",
        f"    Interface {names.get(row['interface'], row['interface'])}, MAC addr {mac}",
        f"    IP src {row['home_address']}, dest {row['care_of_address']}, UDP src port 434",
        f"    HA addr {row['home_agent']}, Identification {identification(row.get('identification', ''))}",
        f"    Lifetime {hms(lifetime)} ({lifetime}) Remaining {hms(remaining)}",
    ]


def _by_home_address(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: int(ipaddress.IPv4Address(r["home_address"])))


def visitors_text(rows: list[dict[str, Any]], names: dict[str, str]) -> list[str]:
    """`show ip mobile visitor` from `mipctl --json visitors` (`names`: Linux link -> IOS interface)."""
    out = ["Mobile Visitor List:", f"Total {len(rows)}"]
    tunnels = _tunnels([r["home_agent"] for r in rows])
    for row in _by_home_address(rows):
        reverse = bool(row.get("reverse_tunnel"))
        out += [
            *_visitor_entry(row, names, row.get("lifetime", 0), row.get("lifetime_left")),
            f"    {tunnels[row['home_agent']]} src {row['care_of_address']} dest {row['home_agent']}"
            + (" reverse-allowed" if reverse else ""),
            *_routing_options(False, reverse),
        ]
    return out


def pending_text(rows: list[dict[str, Any]], names: dict[str, str]) -> list[str]:
    """`show ip mobile visitor pending` from `mipctl --json pending`: the requests relayed and not yet answered
    (RFC 5944 §3.7.1), the lifetime requested and the seconds left before the request is dropped; no tunnel yet."""
    out = ["Mobile Visitor Pending List:", f"Total {len(rows)}"]
    for row in _by_home_address(rows):
        out += [*_visitor_entry(row, names, row.get("lifetime", 0), int(row.get("timeout_left") or 0)),
                *_routing_options(False, bool(row.get("reverse_tunnel")))]
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


def globals_text(roles: list[str], settings: dict[str, Any], names: dict[str, str],
                 holders: dict[str, str] | None = None) -> list[str]:
    """`show ip mobile globals` from mipd's roles (`mipctl status`) and the configuration it runs;
    `holders`: address -> the IOS interface holding it (a care-of address is listed by its interface)."""
    holders = holders or {}
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
                out.append(f"        {holders.get(coa) or names.get(link['name'], link['name'])} ({coa}) - up")
        out += ["    Mobility Agent",
                f"        {len(interfaces)} interfaces providing service",
                f"        Encapsulations supported: {' and '.join(encaps)}",
                "        Tunnel fast switching enabled",
                "        Discovered tunnel MTU aged out after 1:00:00",
                ""]
    return out


def host_entries(hosts: list[dict[str, Any]], ha_lifetime: int) -> Iterator[tuple[str, str, str]]:
    """(address, allowed lifetime text, home link text) of each configured host address, in order.

    `hosts`: the arguments of `ip mobile host` lines (mobileip_commands): a range gives every address
    in it, an NAI its static addresses (an NAI served from a pool has no address until it registers:
    it is listed by name).
    """
    for host in hosts:
        lifetime = (f"{hms(host['lifetime'])} ({host['lifetime']})" if "lifetime" in host
                    else f"{hms(ha_lifetime)} ({ha_lifetime}/default)")
        link = (f"Home link on interface {host['interface']}" if "interface" in host
                else f"Home link on virtual network {ipaddress.IPv4Network((host['network'], host['mask']))}")
        if "nai" in host:
            for address in host.get("static") or [host["nai"]]:
                yield address, lifetime, link
            continue
        first = int(ipaddress.IPv4Address(host["lower"]))
        last = int(ipaddress.IPv4Address(host.get("upper") or host["lower"]))
        for number in range(first, last + 1):
            yield str(ipaddress.IPv4Address(number)), lifetime, link


def hosts_text(entries: Iterator[tuple[str, str, str]], bindings: list[dict[str, Any]]) -> list[str]:
    """`show ip mobile host`: per host, its allowed lifetime and whether mipd holds a binding for it."""
    bound = {row["home_address"] for row in bindings} | {row.get("nai") for row in bindings if row.get("nai")}
    out: list[str] = []
    for count, (address, lifetime, link) in enumerate(entries):
        if count == MAX_HOST_ENTRIES:
            out.append(f"... more hosts not shown (at most {MAX_HOST_ENTRIES}; show ip mobile host ADDRESS)")
            break
        status = "-Registered-" if address in bound else "-Unregistered-"
        out += [f"{address}:", f"    Allowed lifetime {lifetime}", f"    Roaming status {status}, {link}"]
    return out


def _codes(counters: dict[str, int], *codes: int) -> int:
    return sum(counters.get(f"denied.{code}", 0) for code in codes)


def _total(counters: dict[str, int], prefix: str, but: tuple[str, ...] = ()) -> int:
    return sum(n for name, n in counters.items() if name.startswith(prefix) and name not in but)


def traffic_text(counters: dict[str, Any]) -> list[str]:
    """`show ip mobile traffic` from `mipctl --json counters` (IOS labels, mipd's counts; README's table)."""
    roles = counters.get("roles") or {}
    every = [roles[name] for name in ("home_agent", "foreign_agent") if name in roles]
    out = ["IP Mobility traffic:", "Advertisements:",
           f"    Solicitations received {sum(c.get('rx.solicitation', 0) for c in every)}",
           f"    Advertisements sent {sum(c.get('tx.advertisement', 0) for c in every)}"]
    if "home_agent" in roles:
        ha = roles["home_agent"]
        accepted, deregistered = ha.get("accepted.registration", 0), ha.get("accepted.deregistration", 0)
        out += ["Home Agent Registrations:",
                f"    Requests received {ha.get('rx.request', 0)}",
                f"    Accepted {accepted + deregistered}, Deregistered {deregistered}",
                f"    Denied {_total(ha, 'denied.')}, Ignored {_total(ha, 'discard.')}",
                f"    Unspecified {_codes(ha, 128)}, Unknown HA {_codes(ha, 136)}",
                f"    Administrative prohibited {_codes(ha, 129)}, No resource {_codes(ha, 130)}",
                f"    Authentication failed MN {_codes(ha, 131)}, FA {_codes(ha, 132)}",
                f"    Bad identification {_codes(ha, 133)}, Bad request form {_codes(ha, 134)}",
                f"    Unavailable encap {_codes(ha, 139)}, reverse tunnel {_codes(ha, 137)}",
                f"    Reverse tunnel mandatory {_codes(ha, 138)}",
                f"    Too many bindings {_codes(ha, 135)}"]
    if "foreign_agent" in roles:
        fa = roles["foreign_agent"]
        replies_ok = fa.get("reply.0", 0) + fa.get("reply.1", 0)
        out += ["Foreign Agent Registrations:",
                f"    Request in {fa.get('rx.request', 0)}, Forwarded {fa.get('relayed.request', 0)}, "
                f"Denied {_total(fa, 'denied.')}, Ignored {_total(fa, 'discard.')}",
                f"    Unspecified {_codes(fa, 64)}, HA unreachable {_codes(fa, 80, 81, 82, 88)}",
                f"    Administrative prohibited {_codes(fa, 65)}, No resource {_codes(fa, 66)}",
                f"    Bad lifetime {_codes(fa, 69)}, Bad request form {_codes(fa, 70)}",
                f"    Unavailable encapsulation {_codes(fa, 72)}, Compression {_codes(fa, 73)}",
                f"    Unavailable reverse tunnel {_codes(fa, 74)}",
                f"    Reverse tunnel mandatory {_codes(fa, 75)}",
                f"    Replies in {fa.get('rx.reply', 0)}",
                f"    Accepted {replies_ok}, Denied {_total(fa, 'reply.', ('reply.0', 'reply.1'))}, "
                f"Forwarded {fa.get('relayed.reply', 0)}",
                f"    Bad reply form {_codes(fa, 71)}",
                f"    Authentication failed MN {_codes(fa, 67)}, HA {_codes(fa, 68)}",
                f"    Unknown challenge {_codes(fa, 104)}, Missing challenge {_codes(fa, 105)}, "
                f"Stale challenge {_codes(fa, 106)}"]
    return out


def tunnels_of(bindings: list[dict[str, Any]], visitors: list[dict[str, Any]],
               ha_address: str) -> list[dict[str, Any]]:
    """The tunnels mipd's bindings (HA: to the care-of address) and visitors (FA: to the home agent) use."""
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    rows = [(ha_address, b["care_of_address"], b.get("encap", "ipip"), bool(b.get("reverse")), "HA")
            for b in bindings]
    rows += [(v["care_of_address"], v["home_agent"], v.get("encap", "ipip"), bool(v.get("reverse_tunnel")), "FA")
             for v in visitors if not v.get("colocated")]
    for src, dest, encap, reverse, creator in rows:
        tunnel = found.setdefault((src, dest, encap), {"src": src, "dest": dest, "encap": encap, "users": 0,
                                                       "reverse": False, "creator": creator})
        tunnel["users"] += 1
        tunnel["reverse"] = tunnel["reverse"] or reverse
    return list(found.values())


def tunnels_text(tunnels: list[dict[str, Any]], devices: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """`show ip mobile tunnel`; `devices`: (local, remote) -> the kernel tunnel device's mtu and stats."""
    out = ["Mobile Tunnels:"]
    names = _tunnels([t["dest"] for t in tunnels])
    for tunnel in sorted(tunnels, key=lambda t: names[t["dest"]]):
        device = devices.get((tunnel["src"], tunnel["dest"]))
        mtu = device["mtu"] if device else 1500 - TUNNEL_OVERHEAD.get(tunnel["encap"], 20)
        out += [f"{names[tunnel['dest']]}:",
                f"    src {tunnel['src']}, dest {tunnel['dest']}",
                f"    encaps {ENCAPS.get(tunnel['encap'], tunnel['encap'])}, mode "
                f"{'reverse-allowed' if tunnel['reverse'] else 'forward-only'}, tunnel-users {tunnel['users']}",
                f"    IP MTU {mtu} bytes",
                f"    {tunnel['creator']} created, fast switching enabled, ICMP unreachable enabled"]
        if device:  # packet counts only where the kernel holds the tunnel (kernel data plane)
            rx, tx = device["rx"], device["tx"]
            out += [f"    {rx.get('packets', 0)} packets input, {rx.get('bytes', 0)} bytes, "
                    f"{rx.get('dropped', 0)} drops",
                    f"    {tx.get('packets', 0)} packets output, {tx.get('bytes', 0)} bytes"]
    return out


async def kernel_tunnels() -> dict[tuple[str, str], dict[str, Any]]:
    """The namespace's ipip/gre devices by (local, remote): mtu and stats64 (`ip -s -d -j link`)."""
    try:
        proc = await asyncio.create_subprocess_exec("ip", "-s", "-d", "-j", "link", "show",
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        out, _unused_err = await asyncio.wait_for(proc.communicate(), 10.0)
        return tunnel_devices(json.loads(out or b"[]"))
    except (OSError, ValueError, TimeoutError):
        return {}


def tunnel_devices(links: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """`ip -s -d -j link`'s ipip and gre devices by (local, remote): their mtu and stats64 rx/tx."""
    devices = {}
    for link in links:
        info = link.get("linkinfo") or {}
        data = info.get("info_data") or {}
        if info.get("info_kind") in ("ipip", "gre") and data.get("remote"):
            stats = link.get("stats64") or {}
            counts = {"mtu": link.get("mtu", 0), "rx": stats.get("rx") or {}, "tx": stats.get("tx") or {}}
            devices[(data.get("local"), data["remote"])] = counts
    return devices


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
    ctx.print(*bindings_text(rows, _ha_address(ctx)))


async def _visitor(ctx: Context) -> None:
    if ctx.args.get("pending"):
        ctx.print(*pending_text(await _query(ctx, "pending") or [], _link_names(ctx)))
    else:
        ctx.print(*visitors_text(await _query(ctx, "visitors") or [], _link_names(ctx)))


def _ha_address(ctx: Context) -> str:
    return (ctx.session.router.attachment.settings().get("home_agent") or {}).get("address", "0.0.0.0")


def _config_args(ctx: Context, prefix: tuple[str, ...]) -> list[dict[str, Any]]:
    """The arguments of the running configuration's lines under `prefix`, read back through the grammar."""
    config_grammar = ctx.session.router.modes["config"].grammar
    return [match(config_grammar, tokenize(item.text), item.text).args
            for _key, item in ctx.session.router.config.find((), prefix)]


async def _host(ctx: Context) -> None:
    ha_lines = _config_args(ctx, ("ip mobile home-agent",))
    ha_lifetime = next((a["lifetime"] for a in ha_lines if "lifetime" in a), HA_LIFETIME_DEFAULT)
    wanted = ctx.args.get("address")
    entries = (e for e in host_entries(_config_args(ctx, ("ip mobile host",)), ha_lifetime)
               if wanted is None or e[0] == wanted)
    ctx.print(*hosts_text(entries, await _query(ctx, "bindings") or []))


async def _traffic(ctx: Context) -> None:
    ctx.print(*traffic_text(await _query(ctx, "counters") or {}))


async def _tunnel(ctx: Context) -> None:
    found = tunnels_of(await _query(ctx, "bindings") or [], await _query(ctx, "visitors") or [], _ha_address(ctx))
    ctx.print(*tunnels_text(found, await kernel_tunnels() if found else {}))


def _secure(ctx: Context) -> None:
    """The `ip mobile secure` lines of the running configuration, read back through the grammar."""
    entries = []
    for sa in _config_args(ctx, ("ip mobile secure",)):
        if ctx.args.get("entity", sa["entity"]) == sa["entity"] and ctx.args.get("address", sa.get("lower")) in (
                sa.get("lower"), sa.get("nai")):
            entries.append(sa)
    ctx.print(*secure_text(entries))


async def _globals(ctx: Context) -> None:
    status = await _query(ctx, "status") or {}
    ctx.print(*globals_text(status.get("roles", []), ctx.session.router.attachment.settings(), _link_names(ctx),
                            _address_holders(ctx)))


def _address_holders(ctx: Context) -> dict[str, str]:
    """Interface address -> the IOS interface holding it, from the running configuration."""
    holders = {}
    for (_kind, name), item in ctx.session.router.config.find((), ("interface",)):
        for key, child in item.children.items():
            if key[0] == "ip address":
                holders[child.text.split()[2]] = name
    return holders


def commands() -> list[Command]:
    return [
        Command(seq("show", "ip", "mobile", "binding"), _binding, pipes=True),
        Command(seq("show", "ip", "mobile", "visitor", opt(Kw("pending"))), _visitor, pipes=True),
        Command(seq("show", "ip", "mobile", "globals"), _globals, pipes=True),
        Command(seq("show", "ip", "mobile", "host", opt(Arg("address", IPv4Address()))), _host, pipes=True),
        Command(seq("show", "ip", "mobile", "traffic"), _traffic, pipes=True),
        Command(seq("show", "ip", "mobile", "tunnel"), _tunnel, pipes=True),
        Command(seq("show", "ip", "mobile", "secure",
                    opt(alt(*(Kw(e, key="entity") for e in SECURE_ENTITIES)),
                        opt(Arg("address", Word())))), _secure, pipes=True),
    ]
