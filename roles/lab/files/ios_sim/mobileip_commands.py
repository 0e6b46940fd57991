"""The Mobile IP configuration commands (IOS 12.2-12.4 `ip mobile ...`), as grammar tables.

Syntax as the IOS IP Mobility command references give it (12.2 "Mobile IP Commands", 12.3T
"IP Mobility", 12.2(4)T "Cisco Mobile Networks"); where the references are silent (the order
of options in a printed line, defaults hidden) this follows how IOS prints other commands:
options in the order of the syntax line, default values left out.

Global: `router mobile`; `ip mobile home-agent [address A] [broadcast] [care-of-access ACL]
[lifetime N] [replay N] [reverse-tunnel-off] [roam-access ACL] [suppress-unreachable]`;
`ip mobile virtual-network NET MASK [address A]`; `ip mobile host LOWER [UPPER] | nai NAI ...`;
`ip mobile secure host|visitor|home-agent|foreign-agent|proxy-host ... spi SPI key hex|ascii K
[replay timestamp [within] N] [algorithm md5 mode prefix-suffix | hmac-md5]` (SPI in hex, as
IOS reads it); `ip mobile foreign-agent care-of IF | reg-wait N`; `ip mobile tunnel
path-mtu-discovery`; `ip mobile router` (mobile-router mode: address, home-agent, register,
reverse-tunnel, collocated, mobile-network).
Interface: `ip mobile foreign-service ...`, `ip mobile registration-lifetime N`,
`ip mobile prefix-length`, `ip irdp ...`, `ip mobile router-service roam|collocated ...`.
"""

from __future__ import annotations

from typing import Any

from ios_sim.cli import Command, Context, config_line, flag_line, words
from ios_sim.config_commands import RANK_MOBILE_ROUTER, RANK_ROUTER_MOBILE
from ios_sim.grammar import (
    Arg,
    Element,
    HexNumber,
    IPv4Address,
    Kw,
    Number,
    Pattern,
    Repeat,
    Word,
    alt,
    any_order,
    opt,
    seq,
)
from ios_sim.interfaces import interface_arg

# Ranks of the global `ip mobile` lines (the order IOS prints them in) and their group.
RANK_HA, RANK_VIRTUAL_NETWORK, RANK_HOST, RANK_FA, RANK_SECURE, RANK_TUNNEL = 50, 51, 52, 53, 54, 55
GROUP = "ip mobile"
# Ranks inside an interface block.
IF_IRDP, IF_FOREIGN_SERVICE, IF_REG_LIFETIME, IF_PREFIX_LENGTH, IF_ROUTER_SERVICE = 30, 40, 41, 42, 43

HA_LIFETIME_DEFAULT, HA_REPLAY_DEFAULT, SA_REPLAY_DEFAULT, REG_WAIT_DEFAULT = 36000, 7, 7, 120

LIFETIME = Number(3, 65535)
SPI = HexNumber(0x100, 0xFFFFFFFF)  # SPIs 0-255 are reserved (RFC 5944 §1.6); IOS reads them in hex
HEX_KEY = Pattern(r"(?:[0-9A-Fa-f]{2}){1,64}", "WORD")


def _acl(name: str = "acl") -> Arg:
    return Arg(name, Word(), "Access list name or number")


def _address(name: str) -> Arg:
    return Arg(name, IPv4Address())


def _default_hidden(args: dict[str, Any], name: str, default: int) -> dict[str, Any]:
    return {k: v for k, v in args.items() if not (k == name and v == default)}


# ------------------------------------------------------------------ router mobile, ip mobile router


def _router_mobile(ctx: Context) -> None:
    key = ("router mobile",)
    if ctx.negate:
        ctx.config.remove((), key)
        return
    ctx.config.set((), key, "router mobile", RANK_ROUTER_MOBILE, group="router", block=True)
    ctx.session.enter("config-router", (key,))


def _ip_mobile_router(ctx: Context) -> None:
    key = ("ip mobile router",)
    if ctx.negate:
        ctx.config.remove((), key)
        return
    ctx.config.set((), key, "ip mobile router", RANK_MOBILE_ROUTER, group="router", block=True)
    ctx.session.enter("mobile-router", (key,))


# ------------------------------------------------------------------ home agent


_HA_OPTIONS = any_order(seq("address", _address("address")), "broadcast", seq("care-of-access", _acl("care_of")),
                        seq("lifetime", Arg("lifetime", LIFETIME)), seq("replay", Arg("replay", Number(1, 255))),
                        "reverse-tunnel-off", seq("roam-access", _acl("roam")), "suppress-unreachable")


def _ha_text(args: dict[str, Any]) -> str:
    args = _default_hidden(_default_hidden(args, "lifetime", HA_LIFETIME_DEFAULT), "replay", HA_REPLAY_DEFAULT)
    options = words(args, ("address", "address"), ("broadcast", None), ("care_of", "care-of-access"),
                    ("lifetime", "lifetime"), ("replay", "replay"), ("reverse-tunnel-off", None),
                    ("roam", "roam-access"), ("suppress-unreachable", None))
    return f"ip mobile home-agent {options}".rstrip()


# ------------------------------------------------------------------ hosts


_AAA = seq("aaa", opt(Kw("load-sa"), opt("permanent")))


def _host_syntax(interfaces: dict[str, str | None]) -> Element:
    home_link = alt(seq("interface", interface_arg(interfaces)),
                    seq("virtual-network", _address("network"), _address("mask")))
    by_address = seq(_address("lower"), opt(_address("upper")), home_link,
                     any_order(_AAA, seq("care-of-access", _acl("care_of")),
                               seq("lifetime", Arg("lifetime", LIFETIME))))
    static = seq("static-address", alt(Repeat(Arg("static", IPv4Address(), multi=True), 1, 10),
                                       seq("local-pool", Arg("static_pool", Word()))))
    pool = seq("address", "pool", alt(seq("local", Arg("local_pool", Word())),
                                      seq("dhcp-proxy-client", opt("dhcp-server", _address("dhcp_server")))))
    by_nai = seq("nai", Arg("nai", Word()), alt(static, pool), home_link,
                 any_order(_AAA, seq("authorized-pool", Arg("authorized_pool", Word())), "skip-aaa-reauthentication",
                           seq("care-of-access", _acl("care_of")), seq("lifetime", Arg("lifetime", LIFETIME))))
    return seq("ip", "mobile", "host", alt(by_address, by_nai))


def _host_key(args: dict[str, Any]) -> tuple[Any, ...]:
    if "nai" in args:
        return ("ip mobile host", "nai", args["nai"])
    return ("ip mobile host", args["lower"], args.get("upper"))


def _host_text(args: dict[str, Any]) -> str:
    if "nai" in args:
        head = f"nai {args['nai']} "
        if "static" in args:
            head += "static-address " + " ".join(args["static"])
        elif "static_pool" in args:
            head += f"static-address local-pool {args['static_pool']}"
        elif "local_pool" in args:
            head += f"address pool local {args['local_pool']}"
        else:
            head += "address pool dhcp-proxy-client" + (
                f" dhcp-server {args['dhcp_server']}" if "dhcp_server" in args else "")
    else:
        head = args["lower"] + (f" {args['upper']}" if args.get("upper") else "")
    link = (f"interface {args['interface']}" if "interface" in args
            else f"virtual-network {args['network']} {args['mask']}")
    aaa = "aaa" + (" load-sa" if "load-sa" in args else "") + (" permanent" if "permanent" in args else "")
    options = words({**args, "aaa": aaa if "aaa" in args else None}, ("aaa", ""),
                    ("authorized_pool", "authorized-pool"),
                    ("skip-aaa-reauthentication", None), ("care_of", "care-of-access"), ("lifetime", "lifetime"))
    return f"ip mobile host {head} {link} {options}".rstrip()


# ------------------------------------------------------------------ security associations


_ENTITY = alt(*(Kw(e, key="entity") for e in ("host", "visitor", "home-agent", "foreign-agent", "proxy-host")))
_PEER = alt(seq(_address("lower"), opt(_address("upper"))), seq("nai", Arg("nai", Word())))
_SPIS = alt(seq("spi", Arg("spi", SPI)), seq("inbound-spi", Arg("spi", SPI), "outbound-spi", Arg("spi_out", SPI)))
_KEY = seq("key", alt(seq(Kw("hex", key="key_type"), Arg("key", HEX_KEY, secret=True)),
                      seq(Kw("ascii", key="key_type"), Arg("key", Word(), secret=True))))
_SA_OPTIONS = any_order(seq("replay", "timestamp", opt("within"), Arg("replay", Number(1, 255))),
                        seq("algorithm", alt(seq(Kw("md5", key="algorithm"), "mode", "prefix-suffix"),
                                             Kw("hmac-md5", key="algorithm"))))
_SECURE = seq("ip", "mobile", "secure", _ENTITY, _PEER)


def _sa_key(args: dict[str, Any]) -> tuple[Any, ...]:
    peer = ("nai", args["nai"]) if "nai" in args else (args["lower"], args.get("upper"))
    return ("ip mobile secure", args["entity"], *peer, *((args["spi"],) if "spi" in args else ()))


def _sa_text(args: dict[str, Any]) -> str:
    """IOS prints the SPI in hex, the algorithm always, replay only when not the default (7 s)."""
    peer = f"nai {args['nai']}" if "nai" in args else args["lower"] + (f" {args['upper']}" if args.get("upper") else "")
    spi = (f"inbound-spi {args['spi']:X} outbound-spi {args['spi_out']:X}" if "spi_out" in args
           else f"spi {args['spi']:X}")
    key = args["key"].lower() if args["key_type"] == "hex" else args["key"]
    replay = f" replay timestamp within {args['replay']}" if args.get("replay", SA_REPLAY_DEFAULT) != 7 else ""
    algorithm = "hmac-md5" if args.get("algorithm") == "hmac-md5" else "md5 mode prefix-suffix"
    return f"ip mobile secure {args['entity']} {peer} {spi} key {args['key_type']} {key}{replay} algorithm {algorithm}"


# ------------------------------------------------------------------ foreign agent


def _reg_wait(ctx: Context) -> None:
    key = ("ip mobile foreign-agent", "reg-wait")
    if ctx.negate or ctx.args["seconds"] == REG_WAIT_DEFAULT:
        ctx.config.remove((), key)
    else:
        ctx.config.set((), key, f"ip mobile foreign-agent reg-wait {ctx.args['seconds']}", RANK_FA, group=GROUP,
                       sort=((9,),))


_FS_OPTIONS = any_order(seq("home-access", _acl("home_access")), seq("limit", Arg("limit", Number(1, 1000))),
                        "registration-required",
                        seq("challenge", any_order("forward-mfce", seq("timeout", Arg("timeout", Number(1, 10))),
                                                   seq("window", Arg("window", Number(1, 10))))),
                        seq("reverse-tunnel", opt("mandatory")))


def _fs_text(args: dict[str, Any]) -> str:
    challenge = None
    if "challenge" in args:
        challenge = " ".join(["challenge", *(["forward-mfce"] if "forward-mfce" in args else []),
                              words(args, ("timeout", "timeout"), ("window", "window"))]).strip()
    tunnel = ("reverse-tunnel" + (" mandatory" if "mandatory" in args else "")) if "reverse-tunnel" in args else None
    options = words({**args, "challenge": challenge, "reverse-tunnel": tunnel}, ("home_access", "home-access"),
                    ("limit", "limit"), ("registration-required", None), ("challenge", ""), ("reverse-tunnel", ""))
    return f"ip mobile foreign-service {options}".rstrip()


def _irdp(option: str, rank: int, syntax: Element | None, *values: str) -> Command:
    """`ip irdp OPTION VALUE...`: one line per option (`ip irdp address` one per address), `no ip irdp
    OPTION` back to the default, `no ip irdp` off with all its options."""
    key = ("ip irdp", option) if option else ("ip irdp",)

    def text(args: dict[str, Any]) -> str:
        return " ".join(["ip irdp", *([option] if option else []), *(str(args[v]) for v in values if v in args)])

    line = config_line(lambda a: key + ((a["address"],) if option == "address" else ()), text, rank)
    grammar = seq("ip", "irdp", *((option,) if option else ()), *((syntax,) if syntax else ()))
    no = seq("ip", "irdp", *((option,) if option else ()), *((opt(syntax),) if syntax else ()))
    return Command(grammar, line, no=no)


# ------------------------------------------------------------------ tables


def global_commands(interfaces: dict[str, str | None]) -> list[Command]:
    care_of_if = interface_arg(interfaces)
    return [
        Command(seq("router", "mobile"), _router_mobile, no=seq("router", "mobile")),
        Command(seq("ip", "mobile", "router"), _ip_mobile_router, no=seq("ip", "mobile", "router")),
        Command(seq("ip", "mobile", "home-agent", _HA_OPTIONS),
                config_line(lambda a: ("ip mobile home-agent",), _ha_text, RANK_HA, GROUP),
                no=seq("ip", "mobile", "home-agent", _HA_OPTIONS)),
        Command(seq("ip", "mobile", "virtual-network", _address("network"), _address("mask"),
                    opt("address", _address("address"))),
                config_line(lambda a: ("ip mobile virtual-network", a["network"], a["mask"]),
                            lambda a: f"ip mobile virtual-network {a['network']} {a['mask']}"
                                      + (f" address {a['address']}" if "address" in a else ""), RANK_VIRTUAL_NETWORK,
                            GROUP),
                no=seq("ip", "mobile", "virtual-network", _address("network"), _address("mask"),
                       opt("address", _address("address")))),
        Command(_host_syntax(interfaces), config_line(_host_key, _host_text, RANK_HOST, GROUP),
                no=alt(_host_syntax(interfaces),
                       seq("ip", "mobile", "host", alt(seq(_address("lower"), opt(_address("upper"))),
                                                       seq("nai", Arg("nai", Word())))))),
        Command(seq(_SECURE, _SPIS, _KEY, _SA_OPTIONS), config_line(_sa_key, _sa_text, RANK_SECURE, GROUP),
                no=alt(seq(_SECURE, _SPIS, _KEY, _SA_OPTIONS), seq(_SECURE, opt(_SPIS)))),
        Command(seq("ip", "mobile", "foreign-agent", "care-of", care_of_if),
                config_line(lambda a: ("ip mobile foreign-agent", "care-of", a["interface"]),
                            lambda a: f"ip mobile foreign-agent care-of {a['interface']}", RANK_FA, GROUP),
                no=seq("ip", "mobile", "foreign-agent", "care-of", care_of_if)),
        Command(seq("ip", "mobile", "foreign-agent", "reg-wait", Arg("seconds", Number(5, 600))), _reg_wait,
                no=seq("ip", "mobile", "foreign-agent", "reg-wait", opt(Arg("seconds", Number(5, 600))))),
        Command(seq("ip", "mobile", "tunnel", "path-mtu-discovery",
                    opt("age-timer", alt(Arg("minutes", Number(10, 30000)), Kw("infinite", key="minutes")))),
                config_line(lambda a: ("ip mobile tunnel",),
                            lambda a: "ip mobile tunnel path-mtu-discovery"
                                      + (f" age-timer {a['minutes']}" if "minutes" in a else ""), RANK_TUNNEL, GROUP),
                no=seq("ip", "mobile", "tunnel", opt("path-mtu-discovery", opt("age-timer", opt(Word()))))),
    ]


def interface_commands() -> list[Command]:
    fs = seq("ip", "mobile", "foreign-service", _FS_OPTIONS)
    lifetime = seq("ip", "mobile", "registration-lifetime", Arg("lifetime", LIFETIME))
    roam = seq("ip", "mobile", "router-service", "roam", opt("priority", Arg("priority", Number(0, 255))))
    collocated = seq("ip", "mobile", "router-service", "collocated",
                     any_order("ccoa-only", seq("gateway", _address("gateway"))))
    return [
        _irdp("", IF_IRDP, None),
        _irdp("multicast", IF_IRDP + 1, None),
        _irdp("maxadvertinterval", IF_IRDP + 2, Arg("seconds", Number(4, 1800)), "seconds"),
        _irdp("minadvertinterval", IF_IRDP + 3, Arg("seconds", Number(3, 1800)), "seconds"),
        _irdp("holdtime", IF_IRDP + 4, Arg("seconds", Number(0, 9000)), "seconds"),
        _irdp("preference", IF_IRDP + 5, Arg("value", Number(-2147483648, 2147483647)), "value"),
        _irdp("address", IF_IRDP + 6, seq(_address("address"), opt(Arg("value", Number(-2147483648, 2147483647)))),
              "address", "value"),
        Command(fs, config_line(lambda a: ("ip mobile foreign-service",), _fs_text, IF_FOREIGN_SERVICE),
                no=seq("ip", "mobile", "foreign-service", _FS_OPTIONS)),
        Command(lifetime, config_line(lambda a: ("ip mobile registration-lifetime",),
                                      lambda a: f"ip mobile registration-lifetime {a['lifetime']}", IF_REG_LIFETIME),
                no=seq("ip", "mobile", "registration-lifetime", opt(Arg("lifetime", LIFETIME)))),
        Command(seq("ip", "mobile", "prefix-length"), flag_line("ip mobile prefix-length", IF_PREFIX_LENGTH),
                no=seq("ip", "mobile", "prefix-length")),
        Command(roam, config_line(lambda a: ("ip mobile router-service", "roam"),
                                  lambda a: "ip mobile router-service roam"
                                            + (f" priority {a['priority']}" if "priority" in a else ""),
                                  IF_ROUTER_SERVICE),
                no=seq("ip", "mobile", "router-service", "roam",
                       opt("priority", opt(Arg("priority", Number(0, 255)))))),
        Command(collocated, config_line(lambda a: ("ip mobile router-service", "collocated"),
                                        lambda a: " ".join(["ip mobile router-service collocated",
                                                            *(["ccoa-only"] if "ccoa-only" in a else []),
                                                            *([f"gateway {a['gateway']}"] if "gateway" in a else [])]),
                                        IF_ROUTER_SERVICE + 1),
                no=seq("ip", "mobile", "router-service", "collocated",
                       any_order("ccoa-only", seq("gateway", opt(_address("gateway")))))),
    ]


def mobile_router_commands(interfaces: dict[str, str | None]) -> list[Command]:
    """`ip mobile router` mode (12.2(4)T mobile networks): the router's own registration."""
    retransmit = seq("retransmit", "initial", Arg("initial", Number(10, 10000)), "maximum",
                     Arg("maximum", Number(10, 10000)), "retry", Arg("retry", Number(0, 10)))
    return [
        Command(seq("address", _address("address"), _address("mask")),
                config_line(lambda a: ("address",), lambda a: f"address {a['address']} {a['mask']}", 10),
                no=seq("address", opt(_address("address"), _address("mask")))),
        Command(seq("home-agent", _address("address"), opt("priority", Arg("priority", Number(0, 255)))),
                config_line(lambda a: ("home-agent", a["address"]),
                            lambda a: f"home-agent {a['address']}"
                            + (f" priority {a['priority']}" if "priority" in a else ""), 20),
                no=seq("home-agent", _address("address"), opt("priority", opt(Arg("priority", Number(0, 255)))))),
        Command(seq("register", "lifetime", Arg("lifetime", LIFETIME)),
                config_line(lambda a: ("register", "lifetime"), lambda a: f"register lifetime {a['lifetime']}", 30),
                no=seq("register", "lifetime", opt(Arg("lifetime", LIFETIME)))),
        Command(seq("register", retransmit),
                config_line(lambda a: ("register", "retransmit"),
                            lambda a: f"register retransmit initial {a['initial']} maximum {a['maximum']} "
                                      f"retry {a['retry']}", 31),
                no=seq("register", alt(retransmit, "retransmit"))),
        Command(seq("reverse-tunnel", opt("tunnel-mode", "gre")),
                config_line(lambda a: ("reverse-tunnel",),
                            lambda a: "reverse-tunnel" + (" tunnel-mode gre" if "tunnel-mode" in a else ""), 40),
                no=seq("reverse-tunnel", opt("tunnel-mode", "gre"))),
        Command(seq("collocated", opt("single-tunnel")),
                config_line(lambda a: ("collocated",),
                            lambda a: "collocated" + (" single-tunnel" if "single-tunnel" in a else ""), 50),
                no=seq("collocated", opt("single-tunnel"))),
        Command(seq("mobile-network", interface_arg(interfaces)),
                config_line(lambda a: ("mobile-network", a["interface"]),
                            lambda a: f"mobile-network {a['interface']}", 60),
                no=seq("mobile-network", interface_arg(interfaces))),
    ]
