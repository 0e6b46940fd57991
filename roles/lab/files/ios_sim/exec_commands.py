"""EXEC-mode commands (user `>` and privileged `#`), with the texts IOS prints.

What netmiko's cisco_ios driver and Ansible's cisco.ios terminal/cliconf plugins send:
`terminal length 0`, `terminal width 511|512|0`, `enable` (`Password: ` with echo off; three
tries, then `% Bad secrets`), `show privilege` (`Current privilege level is 15`), `show version`
(`Version X`, `Cisco ... (revision ...)`, `... uptime is`, `System image file is "..."`),
`configure terminal`, `write memory` / `copy running-config startup-config` (the
`Destination filename [startup-config]?` question, `Building configuration...`, `[OK]`).
User EXEC offers only the harmless subset, so `show running-config` at `host>` is invalid input,
as on IOS.
"""

from __future__ import annotations

import hmac
import time

from ios_sim import mobile_router_show, mobileip_show
from ios_sim.cli import Command, CommandError, Context
from ios_sim.grammar import Arg, Kw, Number, alt, opt, seq
from ios_sim.interfaces import interface_arg
from ios_sim.session import SessionClosed

NVRAM_SIZE = 262136  # bytes, as `show startup-config` reports "Using N out of 262136 bytes"
CONFIG_BANNER = "Enter configuration commands, one per line.  End with CNTL/Z."

BAD_SECRETS = ("% Bad secrets", "")  # IOS after the last wrong enable secret, then an empty line


# ------------------------------------------------------------------ session and privilege


async def _enable(ctx: Context) -> None:
    """`enable`: privileged EXEC after the enable secret (IOS reads it with echo off)."""
    session = ctx.session
    if session.privilege >= 15:
        return
    secret = session.router.options.enable_secret
    if secret is None:
        raise CommandError("% No password set")
    for _attempt in range(session.router.options.enable_tries):
        answer = await session.ask("Password: ", echo=False)
        if answer is None:
            break
        if hmac.compare_digest(answer.encode(), secret.encode()):
            session.set_privilege(15)
            return
    raise CommandError(*BAD_SECRETS)


def _disable(ctx: Context) -> None:
    ctx.session.set_privilege(1)


def _logout(ctx: Context) -> None:
    raise SessionClosed


def _terminal(ctx: Context) -> None:
    if "length" in ctx.args:
        ctx.session.length = ctx.args["lines"]
    if "width" in ctx.args:
        ctx.session.width = ctx.args["columns"]


# ------------------------------------------------------------------ show


def _uptime(seconds: float) -> str:
    """IOS's `uptime is 1 week, 2 days, 3 hours, 4 minutes` (zero units left out, minutes always)."""
    minutes = int(seconds // 60)
    parts = []
    for name, size in (("week", 10080), ("day", 1440), ("hour", 60)):
        count, minutes = divmod(minutes, size)
        if count:
            parts.append(f"{count} {name}{'s' if count != 1 else ''}")
    parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return ", ".join(parts)


def _show_version(ctx: Context) -> None:
    router = ctx.session.router
    version = router.options.ios_version
    image = f"3600 Software (C3640-JK9O3S-M), Version {version}, RELEASE SOFTWARE (fc1)"
    ctx.print(
        f"Cisco IOS Software, {image}",
        "Technical Support: http://www.cisco.com/techsupport",
        "Copyright (c) 1986-2010 by Cisco Systems, Inc.",
        "Compiled Wed 18-Aug-10 07:55 by prod_rel_team",
        "",
        "ROM: ROMMON Emulation Microcode",
        f"ROM: {image}",
        "",
        f"{router.hostname} uptime is {_uptime(time.monotonic() - router.started)}",
        "System returned to ROM by unknown reload cause - suspect boot_data[BOOT_COUNT] 0x0, BOOT_COUNT 0",
        'System image file is "tftp://255.255.255.255/unknown"',
        "",
        "This is ios_sim, an IOS-like router simulator for Mobile IP tests (not Cisco software).",
        "Cisco 3640 (R4700) processor (revision 0xFF) with 124928K/6144K bytes of memory.",
        "Processor board ID FF1045C5",
        "R4700 CPU at 100MHz, Implementation 33, Rev 1.2",
        f"{len(router.options.interfaces)} Ethernet interfaces",
        "DRAM configuration is 64 bits wide with parity enabled.",
        "125K bytes of NVRAM.",
        "",
        "Configuration register is 0x2102",
        "",
    )


def _show_privilege(ctx: Context) -> None:
    ctx.print(f"Current privilege level is {ctx.session.privilege}")


def _show_running(ctx: Context) -> None:
    """`show running-config [interface X]` with IOS's header (the byte count of the text that follows)."""
    config = ctx.session.router.config
    if "interface" in ctx.args:
        item = config.node((("interface", ctx.args["interface"]),))
        if item is None:
            raise CommandError("% Invalid input detected at '^' marker.")
        body = [item.text, *(" " + line for line in _block_lines(ctx, ctx.args["interface"])), "end"]
    else:
        body = config.lines()
    size = sum(len(line) + 1 for line in body)
    ctx.print("Building configuration...", "", f"Current configuration : {size} bytes", *body, "")


def _block_lines(ctx: Context, name: str) -> list[str]:
    lines = ctx.session.router.config.lines()
    start = lines.index(f"interface {name}")
    out = []
    for line in lines[start + 1:]:
        if not line.startswith(" "):
            break
        out.append(line[1:])
    return out


def _show_startup(ctx: Context) -> None:
    text = ctx.session.router.startup_text()
    if text is None:
        ctx.print("startup-config is not present")
        return
    ctx.print(f"Using {len(text.encode())} out of {NVRAM_SIZE} bytes", *text.splitlines(), "")


def _show_ip_interface_brief(ctx: Context) -> None:
    """`show ip interface brief`: address and admin state from the running configuration."""
    config = ctx.session.router.config
    ctx.print(f"{'Interface':<27}{'IP-Address':<16}OK? Method Status                Protocol")
    for key, item in config.find((), ("interface",)):
        address_item = item.children.get(("ip address",))
        address = address_item.text.split()[2] if address_item else "unassigned"
        method = "manual" if address_item else "unset "
        down = ("shutdown",) in item.children
        status = "administratively down" if down else "up"
        ctx.print(f"{key[1]:<27}{address:<16}YES {method} {status:<22}{'down' if down else 'up'}")


# ------------------------------------------------------------------ configure, write, copy, erase


async def _configure(ctx: Context) -> None:
    """`configure terminal`; `configure` alone asks (terminal, memory) as IOS does."""
    if "terminal" not in ctx.args:
        answer = await ctx.session.ask("Configuring from terminal, memory, or network [terminal]? ")
        if answer is None:
            return
        choice = answer.strip().lower() or "terminal"
        if "memory".startswith(choice):
            await _merge_startup(ctx)
            return
        if not "terminal".startswith(choice):
            raise CommandError('?Must be "terminal", "memory" or "network"')
    ctx.print(CONFIG_BANNER)
    ctx.session.enter("config")


def _write_memory(ctx: Context) -> None:
    ctx.session.router.save()
    ctx.print("Building configuration...", "[OK]")


async def _write(ctx: Context) -> None:
    if "erase" in ctx.args:
        await _erase(ctx)
    elif "terminal" in ctx.args:
        _show_running(ctx)
    else:
        _write_memory(ctx)


async def _erase(ctx: Context) -> None:
    """`erase startup-config` / `write erase`: confirmed with Enter (`[confirm]`), as IOS asks."""
    answer = await ctx.session.ask(
        "Erasing the nvram filesystem will remove all configuration files! Continue? [confirm]")
    if answer is None or answer.strip().lower() not in ("", "y", "yes"):
        return
    ctx.session.router.erase_startup()
    ctx.print("[OK]", "Erase of nvram: complete")


async def _copy(ctx: Context) -> None:
    """`copy running-config startup-config` (asks `Destination filename [startup-config]?`) and back."""
    source, destination = ctx.args["source"], ctx.args["destination"]
    if source == destination:
        raise CommandError("%Error: source and destination are the same")
    answer = await ctx.session.ask(f"Destination filename [{destination}]? ")
    if answer is None:
        return
    if answer.strip() not in ("", destination):
        raise CommandError(f"%Error opening nvram:{answer.strip()} (Permission denied)")
    if destination == "startup-config":
        _write_memory(ctx)
    else:
        await _merge_startup(ctx)


async def _merge_startup(ctx: Context) -> None:
    router = ctx.session.router
    text = router.startup_text()
    if text is None:
        raise CommandError("%Error opening nvram:/startup-config (No such file or directory)")
    await router.merge(ctx.session, text)
    ctx.print(f"{len(text.encode())} bytes copied in 0.012 secs")


# ------------------------------------------------------------------ tables

_FILE = alt("running-config", "startup-config")


def _terminal_syntax() -> list[Command]:
    return [Command(seq("terminal", alt(seq("length", Arg("lines", Number(0, 512))),
                                        seq("width", Arg("columns", Number(0, 512))),
                                        "monitor", seq("no", "monitor"))), _terminal)]


def user_commands() -> list[Command]:
    """User EXEC (`host>`)."""
    return [
        Command(seq("enable", opt(Arg("level", Number(15, 15)))), _enable),
        Command(alt("exit", "logout", "quit"), _logout),
        Command(seq("disable"), _disable),
        *_terminal_syntax(),
        Command(seq("show", "version"), _show_version, pipes=True),
        Command(seq("show", "privilege"), _show_privilege, pipes=True),
    ]


def exec_commands(interfaces: dict[str, str | None]) -> list[Command]:
    """Privileged EXEC (`host#`)."""
    return [
        *user_commands(),
        Command(seq("show", "running-config", opt("interface", interface_arg(interfaces))), _show_running,
                pipes=True),
        Command(seq("show", "startup-config"), _show_startup, pipes=True),
        Command(seq("show", "ip", "interface", "brief"), _show_ip_interface_brief, pipes=True),
        *mobileip_show.commands(),
        *mobile_router_show.commands(),
        Command(seq("configure", opt("terminal")), _configure),
        Command(seq("write", opt(alt("memory", "erase", "terminal"))), _write),
        Command(seq("erase", alt("startup-config", "nvram:")), _erase),
        Command(seq("copy", alt(Kw("running-config", key="source"), Kw("startup-config", key="source")),
                    alt(Kw("running-config", key="destination"), Kw("startup-config", key="destination"))), _copy),
    ]
