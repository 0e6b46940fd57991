"""Simultaneous bindings with real mipd daemons (HA, FA1, FA2) in network namespaces (mobilelab.py).

RFC 5944 §3.6.1.2: a mobile node MAY set S to keep its earlier bindings; "when the home agent
allows simultaneous bindings, it will tunnel a separate copy of each arriving datagram to each
care-of address" (also §4.2.3). The mobile node here has a link on each visited network (mn0 on
FA1's, mn1 on FA2's) and registers with S through both foreign agents; its registration requests
are built with the agent's own wire and security layers (the mipd mobile node does not set S).
The CN streams UDP to the home address; captures on the core router's links to FA1 and FA2 show
one encapsulated copy of each datagram going to each care-of address. Deregistering FA1's
care-of address (§3.8.2.2) leaves FA2's binding and its copies.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from mobilelab import (
    CN,
    FA1,
    FA2,
    HA,
    HOA,
    KEY,
    PYTHON,
    SPI,
    Lab,
    Mipd,
    fa_config,
    ha_config,
    keys,
    require_lab_tools,
    tunnelled,
    wait_for,
)

pytestmark = pytest.mark.netns

#: one registration request with S from the home address to a foreign agent, reply code out
REGISTER = """
import json, socket, sys, time
from mipd.security import SecurityAssociation, sign
from mipd.security.replay import ntp_timestamp
from mipd.wire import registration as reg
from mipd.wire.extensions import MHAE
home, ha, spi, key, fa, lifetime = sys.argv[1:7]
sa = SecurityAssociation(ha, int(spi), bytes.fromhex(key))
req = reg.RegistrationRequest(reg.FLAG_S, int(lifetime), home, ha, fa, ntp_timestamp(time.time()))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((home, 434))
s.settimeout(10)
s.sendto(sign(sa, req.encode_fixed(), MHAE), (fa, 434))
rep = reg.decode(s.recv(2048))
print(json.dumps({"code": rep.code, "lifetime": rep.lifetime}))
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_lab_tools()
    lab = Lab()
    try:
        ns = lab.ns
        ns.veth("mn", "mn1", "sw", "s-mn1")  # the MN's second link, on FA2's network
        ns.ip("sw", "link set s-mn1 master br-v2", "link set s-mn1 up")
        lab.attach_mn("visit1")
        ns.ip("mn", "link set mn1 up", f"route add {FA1} dev mn0", f"route add {FA2} dev mn1",
              f"neigh replace {FA1} lladdr {lab.mac('fa1', 'fa1-v')} dev mn0 nud permanent",
              f"neigh replace {FA2} lladdr {lab.mac('fa2', 'fa2-v')} dev mn1 nud permanent")
        ha = ha_config(lab.backend)
        ha["home_agent"]["simultaneous_bindings"] = 2
        specs = {"ha": (ha, keys(HOA)), "fa1": (fa_config(lab.backend, "fa1-v", FA1), None),
                 "fa2": (fa_config(lab.backend, "fa2-v", FA2), None)}
        for role, (config, key_file) in specs.items():
            lab.daemons[role] = Mipd(ns, role, lab.dir / role, config, key_file).start()
        yield lab
    finally:
        lab.close()


def register(lab: Lab, fa: str, lifetime: int) -> dict:
    """The MN's request with S via `fa` (lifetime 0: deregister that care-of address)."""
    r = lab.ns.exec("mn", PYTHON, "-c", REGISTER, HOA, HA, str(SPI), KEY, fa, str(lifetime), timeout=30)
    return json.loads(r.stdout)


def dataplane(lab: Lab, role: str, name: str) -> int:
    return lab[role].ctl("counters")["dataplane"][name]


def copies(lab: Lab) -> tuple[dict[str, int], dict[str, int]]:
    """Stream from the CN to the home address. Care-of address -> the HA's copies seen entering the
    FA on the core router's link (tcpdump), and -> the copies the FA decapsulated (its counters),
    which add up to what the HA encapsulated."""
    roles = {FA1: "fa1", FA2: "fa2"}
    before = {fa: dataplane(lab, role, "decap_packets") for fa, role in roles.items()}
    sent_before = dataplane(lab, "ha", "encap_packets")
    caps = {fa: lab.capture("rt", link, "ip proto 4") for fa, link in ((FA1, "rt-fa1"), (FA2, "rt-fa2"))}
    flow = lab.flow("cn", "mn", HOA, rate=100)
    assert flow.flowing(count=20), flow.stats()
    flow.stop()
    lab.flows.remove(flow)
    seen = {fa: tunnelled(cap.stop()) for fa, cap in caps.items()}
    lab.captures.clear()

    def settled() -> dict[str, int] | None:
        got = {fa: dataplane(lab, role, "decap_packets") - before[fa] for fa, role in roles.items()}
        return got if sum(got.values()) == dataplane(lab, "ha", "encap_packets") - sent_before else None

    counted = wait_for(settled, 10, "the FAs to decapsulate what the HA encapsulated")
    return {fa: sum(1 for t in seen[fa] if (t["src"], t["dst"], t["inner_src"], t["inner_dst"])
                    == (HA, fa, CN, HOA)) for fa in roles}, counted


def test_each_care_of_address_gets_a_copy_until_deregistered(lab: Lab) -> None:
    """§3.6.1.2, §4.2.3: with two simultaneous bindings the HA tunnels a copy of every datagram
    to each care-of address; deregistering one (§3.8.2.2) keeps the other's copies flowing."""
    assert register(lab, FA1, 60) == {"code": 0, "lifetime": 60}
    assert register(lab, FA2, 60) == {"code": 0, "lifetime": 60}  # S granted: not code 1
    bindings = lambda: sorted(b["care_of_address"] for b in lab["ha"].ctl("bindings"))  # noqa: E731
    assert bindings() == [FA1, FA2]
    seen, counted = copies(lab)  # the MN gets both copies: 20 arrivals are 10 datagrams at least
    assert seen[FA1] >= 10 and seen[FA2] >= 10, seen  # encapsulated copies to each care-of address
    assert counted[FA1] == counted[FA2] >= 10, counted  # one copy of every datagram to each

    assert register(lab, FA1, 0) == {"code": 0, "lifetime": 0}  # FA1's care-of address only
    assert wait_for(lambda: bindings() == [FA2], 10, "FA1's binding to go")
    routes = lab.mipd_state("ha")["routes"]
    assert [r.split()[:3] for r in routes] == [[HOA, "dev", "mip0"]]  # interception goes on
    seen, counted = copies(lab)
    assert seen[FA1] == 0 and seen[FA2] >= 20, seen  # one copy a datagram now
    assert counted[FA1] == 0 and counted[FA2] >= 20, counted

    assert register(lab, FA2, 0) == {"code": 0, "lifetime": 0}
    assert wait_for(lambda: bindings() == [], 10, "FA2's binding to go")
    assert lab.mipd_state("ha")["routes"] == []
