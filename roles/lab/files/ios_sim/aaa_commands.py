"""The AAA and RADIUS configuration commands a home agent with SAs on a RADIUS server needs (IOS 12.x).

Global: `aaa new-model`; `aaa authorization ipmobile {default | radius | tacacs+} [group NAME]`
(12.0(1)T, the method list the home agent fetches mobility SAs with; `ip mobile host ... aaa
[load-sa]` names the hosts); `radius-server host A [auth-port P] [acct-port P] [timeout N]
[retransmit N] [key [0|7] KEY]` (IOS prints auth-port and acct-port always, 1645/1646 by default);
`radius-server key KEY`, `radius-server timeout N` (5), `retransmit N` (3), `deadtime MINUTES` (0),
defaults left out of the configuration. Keys are secrets: masked in the session log.
"""

from __future__ import annotations

import itertools
from typing import Any

from ios_sim.cli import Command, Context, config_line, flag_line
from ios_sim.grammar import Arg, IPv4Address, Kw, Number, Word, alt, any_order, opt, seq

# Ranks of the global lines (the order IOS prints them in: aaa near the top, radius-server late).
RANK_AAA_NEW_MODEL, RANK_AAA_AUTHORIZATION, RANK_RADIUS = 25, 26, 80
AUTH_PORT, ACCT_PORT = 1645, 1646
DEFAULTS = {"timeout": 5, "retransmit": 3, "deadtime": 0}
_PORT = Number(0, 65535)
_added = itertools.count()  # the order servers were added in
_KEY = seq("key", opt(alt(Kw("0", key="encryption"), Kw("7", key="encryption"))), Arg("key", Word(), secret=True))


def _host_text(args: dict[str, Any]) -> str:
    text = (f"radius-server host {args['address']} auth-port {args.get('auth_port', AUTH_PORT)} "
            f"acct-port {args.get('acct_port', ACCT_PORT)}")
    for name in ("timeout", "retransmit"):
        if name in args:
            text += f" {name} {args[name]}"
    if "key" in args:
        text += f" key {'7 ' if args.get('encryption') == '7' else ''}{args['key']}"
    return text


def _radius_host(ctx: Context) -> None:
    """A server keeps its place when changed; a new one goes last (IOS tries them in that order)."""
    key = ("radius-server host", ctx.args["address"])
    if ctx.negate:
        ctx.config.remove(ctx.path, key)
        return
    existing = ctx.config.node((*ctx.path, key))
    sort = existing.sort if existing is not None else (0, next(_added))
    ctx.config.set(ctx.path, key, _host_text(ctx.args), RANK_RADIUS, group="radius", sort=sort)


def _global_setting(name: str, high: int) -> Command:
    """`radius-server NAME N`; the default value (or `no`) removes the line."""
    key = ("radius-server", name)

    def handler(ctx: Context) -> None:
        if ctx.negate or ctx.args["value"] == DEFAULTS[name]:
            ctx.config.remove(ctx.path, key)
        else:
            ctx.config.set(ctx.path, key, f"radius-server {name} {ctx.args['value']}", RANK_RADIUS, group="radius",
                           sort=(1, name))

    low = 0 if name == "deadtime" else 1
    return Command(seq("radius-server", name, Arg("value", Number(low, high))), handler,
                   no=seq("radius-server", name, opt(Arg("value", Number(low, high)))))


def global_commands() -> list[Command]:
    method = alt(Kw("default", key="method"), Kw("radius", key="method"), Kw("tacacs+", key="method"))
    authorization = seq("aaa", "authorization", "ipmobile", method, opt("group", Arg("group", Word())))
    host_options = any_order(seq("auth-port", Arg("auth_port", _PORT)), seq("acct-port", Arg("acct_port", _PORT)),
                             seq("timeout", Arg("timeout", Number(1, 1000))),
                             seq("retransmit", Arg("retransmit", Number(0, 100))))
    host = seq("radius-server", "host", Arg("address", IPv4Address()), host_options, opt(_KEY))
    return [
        Command(seq("aaa", "new-model"), flag_line("aaa new-model", RANK_AAA_NEW_MODEL, "aaa"),
                no=seq("aaa", "new-model")),
        Command(authorization,
                config_line(lambda a: ("aaa authorization ipmobile",),
                            lambda a: f"aaa authorization ipmobile {a['method']}"
                            + (f" group {a['group']}" if "group" in a else ""), RANK_AAA_AUTHORIZATION, "aaa"),
                no=seq("aaa", "authorization", "ipmobile", opt(method, opt("group", Arg("group", Word()))))),
        Command(host, _radius_host,
                no=seq("radius-server", "host", Arg("address", IPv4Address()), opt(host_options), opt(_KEY))),
        Command(seq("radius-server", _KEY),
                config_line(lambda a: ("radius-server key",),
                            lambda a: f"radius-server key {'7 ' if a.get('encryption') == '7' else ''}{a['key']}",
                            RANK_RADIUS, "radius", sort=lambda a: (1, "key")),
                no=seq("radius-server", "key", opt(Arg("key", Word(), secret=True)))),
        _global_setting("timeout", 1000),
        _global_setting("retransmit", 100),
        _global_setting("deadtime", 1440),
    ]
