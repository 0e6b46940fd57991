"""Configuration commands other than Mobile IP: leaving modes, hostname, interfaces, access lists.

IOS behaviours followed:
- `end` and Ctrl-Z return to privileged EXEC from any configuration mode, `exit` goes one level
  up, `do COMMAND` runs an EXEC command from configuration mode;
- `hostname` must start with a letter and hold letters, digits and hyphens;
- `ip address A M` refuses a non-contiguous mask (`Bad mask 0xFF00FF00 for address A`), an
  interface without an address prints `no ip address`, `shutdown` is printed after the ip lines;
- standard access lists (`access-list <1-99|1300-1999> permit|deny any|host A|A [W] [log]`,
  `ip access-list standard NAME`): host bits outside the wildcard are cleared, a single host is
  printed as its address, `deny` is padded to the width of `permit` (`deny   any`), entries keep
  the order they were added in (named list entries get sequence numbers 10, 20, ...).
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from typing import Any

from ios_sim.cli import Command, CommandError, Context, config_line, flag_line
from ios_sim.grammar import Arg, Element, IPv4Address, Kw, Line, Number, Word, alt, opt, seq
from ios_sim.interfaces import VIRTUAL, interface_arg, interface_sort

# Ranks of global lines: the order `show running-config` prints them in.
RANK_VERSION, RANK_HOSTNAME, RANK_INTERFACE = 10, 20, 30
RANK_ROUTER_MOBILE, RANK_MOBILE_ROUTER = 40, 45
RANK_IP_ACCESS_LIST, RANK_ACCESS_LIST = 60, 70
# Ranks inside an interface block.
IF_DESCRIPTION, IF_ADDRESS, IF_SECONDARY, IF_SHUTDOWN = 10, 20, 21, 90

_sequence = itertools.count()  # insertion order of access-list entries


# ------------------------------------------------------------------ leaving modes


async def _end(ctx: Context) -> None:
    await ctx.session.leave_config()


async def _exit(ctx: Context) -> None:
    await ctx.session.exit_mode()


async def _do(ctx: Context) -> None:
    command = ctx.args["command"]
    await ctx.session.execute(command, mode="exec", indent=len(ctx.line.rstrip()) - len(command))


def mode_commands() -> list[Command]:
    """`end`, `exit`, `do`: in every configuration mode."""
    return [Command(seq("end"), _end), Command(seq("exit"), _exit),
            Command(seq("do", Arg("command", Line())), _do)]


# ------------------------------------------------------------------ global


def _hostname(ctx: Context) -> None:
    name = ctx.args["name"]
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,62}", name):
        raise CommandError("% Hostname contains one or more illegal characters.")
    ctx.config.set((), ("hostname",), f"hostname {name}", RANK_HOSTNAME, group="hostname")


def _interface(ctx: Context) -> None:
    """`interface X`: the interface block (created for Loopback/Tunnel), then config-if mode."""
    name = ctx.args["interface"]
    key = ("interface", name)
    if ctx.negate:
        if not name.startswith(VIRTUAL):
            raise CommandError("% Removal of physical interfaces is not permitted")
        ctx.config.remove((), key)
        return
    if ctx.config.node((key,)) is None:
        item = ctx.config.set((), key, f"interface {name}", RANK_INTERFACE, group="interface", block=True,
                              sort=interface_sort(name))
        item.absent[("ip address",)] = ("no ip address", IF_ADDRESS)
    ctx.session.enter("config-if", (key,))


def _ip_access_list(ctx: Context) -> None:
    key = ("ip access-list", "standard", ctx.args["name"])
    if ctx.negate:
        ctx.config.remove((), key)
        return
    if ctx.config.node((key,)) is None:
        ctx.config.set((), key, f"ip access-list standard {ctx.args['name']}", RANK_IP_ACCESS_LIST,
                       group="ip access-list", block=True)
    ctx.session.enter("config-std-nacl", (key,))


def _acl_entry_text(args: dict[str, Any]) -> str:
    """`permit 10.0.0.0 0.0.0.255` as IOS prints it (host bits cleared, `deny` padded)."""
    action = f"{args['action']:<6}"
    if "any" in args:
        target = "any"
    else:
        address = args["address"]
        wildcard = args.get("wildcard", "0.0.0.0")
        network = int(ipaddress.IPv4Address(address)) & ~int(ipaddress.IPv4Address(wildcard)) & 0xFFFFFFFF
        target = str(ipaddress.IPv4Address(network))
        if wildcard != "0.0.0.0":
            target += f" {wildcard}"
    return f"{action} {target}" + (" log" if "log" in args else "")


_ACL_TARGET = alt("any", seq("host", Arg("address", IPv4Address())),
                  seq(Arg("address", IPv4Address()), opt(Arg("wildcard", IPv4Address()))))


def _entry_syntax() -> Element:
    return seq(alt(Kw("permit", key="action"), Kw("deny", key="action")), _ACL_TARGET, opt("log"))


def _access_list(ctx: Context) -> None:
    number = ctx.args["number"]
    if ctx.negate:
        ctx.config.remove((), ("access-list", number))
        return
    text = _acl_entry_text(ctx.args)
    key = ("access-list", number, text)
    if ctx.config.node((key,)) is None:
        ctx.config.set((), key, f"access-list {number} {text}", RANK_ACCESS_LIST, group="access-list",
                       sort=(number, next(_sequence)))


def global_commands(interfaces: dict[str, str | None]) -> list[Command]:
    acl_number = alt(Arg("number", Number(1, 99)), Arg("number", Number(1300, 1999)))
    return [
        Command(seq("hostname", Arg("name", Word())), _hostname),
        Command(seq("version", Arg("version", Word())),
                config_line(lambda a: ("version",), lambda a: f"version {a['version']}", RANK_VERSION,
                            group="version"), no=seq("version", opt(Arg("version", Word())))),
        Command(seq("interface", interface_arg(interfaces)), _interface,
                no=seq("interface", interface_arg(interfaces))),
        Command(seq("access-list", acl_number, _entry_syntax()), _access_list,
                no=seq("access-list", acl_number, opt(_entry_syntax()))),
        Command(seq("ip", "access-list", "standard", Arg("name", Word())), _ip_access_list,
                no=seq("ip", "access-list", "standard", Arg("name", Word()))),
    ]


# ------------------------------------------------------------------ interface


def _ip_address(ctx: Context) -> None:
    if ctx.negate:
        ctx.config.remove(ctx.path, ("ip address",))
        return
    address, mask = ctx.args["address"], ctx.args["mask"]
    mask_value = int(ipaddress.IPv4Address(mask))
    if mask_value and (mask_value | (mask_value - 1)) & 0xFFFFFFFF != 0xFFFFFFFF:
        raise CommandError(f"Bad mask 0x{mask_value:X} for address {address}")
    if "secondary" in ctx.args:
        ctx.config.set(ctx.path, ("ip address", "secondary", address), f"ip address {address} {mask} secondary",
                       IF_SECONDARY)
    else:
        ctx.config.set(ctx.path, ("ip address",), f"ip address {address} {mask}", IF_ADDRESS)


def interface_commands() -> list[Command]:
    return [
        Command(seq("description", Arg("text", Line())),
                config_line(lambda a: ("description",), lambda a: f"description {a['text']}", IF_DESCRIPTION),
                no=seq("description", opt(Arg("text", Line())))),
        Command(seq("ip", "address", Arg("address", IPv4Address()), Arg("mask", IPv4Address()), opt("secondary")),
                _ip_address, no=seq("ip", "address", opt(Arg("address", IPv4Address()), Arg("mask", IPv4Address()),
                                                         opt("secondary")))),
        Command(seq("shutdown"), flag_line("shutdown", IF_SHUTDOWN), no=seq("shutdown")),
    ]


# ------------------------------------------------------------------ named standard access list


def _nacl_entry(ctx: Context) -> None:
    if ctx.negate and "sequence" in ctx.args and "action" not in ctx.args:
        for key, item in ctx.config.find(ctx.path, ("entry",)):
            if item.sort[0] == ctx.args["sequence"]:
                ctx.config.remove(ctx.path, key)
        return
    text = _acl_entry_text(ctx.args)
    if ctx.negate:
        ctx.config.remove(ctx.path, ("entry", text))
        return
    if ctx.config.node(ctx.path + (("entry", text),)) is not None:
        return
    existing = [item.sort[0] for _key, item in ctx.config.find(ctx.path, ("entry",))]
    sequence = ctx.args.get("sequence", (max(existing) if existing else 0) + 10)
    ctx.config.set(ctx.path, ("entry", text), text, 10, sort=(sequence,))


def nacl_commands() -> list[Command]:
    sequence = opt(Arg("sequence", Number(1, 2147483647)))
    return [
        Command(seq(sequence, _entry_syntax()), _nacl_entry,
                no=alt(seq(_entry_syntax()), Arg("sequence", Number(1, 2147483647)))),
        Command(seq("remark", Arg("text", Line())),
                config_line(lambda a: ("remark", a["text"]), lambda a: f"remark {a['text']}", 5),
                no=seq("remark", Arg("text", Line()))),
    ]
