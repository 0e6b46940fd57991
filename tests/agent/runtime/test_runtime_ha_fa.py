"""One `mipd run` that is both home agent and foreign agent: requests taken from the served link go
to the foreign agent, the relayed copy (arriving locally) and other requests to the home agent,
replies to the foreign agent; the home agent advertises with H on its home link (RFC 5944 §2.3)."""

from __future__ import annotations

import time

import pytest
import runtime_helpers as h
from mipd.protocol import codes
from mipd.runtime import frames
from mipd.runtime.sockets import PacketSocket
from mipd.security import SecurityAssociation, sign
from mipd.security.replay import ntp_timestamp
from mipd.wire import icmp
from mipd.wire import registration as reg
from mipd.wire.extensions import MHAE

pytestmark = pytest.mark.netns

FA = "10.2.0.1"
KEYS = {"security_associations": [{"peer": h.HOME, "spi": h.SPI, "key": h.KEY_HEX, "roles": ["home_agent"]}]}


@pytest.fixture
def both(netns, tmp_path):
    for a, b, addr in (("fa-visit", "fa-peer", f"{FA}/24"), ("ha-home", "ha-peer", f"{h.HA_ADDRESS}/24")):
        h.ip("link", "add", a, "type", "veth", "peer", "name", b, ns=netns.name)
        h.ip("addr", "add", addr, "dev", a, ns=netns.name)
        h.ip("link", "set", a, "up", ns=netns.name)
        h.ip("link", "set", b, "up", ns=netns.name)
    h.ip("addr", "add", f"{h.COA}/32", "dev", "lo", ns=netns.name)
    cfg = h.config(foreign_agent={**h.FA_SECTION, "interfaces": [{"name": "fa-visit", "address": FA}]})
    cfg["dataplane"] = {"backend": "none"}  # HA and FA of one node on one host would fight over its /32 route
    cfg["home_agent"].update({"interface": "ha-home", "advertisement": {"interval": 0.5, "lifetime": 3}})
    mipd = h.Mipd(netns, h.write(tmp_path, cfg, KEYS))
    try:
        yield mipd.start()
    finally:
        mipd.stop()


def test_visitor_registers_through_our_foreign_agent_with_our_home_agent(both, netns):
    mn = h.in_netns(netns.name, lambda: PacketSocket("fa-peer", True, ()))
    try:
        ident = ntp_timestamp(time.time())  # the home agent checks it (§5.7.1)
        data = sign(SecurityAssociation(h.HOME, h.SPI, h.KEY),
                    reg.RegistrationRequest(0, 600, h.HOME, h.HA_ADDRESS, FA, ident).encode(), MHAE)
        mn.send(frames.udp_frame(mn.mac, b"\xff" * 6, h.HOME, FA, 434, 434, data, ttl=1))
        _mac, rx = h.receive(mn, lambda m, r: r.proto == 17 and r.payload[:1] == b"\x03")
        reply = reg.decode(rx.payload)
        assert reply.code == codes.ACCEPTED and h.reply_verifies(reply) and rx.dest == h.HOME
        assert [(b["home_address"], b["care_of_address"]) for b in both.ctl_json("bindings")] == [(h.HOME, FA)]
        assert [v["home_address"] for v in both.ctl_json("visitors")] == [h.HOME]
        counters = both.ctl_json("counters")["roles"]
        assert counters["foreign_agent"]["relayed.request"] == 1 and counters["foreign_agent"]["relayed.reply"] == 1
        assert counters["home_agent"]["accepted.registration"] == 1
        # The MN-HA SA is the home agent's only: the foreign agent asked for no MFAE.
        assert "denied.67" not in counters["foreign_agent"]
    finally:
        mn.close()


def test_direct_request_goes_to_the_home_agent(both, netns):
    sock = h.udp_socket(netns.name)
    try:
        data, _ = h.request()
        assert h.exchange(sock, data).code == codes.ACCEPTED
    finally:
        sock.close()
    assert both.ctl_json("counters")["roles"]["foreign_agent"].get("rx.request", 0) == 0


def test_home_agent_advertises_on_its_home_link(both, netns):
    peer = h.in_netns(netns.name, lambda: PacketSocket("ha-peer", False, (icmp.ICMP_ROUTER_ADVERTISEMENT,)))
    try:
        _mac, rx = h.receive(peer, lambda m, r: r.proto == 1)
        adv = icmp.decode(rx.payload)
        assert adv.flags & icmp.ADV_H and not adv.flags & icmp.ADV_F and rx.source == h.HA_ADDRESS and rx.ttl == 1
        time.sleep(0.05)
        peer.recv_batch(64)
        solicit = frames.icmp_frame(peer.mac, b"\xff" * 6, "0.0.0.0", "255.255.255.255",
                                    icmp.AgentSolicitation().encode())
        peer.send(solicit)
        h.receive(peer, lambda m, r: r.proto == 1, timeout=0.4)  # answered at once, not at the next period
        assert both.ctl_json("counters")["roles"]["home_agent"]["rx.solicitation"] == 1
    finally:
        peer.close()
