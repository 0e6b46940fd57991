"""`mipd run` as a mobile node in a namespace made for the test. The test plays a foreign agent with
raw frames on the other end of the node's veth: the node hears the advertisement (and learns the
agent's link-layer address), sends its request to that address without ARP (RFC 5944 §3.6.1.1,
§4.6), takes the reply, installs its routes (§4.2.1), reports it through mipctl, reacts to the
link going down (§2.4.2), and leaves nothing behind on SIGTERM."""

from __future__ import annotations

import signal
import time

import pytest
import runtime_helpers as h
from mipd.dataplane.netlink import mac_to_bytes, mac_to_str
from mipd.protocol import codes
from mipd.runtime import frames
from mipd.runtime.sockets import PacketSocket
from mipd.security import SecurityAssociation, sign, verify
from mipd.wire import icmp
from mipd.wire import registration as reg
from mipd.wire.extensions import MHAE

pytestmark = pytest.mark.netns

LINK, PEER = "mn-eth0", "mn-peer"
FA = "10.2.0.1"
KEYS = {"security_associations": [{"peer": h.HA_ADDRESS, "spi": h.SPI, "key": h.KEY_HEX}]}


def setup(ns: h.Netns) -> None:
    h.ip("link", "add", LINK, "type", "veth", "peer", "name", PEER, ns=ns.name)
    for dev in (LINK, PEER):
        h.ip("link", "set", dev, "up", ns=ns.name)
    h.ip("addr", "add", f"{h.HOME}/32", "dev", "lo", ns=ns.name)  # the home address lives on lo (dataplane/host.py)
    ns.run("sh", "-c", "echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter; "
                       f"echo 0 > /proc/sys/net/ipv4/conf/{LINK}/rp_filter")


def mn_config() -> dict:
    cfg = h.config(home_agent=None, mobile_node={**h.MN_SECTION, "interfaces": [LINK], "lifetime": 600})
    cfg["dataplane"] = {"backend": h.os.environ.get("MIPD_TEST_BACKEND", "userspace"), "tun": "mip0"}
    return cfg


def advertisement(fa: PacketSocket, sequence: int = 0) -> bytes:
    adv = icmp.AgentAdvertisement(lifetime=3, sequence=sequence, registration_lifetime=1800, flags=icmp.ADV_F,
                                  care_of_addresses=[FA], routers=[(FA, 0)], prefix_lengths=[24])
    return frames.icmp_frame(fa.mac, frames.multicast_mac("224.0.0.1"), FA, "224.0.0.1", adv.encode(), ttl=1)


def kernel_state(ns: h.Netns) -> tuple[str, str, str, str]:
    return (ns.run("ip", "-4", "route", "show", "table", "all").stdout, ns.run("ip", "-4", "neigh").stdout,
            ns.run("cat", f"/proc/sys/net/ipv4/conf/{LINK}/arp_ignore").stdout,
            ns.run("cat", f"/proc/sys/net/ipv4/conf/{LINK}/arp_announce").stdout)


def test_mobile_node_registers_through_a_foreign_agent(netns, tmp_path):
    setup(netns)
    before = kernel_state(netns)
    mipd = h.Mipd(netns, h.write(tmp_path, mn_config(), KEYS))
    fa = h.in_netns(netns.name, lambda: PacketSocket(PEER, True, (icmp.ICMP_ROUTER_SOLICITATION,)))
    try:
        mipd.start()
        # The node looks for agents at once (§2.4).
        h.receive(fa, lambda m, r: r.proto == 1 and r.dest == "224.0.0.11")
        fa.send(advertisement(fa))
        mac, rx = h.receive(fa, lambda m, r: r.proto == 17 and r.dest == FA)
        mn_mac = mac
        req = reg.decode(rx.payload)
        assert isinstance(req, reg.RegistrationRequest)
        assert (rx.source, req.home_address, req.home_agent, req.care_of_address) == (h.HOME, h.HOME, h.HA_ADDRESS, FA)
        assert verify(SecurityAssociation(h.HOME, h.SPI, h.KEY), req.raw, req.find(MHAE)) == "hmac-md5"
        status = mipd.ctl_json("registration")
        assert status["pending"] is True and status["registered"] is False

        rep = reg.RegistrationReply(codes.ACCEPTED, 600, h.HOME, h.HA_ADDRESS, req.identification)
        reply = sign(SecurityAssociation(h.HA_ADDRESS, h.SPI, h.KEY), rep.encode(), MHAE)
        fa.send(frames.udp_frame(fa.mac, mac_to_bytes(mn_mac), FA, h.HOME, 434, rx.source_port, reply, ttl=64))

        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not mipd.ctl_json("registration")["registered"]:
            time.sleep(0.05)
        status = mipd.ctl_json("registration")
        assert status["registered"] is True and status["location"] == "away"
        assert (status["care_of_address"], status["agent_address"], status["interface"]) == (FA, FA, LINK)
        assert status["last_reply_code"] == 0 and status["last_reply_name"] == "registration accepted"
        assert 590 <= status["lifetime_left"] <= 600
        human = mipd.ctl("registration").stdout
        assert "last reply:" in human and "0 (registration accepted)" in human

        if mn_config()["dataplane"]["backend"] == "userspace":
            routes = netns.run("ip", "-4", "route").stdout
            assert f"default via {FA} dev {LINK}" in routes and f"src {h.HOME}" in routes
            neigh = netns.run("ip", "-4", "neigh", "show", FA).stdout
            assert mac_to_str(fa.mac) in neigh and "PERMANENT" in neigh  # §4.6: no ARP for the agent
            assert kernel_state(netns)[2].strip() == "1"  # no ARP replies for the home address away (§4.6)

        # Link-layer movement indication (§2.4.2): the link goes down, the node notices at once.
        h.ip("link", "set", PEER, "down", ns=netns.name)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and mipd.ctl_json("registration")["location"] != "detached":
            time.sleep(0.02)
        assert mipd.ctl_json("registration")["location"] == "detached"
        assert f"link {LINK} down" in mipd.log_text()

        mipd.signal(signal.SIGTERM)
        assert mipd.wait() == 0
        assert kernel_state(netns) == before
        assert h.KEY_HEX not in mipd.log_text()
    finally:
        fa.close()
        mipd.stop()
