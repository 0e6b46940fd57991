"""The state machines a configuration asks for, and what the runtime needs to know about each.

A host runs a home agent (RFC 5944 §3.8), a foreign agent (§3.7), both, or a mobile node
(§3.6). Each runs in one `Role`: its state machine, its name (for logs, timers, counters) and
the record kinds it persists (`StoreRecord` kinds, with their codecs).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from mipd.protocol.foreign_agent import ForeignAgent, Visitor
from mipd.protocol.home_agent import BINDINGS, Binding, HomeAgent
from mipd.protocol.mobile_node import MobileNode
from mipd.runtime.config import Config
from mipd.runtime.logs import DecisionLog
from mipd.runtime.store import Codec, ManyCodec

HOME_AGENT = "home_agent"
FOREIGN_AGENT = "foreign_agent"
MOBILE_NODE = "mobile_node"

CODECS = {
    # a home address's bindings, one row (DeleteRecord key: home address); "binding" rows, one per binding keyed
    # (home, care-of address), were an older mipd's and are regrouped when the database is opened
    BINDINGS: ManyCodec(Binding, ("home_address",), replaces="binding"),
    "visitor": Codec(Visitor, ("home_address",)),  # DeleteRecord key: home address
}


@dataclass(slots=True)
class Role:
    name: str
    machine: Any  # HomeAgent | ForeignAgent | MobileNode
    log: DecisionLog


def build(config: Config, rng: random.Random, *, copies: bool = True) -> dict[str, Role]:
    """One Role per configured role, in a fixed order (home agent, foreign agent, mobile node).

    `copies`: the data plane can tunnel a copy of each datagram to each of a node's care-of
    addresses (`Driver.copies`); without it the home agent grants no simultaneous bindings
    (RFC 5944 §3.6.1.2, §4.2.3: code 1 instead).
    """
    roles: dict[str, Role] = {}
    aaa = config.radius.cache if config.radius is not None else None  # SAs from RADIUS (protocol/aaa.py)
    if config.home_agent is not None:
        ha = HomeAgent(config.home_agent, config.sas_for(HOME_AGENT), rng, copies=copies, aaa=aaa)
        roles[HOME_AGENT] = Role(HOME_AGENT, ha, DecisionLog(HOME_AGENT))
    if config.foreign_agent is not None:
        fa = ForeignAgent(config.foreign_agent, config.sas_for(FOREIGN_AGENT), rng, aaa=aaa)
        roles[FOREIGN_AGENT] = Role(FOREIGN_AGENT, fa, DecisionLog(FOREIGN_AGENT))
    if config.mobile_node is not None:
        mn = MobileNode(config.mobile_node, config.sas_for(MOBILE_NODE), rng)
        roles[MOBILE_NODE] = Role(MOBILE_NODE, mn, DecisionLog(MOBILE_NODE))
    return roles
