"""Interface names as IOS reads and prints them.

IOS takes an interface type by any unique prefix and the number right after it (`e0/0`,
`eth0/1`, `Fa0/0`, `lo0`, `Tu1`) and prints the full name (`Ethernet0/0`). Physical interfaces
are the router's hardware (here: the `--interface` list); Loopback and Tunnel interfaces are
created by naming them. `show running-config` lists Loopbacks first, then Tunnels, then the
hardware in slot/port order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ios_sim.config_store import sortable
from ios_sim.grammar import Arg, ArgType

TYPES = ("Ethernet", "FastEthernet", "GigabitEthernet", "Serial", "Loopback", "Tunnel")
VIRTUAL = ("Loopback", "Tunnel")
_NAME = re.compile(r"([A-Za-z-]+)(\d+(?:/\d+)*(?:\.\d+)?)")


def canonical(text: str) -> str | None:
    """`e0/0` -> `Ethernet0/0`; None when the type is unknown or ambiguous."""
    found = _NAME.fullmatch(text)
    if not found:
        return None
    prefix, number = found.group(1).lower(), found.group(2)
    types = [t for t in TYPES if t.lower().startswith(prefix)]
    exact = [t for t in types if t.lower() == prefix]
    types = exact or types
    return types[0] + number if len(types) == 1 else None


@dataclass(frozen=True)
class InterfaceName(ArgType):
    """An interface of this router: one of its physical interfaces, or any Loopback/Tunnel."""

    physical: frozenset[str]
    placeholder = "Interface"

    def accept(self, text: str) -> Any:
        name = canonical(text)
        if name is None:
            return None
        return name if name in self.physical or name.startswith(VIRTUAL) else None


def interface_arg(interfaces: dict[str, str | None], name: str = "interface") -> Arg:
    return Arg(name, InterfaceName(frozenset(interfaces)), "Interface name")


def interface_sort(name: str) -> tuple[Any, ...]:
    """Loopback, Tunnel, then the hardware: the order IOS lists interfaces in."""
    kind = next((t for t in TYPES if name.startswith(t) and name[len(t):][:1].isdigit()), name)
    rank = VIRTUAL.index(kind) if kind in VIRTUAL else len(VIRTUAL)
    return (rank, sortable(name))
