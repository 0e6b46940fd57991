"""Real mipd daemons (HA, FA1, FA2, MN) in network namespaces, userspace data plane (mobilelab.py).

Registration via a foreign agent and tunnelled delivery (RFC 5944 §3, §4.2.3, §4.2.2), roaming
FA1 -> FA2 -> home (§2.4.2, §3.8.2.2, §4.6), reverse tunnelling (RFC 3024), GRE (RFC 2784) and
minimal encapsulation (RFC 2004), a co-located care-of address (§3.6.1.2, D bit), lifetime
expiry and deregistration (§3.8.3, §3.7.4), a home agent killed with SIGKILL restoring its
bindings (§3.8.1 "MUST be persistent"), and a request with a wrong key refused with 131 (§3.8.2.1).

What the tests look at: `mipctl --json` in each namespace (bindings, visitors, pending,
registration, counters), the kernel state the data planes leave (`ip route/rule/neigh`), tcpdump
captures on the core router's links, and a UDP stream between the CN and the MN's home address.
"""

from __future__ import annotations

import pytest
from mipd.wire import registration as reg
from mobilelab import CN, COLO, COLO_GW, FA1, FA2, HA, HOA, HOME_GW, STREAM_PORT, WRONG_KEY, tunnelled, wait_for

pytestmark = pytest.mark.netns

ENCAP_PROTO = {"ipip": 4, "gre": 47, "minimal": 55}
PLACE = {FA1: ("visit1", "fa1", "fa1-v", "rt-fa1"), FA2: ("visit2", "fa2", "fa2-v", "rt-fa2")}


def counters(lab, role: str, section: str = "dataplane") -> dict:
    answer = lab[role].ctl("counters")
    return answer["roles"][section] if section in answer["roles"] else answer[section]


def delta(after: dict, before: dict, name: str) -> int:
    return after.get(name, 0) - before.get(name, 0)


def assert_bound_via(lab, fa: str, *, encap: str = "ipip", reverse: bool = False) -> None:
    """HA binding, HA interception (route into the tunnel + proxy ARP), FA visitor entry and
    delivery route, and the MN's routing, for the MN registered via foreign agent `fa`."""
    _place, role, link, _core = PLACE[fa]
    [binding] = lab.binding()
    assert (binding["care_of_address"], binding["encap"], binding["reverse"]) == (fa, encap, reverse)
    ha = lab.mipd_state("ha")
    assert [r.split()[:3] for r in ha["routes"]] == [[HOA, "dev", "mip0"]]  # §4.2.3 interception
    assert ha["proxy"][:3] == [HOA, "dev", "ha0"]  # §4.6 proxy ARP on the home link
    mn_mac = lab.mac("mn", "mn0")
    visitors = [v for v in lab[role].ctl("visitors") if v["home_address"] == HOA]
    assert [(v["care_of_address"], v["interface"], v["lladdr"], v["encap"], v["reverse_tunnel"])
            for v in visitors] == [(fa, link, mn_mac, encap, reverse)]
    fa_state = lab.mipd_state(role)
    assert f"{HOA} dev {link} proto 173" in "\n".join(fa_state["routes"])  # §4.2.2 delivery to the visitor
    assert f"{HOA} dev {link} lladdr {mn_mac} PERMANENT" in "\n".join(fa_state["neigh"])  # no ARP for it
    rules = "\n".join(fa_state["rules"])
    assert (f"from {HOA} iif {link} lookup 434" in rules) == reverse  # RFC 3024 §5.1
    mn_routes = lab.routes("mn")
    assert f"default via {fa} dev mn0 proto 173 src {HOA} onlink" in mn_routes  # §4.2.1 FA as router


def test_registers_via_fa1_and_the_cn_stream_is_tunnelled(lab):
    """§3.7 relay, §3.8 binding, §4.2.3: datagrams from the CN to the home address cross the core
    IP-in-IP encapsulated from the HA to FA1's care-of address, and reach the MN."""
    lab.go("home")
    ha_before, fa_before = counters(lab, "ha"), counters(lab, "fa1")
    status = lab.go("visit1")
    assert (status["location"], status["registered"], status["colocated"]) == ("away", True, False)
    assert (status["care_of_address"], status["agent_address"], status["last_reply_code"]) == (FA1, FA1, 0)
    assert_bound_via(lab, FA1)

    cap = lab.capture("rt", "rt-fa1", f"ip proto 4 or udp port {STREAM_PORT}")
    flow = lab.flow("cn", "mn", HOA)
    assert flow.flowing(50)
    packets = cap.stop()
    stream = [p for p in tunnelled(packets) if p["dport"] == STREAM_PORT]
    assert len(stream) >= 50
    assert {(p["proto"], p["src"], p["dst"], p["inner_src"], p["inner_dst"]) for p in stream} == {
        (4, HA, FA1, CN, HOA)}
    plain = [p for p in packets if bytes(p)[23:24] == b"\x11"]  # UDP straight to the MN: never on the core
    assert plain == []
    assert flow.stats()["sources"] == [CN]
    ha_after, fa_after = counters(lab, "ha"), counters(lab, "fa1")
    assert delta(ha_after, ha_before, "encap_packets") >= 50
    assert delta(fa_after, fa_before, "decap_packets") >= 50
    assert delta(ha_after, ha_before, "dropped") == delta(fa_after, fa_before, "dropped") == 0


def test_roams_fa1_fa2_home_and_the_stream_follows(lab):
    """§2.4.2 link-layer move detection, §3.8.2.2 the new registration replaces the binding, §3.6
    and §4.6 deregistration and gratuitous ARP at home: after each move the bindings, visitor
    lists, registration state and routes are right and the CN's stream reaches the MN again."""
    lab.go("visit1")
    flow = lab.flow("cn", "mn", HOA)
    assert flow.flowing()
    links_before = counters(lab, "mn", "mobile_node")

    moved = lab.attach_mn("visit2")
    status = lab.wait_registered("visit2")
    assert (status["care_of_address"], status["agent_address"], status["registered"]) == (FA2, FA2, True)
    assert_bound_via(lab, FA2)
    # FA1 is not told (RFC 5944 has no notice to the previous FA): its entry lapses with its lifetime,
    # and nothing reaches it any more since the HA tunnels to FA2 only
    assert [(v["home_address"], v["care_of_address"]) for v in lab["fa1"].ctl("visitors")] == [(HOA, FA1)]
    assert flow.arrivals_after(moved, 20)["count"] >= 20

    moved = lab.attach_mn("home")
    status = lab.wait_registered("home")
    assert (status["location"], status["registered"], status["last_reply_code"]) == ("home", False, 0)
    assert lab.binding() == []
    ha = lab.mipd_state("ha")
    assert ha["routes"] == [] and ha["proxy"] == []  # no interception left on the home link
    assert f"default via {HOME_GW} dev mn0 proto 173 onlink" in lab.routes("mn")
    assert lab.mipd_state("mn")["neigh"] == []  # the FA's static entry went with the link
    assert flow.arrivals_after(moved, 20)["count"] >= 20  # now on the home link, not tunnelled

    links_after = counters(lab, "mn", "mobile_node")
    assert delta(links_after, links_before, "link.down") >= 2  # the daemon saw both moves
    assert delta(links_after, links_before, "link.up") >= 2


def test_reverse_tunnel_via_fa2(lab):
    """RFC 3024: with T set, the MN's datagrams to the CN go FA2 -> HA encapsulated across the core
    (the core router drops them otherwise: ingress filtering) and the HA delivers them."""
    status = lab.go("visit2", reverse_tunnel=True)
    assert status["registered"]
    assert_bound_via(lab, FA2, reverse=True)
    ha_before = counters(lab, "ha")

    cap = lab.capture("rt", "rt-fa2", f"ip proto 4 or udp port {STREAM_PORT}")
    up = lab.flow("mn", "cn", CN, src=HOA)
    down = lab.flow("cn", "mn", HOA, port=STREAM_PORT + 1)
    assert up.flowing(50)
    assert down.flowing(20)
    packets = cap.stop()
    reverse = [p for p in tunnelled(packets) if p["dport"] == STREAM_PORT]
    assert len(reverse) >= 50
    assert {(p["proto"], p["src"], p["dst"], p["inner_src"], p["inner_dst"]) for p in reverse} == {
        (4, FA2, HA, HOA, CN)}
    forward = [p for p in tunnelled(packets) if p["dport"] == STREAM_PORT + 1]
    assert forward and {(p["src"], p["dst"], p["inner_dst"]) for p in forward} == {(HA, FA2, HOA)}
    assert [p for p in packets if bytes(p)[23:24] == b"\x11"] == []  # nothing from the MN crossed plain
    assert up.stats()["sources"] == [HOA]
    assert delta(counters(lab, "ha"), ha_before, "decap_packets") >= 50


@pytest.mark.parametrize("encap", ["gre", "minimal"])
def test_gre_and_minimal_encapsulation(lab, encap):
    """G and M bits (RFC 5944 §3.3): the HA tunnels with GRE (RFC 2784) or minimal encapsulation
    (RFC 2004), and so does FA1 in reverse; both streams arrive."""
    status = lab.go("visit1", encapsulation=encap, reverse_tunnel=True)
    assert status["registered"]
    assert_bound_via(lab, FA1, encap=encap, reverse=True)
    proto = ENCAP_PROTO[encap]

    cap = lab.capture("rt", "rt-fa1", f"ip proto {proto} or udp port {STREAM_PORT} or udp port {STREAM_PORT + 1}")
    down = lab.flow("cn", "mn", HOA)
    up = lab.flow("mn", "cn", CN, src=HOA, port=STREAM_PORT + 1)
    assert down.flowing(30)
    assert up.flowing(30)
    packets = cap.stop()
    seen = tunnelled(packets)
    forward = [p for p in seen if p["dport"] == STREAM_PORT]
    reverse = [p for p in seen if p["dport"] == STREAM_PORT + 1]
    assert len(forward) >= 30 and len(reverse) >= 30
    assert {(p["proto"], p["src"], p["dst"], p["inner_src"], p["inner_dst"]) for p in forward} == {
        (proto, HA, FA1, CN, HOA)}
    assert {(p["proto"], p["src"], p["dst"], p["inner_src"], p["inner_dst"]) for p in reverse} == {
        (proto, FA1, HA, HOA, CN)}
    assert [p for p in packets if bytes(p)[23:24] == b"\x11"] == []  # no stream datagram crossed plain


def test_colocated_care_of_address(lab):
    """§3.6.1.2: on a link without a foreign agent the MN registers its own address (D bit) directly
    with the HA, and decapsulates the HA's tunnel itself."""
    lab.go("visit1")
    cap_reg = lab.capture("rt", "rt-colo", "udp port 434")
    mn_before = counters(lab, "mn")
    status = lab.go("colo")
    requests = []
    for p in cap_reg.stop():
        raw = bytes(p)
        if raw[23:24] == b"\x11" and raw[42:43] == b"\x01":
            requests.append(reg.decode(raw[42:]))
    assert requests and all(r.flags & reg.FLAG_D and r.care_of_address == COLO for r in requests)
    assert (status["colocated"], status["care_of_address"], status["agent_address"]) == (True, COLO, HA)
    [binding] = lab.binding()
    assert (binding["care_of_address"], binding["source"]) == (COLO, COLO)
    assert f"default via {COLO_GW} dev mn0 proto 173 src {HOA} onlink" in lab.routes("mn")

    cap = lab.capture("rt", "rt-colo", f"ip proto 4 or udp port {STREAM_PORT}")
    flow = lab.flow("cn", "mn", HOA)
    assert flow.flowing(30), lab.logs()
    stream = [p for p in tunnelled(cap.stop()) if p["dport"] == STREAM_PORT]
    assert len(stream) >= 30
    assert {(p["src"], p["dst"], p["inner_src"], p["inner_dst"]) for p in stream} == {(HA, COLO, CN, HOA)}
    assert delta(counters(lab, "mn"), mn_before, "decap_packets") >= 30
    lab.go("visit1")  # leave the co-located link: its address and route go, nothing of mipd's stays
    assert f"via {COLO_GW}" not in lab.routes("mn")


def test_lifetime_expiry_cleans_up_ha_and_fa(lab):
    """§3.8.3 / §3.7: a binding and a visitor entry whose lifetime runs out are deleted with their
    tunnel, routes, reverse-tunnel rule, proxy ARP and neighbour entries."""
    lab.go("visit1", lifetime=4, reregister_margin=1, reverse_tunnel=True)
    assert lab.holds_state("ha") and lab.holds_state("fa1")
    assert lab["mn"].stop() == 0  # a stopping MN sends no deregistration: the binding just expires
    wait_for(lambda: lab.binding() == [], 15, "the HA binding to expire")
    wait_for(lambda: [v for v in lab["fa1"].ctl("visitors") if v["home_address"] == HOA] == [], 15,
             "FA1's visitor entry to expire")
    for role in ("ha", "fa1"):
        assert lab.mipd_state(role) == {"routes": [], "rules": [], "proxy": [], "neigh": []}, role
    assert counters(lab, "ha", "home_agent").get("binding.expired", 0) >= 1
    assert counters(lab, "fa1", "foreign_agent").get("visitor.expired", 0) >= 1


def test_deregistration_at_home_cleans_up(lab):
    """§3.6 / §3.8.2.2: back home, the MN deregisters; the HA drops binding, tunnel route and proxy
    ARP at once; FA1, which is not told (RFC 5944 has no such message), drops its visitor when
    the lifetime ends."""
    lab.go("visit1", lifetime=6, reregister_margin=2, reverse_tunnel=True)
    assert lab.holds_state("ha")
    lab.go("home", lifetime=6, reregister_margin=2, reverse_tunnel=True)
    assert lab.binding() == []
    assert lab.mipd_state("ha") == {"routes": [], "rules": [], "proxy": [], "neigh": []}
    assert counters(lab, "ha", "home_agent").get("accepted.deregistration", 0) >= 1
    wait_for(lambda: not lab.holds_state("fa1"), 15, "FA1's visitor entry to expire")
    assert [v for v in lab["fa1"].ctl("visitors") if v["home_address"] == HOA] == []


def test_home_agent_killed_restores_forwarding_from_its_database(lab):
    """§3.8.1: bindings survive a crash. The HA is killed with SIGKILL mid-stream (its TUN device,
    and so the tunnel route, vanish with it); restarted, it reinstalls the binding from SQLite and
    the stream resumes without the MN registering again."""
    lab.go("visit1", lifetime=300)  # a fresh registration: no renewal due during the test
    flow = lab.flow("cn", "mn", HOA)
    assert flow.flowing()
    [before] = lab.binding()

    lab["ha"].kill9()
    assert lab.mipd_state("ha")["routes"] == []
    lab["ha"].start()
    assert flow.flowing(30)
    [after] = lab.binding()
    for key in ("care_of_address", "identification", "expires", "encap", "reverse", "lifetime"):
        assert after[key] == before[key], key
    ha = counters(lab, "ha", "home_agent")
    assert ha.get("binding.restored") == 1
    assert ha.get("rx.request", 0) == 0  # nothing from the MN since the restart
    assert_bound_via(lab, FA1)


def test_wrong_key_is_refused_with_131_and_changes_nothing(lab):
    """§3.8.2.1: a request whose authenticator does not verify is denied with 131; the HA keeps the
    existing binding untouched and FA2 sets nothing up for the refused node. The HA signs the
    denial with the key it holds, which the MN (holding another) cannot verify: §3.6.2.1 makes the
    MN discard it as a security exception, so the MN records no reply code, only the discard."""
    lab.go("visit1")
    if lab.holds_state("fa2") or lab["fa2"].ctl("visitors"):
        lab.reset_agent("fa2")  # an earlier test's visitor entry would blur "nothing changed"
    [before] = lab.binding()
    ha_state = lab.mipd_state("ha")
    denied_before = counters(lab, "ha", "home_agent").get("denied.131", 0)
    try:
        lab["mn"].stop()
        lab.attach_mn("visit2")
        lab.configure_mn(key=WRONG_KEY)  # starts the MN with the wrong key, on FA2's link
        wait_for(lambda: counters(lab, "ha", "home_agent").get("denied.131", 0) > denied_before, 20,
                 "the HA to deny the request with 131")
        ha = counters(lab, "ha", "home_agent")
        assert ha.get("security.mn_auth_failed", 0) >= 1
        wait_for(lambda: counters(lab, "mn", "mobile_node").get("discard.mhae_invalid", 0) >= 1, 10,
                 "the MN to discard the 131 reply it cannot authenticate")
        status = lab.registration()
        assert (status["registered"], status["last_reply_code"], status["care_of_address"]) == (False, None, FA2)
        assert counters(lab, "fa2", "foreign_agent").get("reply.131", 0) >= 1  # FA2 relayed the denial
        [after] = lab.binding()
        for key in ("care_of_address", "identification", "expires", "encap", "reverse", "lifetime"):
            assert after[key] == before[key], key
        assert lab.mipd_state("ha") == ha_state
        assert lab["fa2"].ctl("visitors") == [] and lab["fa2"].ctl("pending") == []
        assert not lab.holds_state("fa2")
    finally:
        lab.configure_mn()  # the right key again (restart); registers via FA2
    lab.wait_registered("visit2")
