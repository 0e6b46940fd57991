"""HA, FA and MN state machines against each other on the in-memory network (mipd.simnet).

End-to-end protocol behaviour without sockets: agent discovery (RFC 5944 §2), registration via a
foreign agent (§3), roaming FA1 -> FA2 -> home with the home agent's tunnel following the node
(§4.2-4.3), deregistration at home (§3.6, §4.6), key rotation with overlapping SPIs (§3.5), and
lifetime expiry (§3.7, §3.8).
"""

from __future__ import annotations

import pytest
from mipd.protocol import actions as A
from mipd.security import SecurityAssociation
from mipd.simnet import SimNet, standard_lab
from mipd.wire import registration as reg

NOW = 1_800_000_000.0
HOME = "10.1.0.10"
OLD = SecurityAssociation(HOME, 300, bytes(range(16)))
NEW = SecurityAssociation(HOME, 301, bytes(range(16, 32)))


def lab(**kw):
    return standard_lab(NOW, {"ha": [OLD], "mn": [OLD]}, **kw)


def ha_codes(lab_) -> list[int]:
    return [a.fields["code"] for _, n, a in lab_.net.trace if n == "ha" and isinstance(a, A.Log) and "code" in a.fields]


def test_registers_via_fa1_and_ha_tunnels_to_it():
    """§2.4 solicitation on link up, §3.7.2.2 relay, §3.8.2.2 binding, §4.2.3 tunnel to the FA."""
    lab_ = lab()
    lab_.move("visit1", NOW + 5)
    status = lab_.net.nodes["mn"].machine.status(lab_.net.now)
    assert (status.location, status.registered, status.care_of_address) == ("away", True, "10.2.0.1")
    assert [b.care_of_address for b in lab_.net.nodes["ha"].machine.bindings()] == ["10.2.0.1"]
    assert lab_.net.deliver_to_home("ha", "mn", HOME) == ["ha", "ipip tunnel", "fa1", "visit1", "mn"]
    fa1 = lab_.net.nodes["fa1"].machine
    assert [v.home_address for v in fa1.visitors()] == [HOME]


def test_handoff_completes_at_link_up_time():
    """§2.4: soliciting on link up makes the new registration complete without waiting for an advert."""
    lab_ = lab()
    lab_.move("visit1", NOW + 5.37)
    accepted = [t for t, n, a in lab_.net.trace if n == "mn" and isinstance(a, A.Log) and a.event == "registration"
                and a.fields["code"] == 0]
    assert accepted and accepted[0] == NOW + 5.37


def test_roams_fa1_fa2_home():
    """§3.8.2.2: each registration replaces the binding; returning home deregisters (§3.6, §4.6)."""
    lab_ = lab()
    lab_.move("visit1", NOW + 5)
    lab_.move("visit2", NOW + 20)
    assert lab_.net.deliver_to_home("ha", "mn", HOME) == ["ha", "ipip tunnel", "fa2", "visit2", "mn"]
    ha_dp = lab_.net.nodes["ha"].dataplane
    assert list(ha_dp.tunnels) == [("10.1.0.1", "10.3.0.1", "ipip")]
    lab_.move("home", NOW + 40)
    assert lab_.net.nodes["ha"].machine.bindings() == []
    assert lab_.net.deliver_to_home("ha", "mn", HOME) == ["ha", "home link", "mn"]
    assert not ha_dp.tunnels and not ha_dp.tunnel_routes and not ha_dp.proxy_arp
    assert all(c == 0 for c in ha_codes(lab_))


def test_fa1_visitor_expires_silently_after_the_move():
    """§3.7: the old FA's visitor entry expires on its own; it sends nothing for it."""
    lab_ = lab(lifetime=60)
    lab_.move("visit1", NOW + 5)
    lab_.move("visit2", NOW + 10)
    sent_before = sum(1 for _, n, a in lab_.net.trace if n == "fa1" and isinstance(a, A.SendUDP))
    lab_.net.run(NOW + 70)
    fa1 = lab_.net.nodes["fa1"]
    assert fa1.machine.visitors() == [] and not fa1.dataplane.tunnels and not fa1.dataplane.host_routes
    assert sum(1 for _, n, a in lab_.net.trace if n == "fa1" and isinstance(a, A.SendUDP)) == sent_before


def test_reregisters_before_lifetime_runs_out():
    """§3.6: the node re-registers before its binding expires; the HA binding never lapses."""
    lab_ = lab(lifetime=30)
    lab_.move("visit1", NOW + 5)
    for t in range(10, 120, 5):
        lab_.net.run(NOW + t)
        assert lab_.net.deliver_to_home("ha", "mn", HOME) is not None, t
    assert ha_codes(lab_).count(0) >= 4


def test_key_rotation_with_overlap_has_no_failed_registration():
    """§3.5: add the new SPI at the HA, move the node to it, then remove the old one: every
    registration on the way is accepted, and the last ones use the new SPI."""
    lab_ = lab(lifetime=30)
    ha, mn = lab_.net.nodes["ha"].machine, lab_.net.nodes["mn"].machine
    from mipd.security import SecurityAssociations

    lab_.move("visit1", NOW + 5)
    lab_.net.execute("ha", ha.on_config(ha.config, SecurityAssociations([OLD, NEW]), lab_.net.now))
    lab_.net.execute("mn", mn.on_config(mn.config, SecurityAssociations([OLD, NEW]), lab_.net.now))
    lab_.net.run(NOW + 60)
    lab_.net.execute("ha", ha.on_config(ha.config, SecurityAssociations([NEW]), lab_.net.now))
    lab_.net.execute("mn", mn.on_config(mn.config, SecurityAssociations([NEW]), lab_.net.now))
    lab_.net.run(NOW + 120)
    assert ha_codes(lab_) and set(ha_codes(lab_)) == {0}
    requests = [reg.decode(p.data) for p in lab_.net.nodes["ha"].received if not p.icmp]
    assert requests[-1].find(32).spi == 301
    assert lab_.net.deliver_to_home("ha", "mn", HOME) is not None


def test_wrong_key_is_refused_131_and_changes_nothing():
    """§3.8.2.1 a: a node with the wrong key gets 131; no binding, no tunnel."""
    wrong = SecurityAssociation(HOME, 300, b"not-the-right-key")
    lab_ = standard_lab(NOW, {"ha": [OLD], "mn": [wrong]})
    lab_.move("visit1", NOW + 5)
    assert 131 in ha_codes(lab_)
    assert lab_.net.nodes["ha"].machine.bindings() == []
    assert not lab_.net.nodes["ha"].dataplane.tunnels
    assert lab_.net.deliver_to_home("ha", "mn", HOME) is None


@pytest.mark.parametrize("encap", ["gre", "minimal"])
def test_gre_and_minimal_encapsulation(encap):
    """§3.3 G/M bits: the tunnel uses the encapsulation the node asked for and the agents offer."""
    lab_ = lab(encapsulation=encap)
    lab_.move("visit2", NOW + 5)
    assert lab_.net.deliver_to_home("ha", "mn", HOME) == ["ha", f"{encap} tunnel", "fa2", "visit2", "mn"]


def test_reverse_tunnel_installed_at_fa():
    """RFC 3024 §5.2: with T granted the FA tunnels the node's packets back to the HA."""
    lab_ = lab(reverse_tunnel=True)
    lab_.move("visit1", NOW + 5)
    assert lab_.net.nodes["fa1"].dataplane.reverse == {HOME: ("10.2.0.1", "10.1.0.1", "ipip")}
    lab_ = lab(reverse_tunnel=False)
    lab_.move("visit1", NOW + 5)
    assert lab_.net.nodes["fa1"].dataplane.reverse == {}


# ============================================================================ the network itself


class _Recorder:
    """A machine that records the times it is told and answers with `script` actions."""

    def __init__(self, *script: A.Action) -> None:
        self.script, self.seen = list(script), []

    def start(self, now):
        self.seen.append(("start", now))
        return self.script

    def on_packet(self, pkt, now):
        self.seen.append((pkt.data, pkt.interface, now))
        return []

    def on_timer(self, key, now):
        self.seen.append((key, now))
        return []


def test_a_skewed_node_lives_in_its_own_time():
    """RFC 5944 §5.7.1 needs clocks that disagree: a node 100 s behind is told its own time, and a
    timer it arms for its own +10 s fires 10 s later on the network."""
    net = SimNet(NOW)
    slow = _Recorder(A.ArmTimer("t", NOW - 100 + 10), A.SendUDP("10.0.0.2", b"x", interface="eth0"))
    peer = _Recorder()
    net.add("slow", slow, {"eth0": ("lan", "10.0.0.1")}, clock_skew=-100.0)
    net.add("peer", peer, {"eth0": ("lan", "10.0.0.2")})
    net.start("slow")
    net.run(NOW + 9.9)
    assert slow.seen == [("start", NOW - 100)] and peer.seen == [(b"x", "eth0", NOW)]
    net.run(NOW + 20)
    assert slow.seen[1:] == [("t", NOW - 100 + 10)] and net.clock("slow") == NOW + 20 - 100


def test_an_interface_bound_send_to_an_off_link_address_is_routed():
    """RFC 5944 §3.6.1.1 (co-located care-of address): a unicast bound to an interface reaches an
    off-link destination through the link's router; one addressed to a link-layer address, or
    multicast, stays on the link."""
    net = SimNet(NOW)
    mn = _Recorder(
        A.SendUDP("10.1.0.1", b"routed", source="203.0.113.7", interface="eth0"),
        # the HA's link-layer address, but the HA is not on this link
        A.SendUDP("10.1.0.1", b"link-layer", interface="eth0", lladdr="02:00:00:00:00:01"),
        A.SendICMP("224.0.0.2", b"group", "eth0"),
    )
    ha = _Recorder()
    net.add("ha", ha, {"home0": ("home", "10.1.0.1")})
    net.add("mn", mn, {"eth0": ("foreign", "203.0.113.7")})
    net.start("mn")
    net.run(NOW)
    assert ha.seen == [(b"routed", "home0", NOW)]
    assert [p.source for p in net.nodes["ha"].received] == ["203.0.113.7"]
