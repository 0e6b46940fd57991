# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TextFSM templates for an IOS-like router's `show ip mobile ...` output, and the parser that runs them.

The templates are string constants so that they travel with the module, which runs on the controller
for an IOS-like router (textfsm comes with netmiko there). ntc-templates has none for Mobile IP.

Layouts are those of IOS 12.2-12.4 (RFC 5944 state: mobility bindings §3.8.1, visitor list and
pending registrations §3.7.1, security associations §3.5 and §5); the public references are
reconstructions, so every template is tolerant: a line no rule knows is skipped, an entry starts at
any unindented line ending in `:`, values are matched by their label rather than by their position
and order, and `parse()` first removes what a terminal adds (CR LF, ` --More-- ` paging remnants with
their backspaces, ANSI escapes).

Keys: `show ip mobile secure` prints the keys of the security associations. The secure template
captures a key only so that `parse()` replaces it by its fingerprint (the agent's own,
keys.fingerprint) before the row leaves this module: no parsed row ever holds a key.
"""

from __future__ import annotations

import io
import re

from ansible_collections.netmobility.mobileip.plugins.module_utils.keys import key_fingerprint
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.base import PlatformError

_IP = r"(\d+\.\d+\.\d+\.\d+)"
_CLOCK = r"(\d+:\d+:\d+|INFINITE|\d+)"
_IDENTIFICATION = r"([0-9A-Fa-f]+\.[0-9A-Fa-f]+)"

# `show ip mobile binding` (home agent; §3.8.1). Entries headed `ADDRESS:` or, with an NAI (12.3T+),
# `NAI (Bindings N):` then `Home Addr ADDRESS`.
BINDING = rf"""Value Required HOME_ADDRESS {_IP}
Value NAI (\S+)
Value Required CARE_OF_ADDRESS {_IP}
Value SOURCE {_IP}
Value LIFETIME (\d+)
Value REMAINING {_CLOCK}
Value FLAGS ([A-Za-z-]+)
Value IDENTIFICATION {_IDENTIFICATION}
Value TUNNEL (Tunnel\d+)
Value TUNNEL_MODE (\S+)
Value ROUTING_OPTIONS (.+?)

Start
  ^\s*Mobility Binding List\s*:?\s*$$
  ^\s*Total\s+\d+\s*$$
  ^\S.*:\s*$$ -> Continue.Record
  ^${{HOME_ADDRESS}}:\s*$$
  ^${{NAI}}\s+\(Bindings\s+\d+\):\s*$$
  ^\s+Home\s+Addr(?:ess)?\s+${{HOME_ADDRESS}}\s*,?\s*$$
  ^\s+Care-of\s+Addr\s+${{CARE_OF_ADDRESS}},\s+Src\s+Addr\s+${{SOURCE}}
  ^\s+Lifetime\s+granted\s+\S+\s+\(${{LIFETIME}}\),\s+remaining\s+${{REMAINING}}
  ^\s+Flags\s+${{FLAGS}},\s+Identification\s+${{IDENTIFICATION}}
  ^\s+${{TUNNEL}}\s+src\s+\S+\s+dest\s+\S+?(?:\s+${{TUNNEL_MODE}})?\s*$$
  ^\s+Routing\s+Options\s+-\s+${{ROUTING_OPTIONS}}\s*$$
"""

# `show ip mobile visitor` and `show ip mobile visitor pending` (foreign agent; §3.7.1).
VISITOR = rf"""Value Required HOME_ADDRESS {_IP}
Value NAI (\S+)
Value INTERFACE (\S+)
Value MAC (\S+)
Value CARE_OF_ADDRESS {_IP}
Value Required HOME_AGENT {_IP}
Value IDENTIFICATION {_IDENTIFICATION}
Value LIFETIME (\d+)
Value REMAINING {_CLOCK}
Value TUNNEL (Tunnel\d+)
Value TUNNEL_MODE (\S+)
Value ROUTING_OPTIONS (.+?)

Start
  ^\s*Mobile\s+Visitor\s+(?:List|Pending\s+List)\s*:?\s*$$
  ^\s*Total\s+\d+\s*$$
  ^\S.*:\s*$$ -> Continue.Record
  ^${{HOME_ADDRESS}}:\s*$$
  ^${{NAI}}\s+\(\w+\s+\d+\):\s*$$
  ^\s+Home\s+Addr(?:ess)?\s+${{HOME_ADDRESS}}\s*,?\s*$$
  ^\s+Interface\s+${{INTERFACE}},\s+MAC\s+addr\s+${{MAC}}
  ^\s+IP\s+src\s+\S+,\s+dest\s+${{CARE_OF_ADDRESS}}
  ^\s+HA\s+addr\s+${{HOME_AGENT}},\s+Identification\s+${{IDENTIFICATION}}
  ^\s+Lifetime\s+\S+\s+\(${{LIFETIME}}\)\s+Remaining\s+${{REMAINING}}
  ^\s+${{TUNNEL}}\s+src\s+\S+\s+dest\s+\S+?(?:\s+${{TUNNEL_MODE}})?\s*$$
  ^\s+Routing\s+Options\s+-\s+${{ROUTING_OPTIONS}}\s*$$
"""

# `show ip mobile globals`: one record; a section is printed only for a role the router has.
GLOBALS = r"""Value HOME_AGENT (Home Agent)
Value FOREIGN_AGENT (Foreign Agent)
Value HA_LIFETIME (\d+)
Value BROADCAST (enabled|disabled)
Value REPLAY (\d+)
Value REVERSE_TUNNEL (enabled|disabled)
Value ICMP_UNREACHABLE (enabled|disabled)
Value List VIRTUAL_NETWORKS (\d+\.\d+\.\d+\.\d+/\d+)
Value PENDING_TIMEOUT (\d+)
Value List CARE_OF_INTERFACES (\S+)
Value List CARE_OF_ADDRESSES (\d+\.\d+\.\d+\.\d+)
Value SERVICE_INTERFACES (\d+)
Value ENCAPSULATIONS (.+?)

Start
  ^\s*${HOME_AGENT}\s*:?\s*$$
  ^\s*${FOREIGN_AGENT}\s*:?\s*$$
  ^\s+Registration\s+lifetime:\s+\S+\s+\(${HA_LIFETIME}\s+secs\)
  ^\s+Broadcast\s+${BROADCAST}
  ^\s+Replay\s+protection\s+time:\s+${REPLAY}\s+secs
  ^\s+Reverse\s+tunnel\s+${REVERSE_TUNNEL}
  ^\s+ICMP\s+Unreachable\s+${ICMP_UNREACHABLE}
  ^\s+${VIRTUAL_NETWORKS}\s*$$
  ^\s+Pending\s+registrations\s+expire\s+after\s+${PENDING_TIMEOUT}\s+secs
  ^\s+${CARE_OF_INTERFACES}\s+\(${CARE_OF_ADDRESSES}\)
  ^\s+${SERVICE_INTERFACES}\s+interfaces?\s+providing\s+service
  ^\s+Encapsulations\s+supported:\s+${ENCAPSULATIONS}\s*$$
"""

# `show ip mobile host` (home agent): each configured host, its allowed lifetime and roaming status.
HOST = r"""Value Required HOST (\S+)
Value LIFETIME (\d+)
Value LIFETIME_SOURCE (default)
Value Required STATUS (Registered|Unregistered)
Value HOME_LINK (.+?)
Value ACCEPTED (\d+)
Value DENIED (\d+)

Start
  ^\S.*:\s*$$ -> Continue.Record
  ^${HOST}:\s*$$
  ^\s+Allowed\s+lifetime\s+\S+\s+\(${LIFETIME}(?:/${LIFETIME_SOURCE})?\)
  ^\s+Roaming\s+status\s+-${STATUS}-,\s+Home\s+link\s+on\s+${HOME_LINK}\s*$$
  ^\s+Accepted\s+${ACCEPTED},
  ^\s+Denied\s+${DENIED},
"""

# `show ip mobile traffic`: a row per counter line (`Label N[, Label N]...[ words]`), with its section
# (Advertisements, or one ending in Registrations: Home Agent, Foreign Agent, Mobile Router...).
# The counter sets differ by release: the pairs are read by counter_pairs(), not by fixed lines.
TRAFFIC = r"""Value Filldown,Required SECTION (Advertisements|[A-Z][^:]*?Registrations)
Value Required COUNTERS (.*\d.*?)

Start
  ^\s*IP\s+Mobility\s+traffic\s*:?\s*$$
  ^${SECTION}\s*:\s*$$
  ^\s+${COUNTERS}\s*$$ -> Record
"""

# `show ip mobile tunnel`: the tunnels the bindings and visitors use.
TUNNEL = rf"""Value Required TUNNEL (Tunnel\d+)
Value Required SOURCE {_IP}
Value DESTINATION {_IP}
Value ENCAPSULATION (\S+)
Value MODE (\S+)
Value USERS (\d+)
Value MTU (\d+)
Value CREATOR (\S+)
Value PACKETS_IN (\d+)
Value BYTES_IN (\d+)
Value DROPS_IN (\d+)
Value PACKETS_OUT (\d+)
Value BYTES_OUT (\d+)

Start
  ^\s*Mobile\s+Tunnels\s*:?\s*$$
  ^\S.*:\s*$$ -> Continue.Record
  ^${{TUNNEL}}:\s*$$
  ^\s+src\s+${{SOURCE}},\s+dest\s+${{DESTINATION}}
  ^\s+encaps\s+${{ENCAPSULATION}},\s+mode\s+${{MODE}},\s+tunnel-users\s+${{USERS}}
  ^\s+IP\s+MTU\s+${{MTU}}\s+bytes
  ^\s+${{CREATOR}}\s+created
  ^\s+${{PACKETS_IN}}\s+packets\s+input,\s+${{BYTES_IN}}\s+bytes(?:,\s+${{DROPS_IN}}\s+drops)?
  ^\s+${{PACKETS_OUT}}\s+packets\s+output,\s+${{BYTES_OUT}}\s+bytes
"""

# `show ip mobile secure`: a peer line (address, `LOWER - UPPER` or NAI, an optional colon), then per SPI
# its algorithm, mode and replay protection and its key. KEY is replaced by KEY_FINGERPRINT in parse().
SECURE = r"""Value Filldown PEER ([^\s:]+(?:\s+-\s+[^\s:]+)?)
Value Required SPI ([0-9A-Fa-f]+)
Value SPI_OUT ([0-9A-Fa-f]+)
Value ALGORITHM ([A-Za-z][A-Za-z0-9-]*)
Value MODE ([Pp]refix-[Ss]uffix)
Value REPLAY ([A-Za-z]+)
Value REPLAY_WINDOW (\d+)
Value KEY (\S+)

Start
  ^\s*Security\s+Associations\b.*$$
  ^\S -> Continue.Record
  ^${PEER}\s*:?\s*$$
  ^\s+SPI\s -> Continue.Record
  ^\s+SPI\s+(?:In\s+)?${SPI}(?:,\s+Out\s+${SPI_OUT})?,\s+${ALGORITHM}(?:,\s+${MODE})?,\s+${REPLAY}(?:\s+\+/-\s+${REPLAY_WINDOW})?\s*,?\s*$$
  ^\s+Key\s+${KEY}\s*$$
"""

# `show ip mobile router` (a mobile router, RFC 5944 §3.6): one record. STATE is Enabled or Disabled; the
# Monitor section's STATUS (Home, Registered, Pending, Unregistered), the foreign agent and care-of
# address when away, the roaming interface, the registration's time left and the last reply code.
ROUTER = rf"""Value Required STATE (Enabled|Disabled)
Value HOME_ADDRESS {_IP}
Value HOME_AGENT {_IP}
Value LIFETIME (\d+)
Value REVERSE_TUNNEL (required)
Value STATUS ([A-Za-z]+)
Value AGENT_ADDRESS {_IP}
Value CARE_OF_ADDRESS {_IP}
Value INTERFACE (\S+)
Value REMAINING {_CLOCK}
Value REMAINING_SECONDS (\d+|INFINITE)
Value CODE (\d+)

Start
  ^\s*Mobile\s+Router\s*$$
  ^\s+${{STATE}}\b
  ^\s+Home\s+Address\s+${{HOME_ADDRESS}}
  ^\s+Home\s+Agent\s+${{HOME_AGENT}}\b
  ^\s+Registration\s+lifetime\s+${{LIFETIME}}\s+sec
  ^\s+Reverse\s+tunnel\s+${{REVERSE_TUNNEL}}
  ^\s+Status\s+-?${{STATUS}}-?\s*$$
  ^\s+Active\s+foreign\s+agent\s+${{AGENT_ADDRESS}},\s+Care-of\s+${{CARE_OF_ADDRESS}}
  ^\s+On\s+interface\s+${{INTERFACE}}
  ^\s+Registration\s+remaining\s+${{REMAINING}}(?:\s+\(${{REMAINING_SECONDS}}\))?
  ^\s+Last\s+reply\s+code\s+${{CODE}}
"""

TEMPLATES = {
    "binding": BINDING,
    "visitor": VISITOR,
    "pending": VISITOR,  # show ip mobile visitor pending: the visitor layout
    "globals": GLOBALS,
    "host": HOST,
    "traffic": TRAFFIC,
    "tunnel": TUNNEL,
    "secure": SECURE,
    "router": ROUTER,
}

# ` --More-- ` then, once a key is pressed, backspaces over it, spaces, backspaces again; ANSI escapes
_PAGING = re.compile(r" ?--More-- ?(?:\x08+ *\x08*)?|\x08+ *\x08*|\x1b\[[0-9;?]*[A-Za-z]")
_PAIR = re.compile(r"([A-Za-z][A-Za-z ()/'-]*?)\s+(\d+)\b")


def clean(text: str) -> str:
    """`text` as the templates expect it: LF line ends, no paging prompts, backspaces or ANSI escapes."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _PAGING.sub("", text)


def parse(name: str, text: str) -> list[dict[str, str]]:
    """The rows of `show ip mobile NAME` output: one dict per entry, lower-case keys, absent values ''."""
    try:
        import textfsm
    except ImportError:
        raise PlatformError("reading an IOS-like router's state needs the Python package textfsm on the "
                            "controller (it comes with netmiko: pip install netmiko)") from None
    fsm = textfsm.TextFSM(io.StringIO(TEMPLATES[name]))
    header = [column.lower() for column in fsm.header]
    rows = [dict(zip(header, values)) for values in fsm.ParseText(clean(text))]
    if name == "secure":
        for row in rows:
            row["key_fingerprint"] = _key_fingerprint(row.pop("key"))
    return rows


def _key_fingerprint(shown: str) -> str | None:
    """The agent's fingerprint of a key as IOS shows it (hex digits; anything else: its ASCII bytes)."""
    if not shown:
        return None
    is_hex = len(shown) % 2 == 0 and re.fullmatch(r"[0-9A-Fa-f]+", shown) is not None
    return key_fingerprint(bytes.fromhex(shown) if is_hex else shown.encode("utf-8", "replace"))


def counter_pairs(counters: str) -> list[tuple[str, int]]:
    """(label, count) of a traffic line: `Register 8, Deregister 0 requests` -> [('register requests', 8),
    ('deregister requests', 0)] (words after the last count belong to every label of the line)."""
    pairs = [(label.strip().lower(), int(count)) for label, count in _PAIR.findall(counters)]
    tail = re.search(r"\d\s+([A-Za-z][A-Za-z ]*?)\s*$", counters)
    if tail:
        pairs = [(f"{label} {tail.group(1).lower()}", count) for label, count in pairs]
    return pairs
