"""`mipd run` as a foreign agent in a namespace made for the test. The test plays the visiting mobile
node with raw frames on the other end of the served veth (so the agent must use the node's
link-layer address, RFC 5944 §3.7.1, §3.7.2.3) and the home agent with a UDP socket."""

from __future__ import annotations

import signal
import time

import pytest
import runtime_helpers as h
from mipd.dataplane.netlink import mac_to_str
from mipd.protocol import codes
from mipd.runtime import frames
from mipd.runtime.sockets import PacketSocket
from mipd.security import SecurityAssociation, sign
from mipd.wire import icmp
from mipd.wire import registration as reg
from mipd.wire.extensions import MHAE
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether

pytestmark = pytest.mark.netns

SERVED, PEER = "fa-visit", "fa-peer"
FA = "10.2.0.1"
NO_KEYS = {"security_associations": []}  # no SA with the node or the HA: no MFAE / FHAE required


def setup(ns: h.Netns) -> None:
    h.ip("link", "add", SERVED, "type", "veth", "peer", "name", PEER, ns=ns.name)
    h.ip("addr", "add", f"{FA}/24", "dev", SERVED, ns=ns.name)
    for dev in (SERVED, PEER):
        h.ip("link", "set", dev, "up", ns=ns.name)
    h.ip("addr", "add", f"{h.HA_ADDRESS}/32", "dev", "lo", ns=ns.name)  # the (test's) home agent


def fa_config() -> dict:
    cfg = h.config(home_agent=None, foreign_agent=h.FA_SECTION)
    cfg["dataplane"] = {"backend": h.os.environ.get("MIPD_TEST_BACKEND", "userspace"), "tun": "mip0"}
    cfg["foreign_agent"]["interfaces"][0]["name"] = SERVED
    cfg["foreign_agent"]["advertisement"] = {"interval": 0.5, "lifetime": 3}
    return cfg


@pytest.fixture
def fa(netns, tmp_path):
    setup(netns)
    mipd = h.Mipd(netns, h.write(tmp_path, fa_config(), NO_KEYS))
    try:
        yield mipd.start()
    finally:
        mipd.stop()


def test_advertisements_periodic_and_solicited(fa, netns):
    mn = h.in_netns(netns.name, lambda: PacketSocket(PEER, False, (icmp.ICMP_ROUTER_ADVERTISEMENT,)))
    try:
        fa_mac = h.in_netns(netns.name, lambda: PacketSocket(SERVED, False, ())).mac
        mac, rx = h.receive(mn, lambda m, r: r.proto == 1)
        adv = icmp.decode(rx.payload)
        assert mac == mac_to_str(fa_mac) and rx.ttl == 1 and rx.dest == "224.0.0.1" and rx.source == FA
        assert adv.flags & icmp.ADV_F and adv.care_of_addresses == [FA] and adv.lifetime == 3
        assert adv.prefix_lengths == [24]
        # A solicitation is answered at once (§2.3), well before the next periodic one could come.
        time.sleep(0.1)
        mn.recv_batch(64)
        solicit = Ether(src=mac_to_str(mn.mac), dst="01:00:5e:00:00:0b") / IP(
            src="0.0.0.0", dst="224.0.0.11", ttl=1) / ICMP(type=10)
        t0 = time.monotonic()
        mn.send(bytes(solicit))
        h.receive(mn, lambda m, r: r.proto == 1, timeout=1.0)
        assert time.monotonic() - t0 < 0.4
        assert fa.ctl_json("counters")["roles"]["foreign_agent"]["rx.solicitation"] >= 1
    finally:
        mn.close()


def test_visitor_registration_relayed_both_ways(fa, netns):
    mn = h.in_netns(netns.name, lambda: PacketSocket(PEER, True, ()))
    home_agent = h.udp_socket(netns.name, h.HA_ADDRESS, 434)
    try:
        mn_mac = mac_to_str(mn.mac)
        ident = 0xE8FE6F80_80000000 | int(time.time()) & 0xFFFF
        req = reg.RegistrationRequest(reg.FLAG_T, 600, h.HOME, h.HA_ADDRESS, FA, ident)
        data = sign(SecurityAssociation(h.HOME, h.SPI, h.KEY), req.encode(), MHAE)
        frame = frames.udp_frame(mn.mac, b"\xff" * 6, h.HOME, FA, 434, 434, data, ttl=255)
        mn.send(frame)

        relayed, (src, sport) = home_agent.recvfrom(4096)
        assert relayed == data and (src, sport) == (FA, 434)  # §3.7.2.2: relayed unchanged, from the CoA
        pending = fa.ctl_json("pending")
        assert [(p["home_address"], p["lladdr"]) for p in pending] == [(h.HOME, mn_mac)]

        rep = reg.RegistrationReply(codes.ACCEPTED, 600, h.HOME, h.HA_ADDRESS, ident)
        reply = sign(SecurityAssociation(h.HOME, h.SPI, h.KEY), rep.encode(), MHAE)
        home_agent.sendto(reply, (FA, 434))

        # §3.7.2.3/§3.7.3.2: to the home address, on the visited link, to the node's link-layer address.
        mac, rx = h.receive(mn, lambda m, r: r.proto == 17 and r.payload[:1] == b"\x03")
        assert rx.dest == h.HOME and rx.source == FA and rx.dest_port == 434 and rx.payload == reply
        visitors = fa.ctl_json("visitors")
        assert [(v["home_address"], v["care_of_address"], v["lladdr"], v["reverse_tunnel"]) for v in visitors] == [
            (h.HOME, FA, mn_mac, True)]
        assert fa.ctl_json("pending") == []
        assert "reply-relayed" in fa.log_text() and h.KEY_HEX not in fa.log_text()
        if fa_config()["dataplane"]["backend"] == "userspace":
            neigh = netns.run("ip", "neigh", "show", "dev", SERVED).stdout
            assert h.HOME in neigh and mn_mac in neigh  # §4.2.2: no ARP for the visitor
    finally:
        mn.close()
        home_agent.close()


def kernel_state(ns: h.Netns) -> tuple[list[str], str, str, str]:
    """Links (names), IPv4 routes of every table, rules, neighbours on the served link."""
    links = sorted(line.split(":")[1].strip() for line in ns.run("ip", "-o", "link").stdout.splitlines())
    return (links, ns.run("ip", "-4", "route", "show", "table", "all").stdout, ns.run("ip", "-4", "rule").stdout,
            ns.run("ip", "-4", "neigh", "show", "dev", SERVED).stdout)


def register_visitor(mn: PacketSocket, home_agent, ident: int = 0xE8FE6F80_00000001) -> None:
    """A request from the node on the link, relayed to the (test) home agent, accepted, relayed back."""
    data = sign(SecurityAssociation(h.HOME, h.SPI, h.KEY),
                reg.RegistrationRequest(0, 600, h.HOME, h.HA_ADDRESS, FA, ident).encode(), MHAE)
    mn.send(frames.udp_frame(mn.mac, b"\xff" * 6, h.HOME, FA, 434, 434, data, ttl=1))
    home_agent.recvfrom(4096)
    reply = sign(SecurityAssociation(h.HOME, h.SPI, h.KEY),
                 reg.RegistrationReply(0, 600, h.HOME, h.HA_ADDRESS, ident).encode(), MHAE)
    home_agent.sendto(reply, (FA, 434))
    h.receive(mn, lambda m, r: r.proto == 17)


def test_visitor_survives_kill_9_and_sigterm_removes_its_state(netns, tmp_path):
    setup(netns)
    before = kernel_state(netns)
    mipd = h.Mipd(netns, h.write(tmp_path, fa_config(), NO_KEYS))
    mn = home_agent = None
    try:
        mipd.start()
        mn = h.in_netns(netns.name, lambda: PacketSocket(PEER, True, ()))
        home_agent = h.udp_socket(netns.name, h.HA_ADDRESS, 434)
        register_visitor(mn, home_agent)
        mipd.signal(signal.SIGKILL)
        mipd.wait()
        mipd.start()
        assert [v["home_address"] for v in mipd.ctl_json("visitors")] == [h.HOME]
        mipd.signal(signal.SIGTERM)
        assert mipd.wait() == 0
        assert kernel_state(netns) == before
    finally:
        for s in (mn, home_agent):
            if s is not None:
                s.close()
        mipd.stop()


def test_request_with_a_bad_home_agent_is_denied_on_the_link(fa, netns):
    mn = h.in_netns(netns.name, lambda: PacketSocket(PEER, True, ()))
    try:
        data = sign(SecurityAssociation(h.HOME, h.SPI, h.KEY),
                    reg.RegistrationRequest(0, 600, h.HOME, FA, FA, 1).encode(), MHAE)  # HA = the FA itself
        mn.send(frames.udp_frame(mn.mac, b"\xff" * 6, h.HOME, FA, 434, 434, data, ttl=1))
        mac, rx = h.receive(mn, lambda m, r: r.proto == 17)
        denial = reg.decode(rx.payload)
        assert denial.code == codes.FA_INVALID_HA_ADDRESS and rx.dest == h.HOME
        assert "registration-denied" in fa.log_text()
    finally:
        mn.close()


def test_icmp_error_about_a_relayed_request_is_a_denial(fa, netns):
    """Nothing listens on the home agent's port: the ICMP port unreachable (IP_RECVERR) becomes 82 (§3.7.3).

    The home agent is another namespace (nothing local may answer: mipd listens on every address)."""
    far = h.Netns()
    mn = None
    try:
        h.ip("link", "add", "fa-core", "type", "veth", "peer", "name", "ha-core", ns=netns.name)
        h.ip("link", "set", "ha-core", "netns", far.name, ns=netns.name)
        h.ip("addr", "add", "10.9.0.1/30", "dev", "fa-core", ns=netns.name)
        h.ip("addr", "add", "10.9.0.2/30", "dev", "ha-core", ns=far.name)
        h.ip("addr", "add", "10.3.0.1/32", "dev", "lo", ns=far.name)
        h.ip("link", "set", "fa-core", "up", ns=netns.name)
        h.ip("link", "set", "ha-core", "up", ns=far.name)
        h.ip("route", "add", "10.3.0.1/32", "via", "10.9.0.2", ns=netns.name)
        h.ip("route", "add", "10.2.0.0/24", "via", "10.9.0.1", ns=far.name)
        mn = h.in_netns(netns.name, lambda: PacketSocket(PEER, True, ()))
        data = sign(SecurityAssociation(h.HOME, h.SPI, h.KEY),
                    reg.RegistrationRequest(0, 600, h.HOME, "10.3.0.1", FA, 5).encode(), MHAE)
        mn.send(frames.udp_frame(mn.mac, b"\xff" * 6, h.HOME, FA, 434, 434, data, ttl=1))
        _mac, rx = h.receive(mn, lambda m, r: r.proto == 17)
        assert reg.decode(rx.payload).code == codes.FA_HA_PORT_UNREACHABLE
        assert fa.ctl_json("counters")["runtime"]["rx.icmp_error"] >= 1  # with forwarding on, maybe 2
        assert fa.ctl_json("pending") == []
    finally:
        if mn is not None:
            mn.close()
        far.close()
