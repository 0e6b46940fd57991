"""`show ip mobile router`: a mobile router's configuration and registration (RFC 5944 §3.6), IOS's layout.

The router's mipd runs as a mobile node; the Configuration section comes from the configuration it runs
(the translator's `mobile_node` section), the Monitor section from `mipctl --json registration`.

The layout is a RECONSTRUCTION of Cisco's "Mobile Networks" feature (12.2(4)T) output - sections
`Mobile Router`, `Configuration:`, `Monitor:`; the `Registration remaining` and `Last reply code` lines
are this simulator's own (IOS shows them under `show ip mobile router registration`), so that a
mobile router's registration reads like a Linux mobile node's. Status words: `-Home-` (on the home
network), `-Registered-` (the home agent holds a binding), `-Pending-` (a request is outstanding),
`-Unregistered-`. A router without `ip mobile router` prints `Mobile Router` `Disabled`.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ios_sim.cli import Command, Context
from ios_sim.grammar import Kw, seq
from ios_sim.mipd_attach import MipdUnavailable
from ios_sim.mobileip_show import hms

RETRANSMIT_INITIAL_MS = 1000  # IOS's `register retransmit initial` default
RETRANSMIT_LIMIT = 3  # and `retry`


def status_word(registration: dict[str, Any]) -> str:
    if registration.get("location") == "home" and not registration.get("registered"):
        return "-Home-"
    if registration.get("registered"):
        return "-Registered-"
    return "-Pending-" if registration.get("pending") else "-Unregistered-"


def router_text(settings: dict[str, Any] | None, registration: dict[str, Any] | None,
                names: dict[str, str]) -> list[str]:
    """The output lines; `settings`: mipd's mobile_node section (None: not a mobile router);
    `registration`: `mipctl --json registration` (None: mipd not answering); `names`: link -> IOS name."""
    if not settings:
        return ["Mobile Router", "    Disabled"]
    prefix = int(settings.get("home_prefix_length", 24))
    mask = ipaddress.IPv4Network(f"0.0.0.0/{prefix}").netmask
    max_ms = int(float(settings.get("max_retransmit_interval", 32.0)) * 1000)
    lines = ["Mobile Router", "    Enabled", "    Last redundancy state transition NEVER", "",
             "Configuration:",
             f"    Home Address {settings.get('home_address')} Mask {mask}",
             f"    Home Agent {settings.get('home_agent')} Priority 100 (best) (current)",
             f"    Registration lifetime {int(settings.get('lifetime', 1800))} sec",
             f"    Retransmit Init {RETRANSMIT_INITIAL_MS}, Max {max_ms} msec, Limit {RETRANSMIT_LIMIT}",
             "    Extend Expire 120, Retry 3, Interval 10"]
    if settings.get("reverse_tunnel"):
        lines.append("    Reverse tunnel required")
    lines += ["", "Monitor:"]
    if registration is None:
        return [*lines, "    Status -Unregistered-"]
    lines.append(f"    Status {status_word(registration)}")
    agent, care_of = registration.get("agent_address"), registration.get("care_of_address")
    if registration.get("location") != "home" and agent and care_of:
        lines.append(f"    Active foreign agent {agent}, Care-of {care_of}")
    interface = registration.get("interface")
    if interface:
        lines.append(f"      On interface {names.get(interface, interface)}")
    left = registration.get("lifetime_left")
    if registration.get("registered"):
        lines.append(f"    Registration remaining {hms(left)} ({int(left) if left is not None else 'INFINITE'})")
    code = registration.get("last_reply_code")
    if code is not None:
        lines.append(f"    Last reply code {code}")
    return lines


async def _router(ctx: Context) -> None:
    router = ctx.session.router
    settings = router.attachment.settings().get("mobile_node")
    registration = None
    if settings:
        try:
            registration = await router.attachment.query("registration")
        except MipdUnavailable:
            registration = None
    names = {link: name for name, link in router.options.interfaces.items() if link}
    ctx.print(*router_text(settings, registration, names))


def commands() -> list[Command]:
    return [Command(seq("show", "ip", "mobile", Kw("router", help="Mobile router information")), _router, pipes=True)]
