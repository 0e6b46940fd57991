"""Link-layer frames (mipd.runtime.frames) checked against scapy as an independent decoder and
encoder, and the packet-socket BPF filter (mipd.runtime.sockets) on a real veth pair."""

from __future__ import annotations

import time

import pytest
import runtime_helpers as h
from mipd.dataplane.netlink import mac_to_bytes, mac_to_str
from mipd.runtime import frames
from mipd.runtime.sockets import PacketSocket, bpf_filter
from mipd.wire import icmp
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether

SRC_MAC, DST_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"


def test_udp_frame_decodes_with_scapy():
    payload = bytes(range(37))
    raw = frames.udp_frame(mac_to_bytes(SRC_MAC), mac_to_bytes(DST_MAC), "10.2.0.1", "10.1.0.10", 434,
                           5555, payload, ttl=1, ident=77)
    pkt = Ether(raw)
    assert (pkt.src, pkt.dst, pkt.type) == (SRC_MAC, DST_MAC, 0x0800)
    ip = pkt[IP]
    assert (ip.src, ip.dst, ip.ttl, ip.proto, ip.id, ip.len, ip.flags, ip.frag) == (
        "10.2.0.1", "10.1.0.10", 1, 17, 77, 20 + 8 + 37, 0, 0)
    udp = pkt[UDP]
    assert (udp.sport, udp.dport, udp.len, bytes(udp.payload)) == (434, 5555, 8 + 37, payload)
    # scapy recomputes both checksums from scratch: they must match ours
    clean = Ether(raw)
    del clean[IP].chksum
    del clean[UDP].chksum
    rebuilt = Ether(bytes(clean))
    assert (rebuilt[IP].chksum, rebuilt[UDP].chksum) == (ip.chksum, udp.chksum)


def test_icmp_frame_decodes_with_scapy():
    adv = icmp.AgentAdvertisement(3, sequence=5, registration_lifetime=1800, flags=icmp.ADV_F,
                                  care_of_addresses=["10.2.0.1"], routers=[("10.2.0.1", 0)]).encode()
    raw = frames.icmp_frame(mac_to_bytes(SRC_MAC), frames.multicast_mac("224.0.0.1"), "10.2.0.1", "224.0.0.1",
                            adv, ttl=1)
    pkt = Ether(raw)
    assert pkt.dst == "01:00:5e:00:00:01" and pkt[IP].ttl == 1 and pkt[IP].proto == 1
    assert pkt[ICMP].type == 9 and bytes(pkt[IP].payload) == adv


def test_parse_frame_reads_what_scapy_builds():
    payload = b"\x01" + bytes(40)
    raw = bytes(Ether(src=SRC_MAC, dst=DST_MAC) / IP(src="10.1.0.10", dst="10.2.0.1", ttl=255) /
                UDP(sport=434, dport=434) / payload)
    mac, rx = frames.parse_frame(raw)
    assert mac == SRC_MAC
    assert (rx.source, rx.dest, rx.ttl, rx.proto, rx.source_port, rx.dest_port, rx.payload) == (
        "10.1.0.10", "10.2.0.1", 255, 17, 434, 434, payload)
    solicit = bytes(Ether(src=SRC_MAC) / IP(src="0.0.0.0", dst="224.0.0.11", ttl=1) / ICMP(type=10))
    mac, rx = frames.parse_frame(solicit)
    assert rx.proto == 1 and isinstance(icmp.decode(rx.payload), icmp.AgentSolicitation)


@pytest.mark.parametrize("mangle", ["udp-checksum", "ip-checksum", "fragment", "truncated", "not-ipv4", "tcp"])
def test_parse_frame_refuses_bad_frames(mangle):
    pkt = Ether(src=SRC_MAC, dst=DST_MAC) / IP(src="10.1.0.10", dst="10.2.0.1") / UDP(sport=434, dport=434)
    pkt = pkt / (b"x" * 30)
    if mangle == "fragment":
        pkt[IP].flags = "MF"
    if mangle == "tcp":
        pkt = Ether(src=SRC_MAC) / IP(src="10.1.0.10", dst="10.2.0.1", proto=6) / (b"\0" * 20)
    raw = bytearray(bytes(pkt))
    if mangle == "udp-checksum":
        raw[14 + 20 + 6] ^= 0xFF
    elif mangle == "ip-checksum":
        raw[14 + 10] ^= 0xFF
    elif mangle == "truncated":
        raw = raw[:14 + 20 + 4]
    elif mangle == "not-ipv4":
        raw[12:14] = b"\x86\xdd"
    assert frames.parse_frame(bytes(raw)) is None


def test_unchecked_udp_checksum_is_accepted_when_offload_pending():
    raw = bytearray(bytes(Ether() / IP(src="10.1.0.10", dst="10.2.0.1") / UDP(sport=434, dport=434) / b"abc"))
    raw[14 + 20 + 6] ^= 0xFF  # what a packet socket sees before checksum offload fills it in
    assert frames.parse_frame(bytes(raw)) is None
    assert frames.parse_frame(bytes(raw), check_udp=False)[1].payload == b"abc"


def test_dest_mac():
    assert frames.dest_mac("10.1.0.10", DST_MAC) == mac_to_bytes(DST_MAC)
    assert frames.dest_mac("224.0.0.11", None) == bytes.fromhex("01005e00000b")
    assert frames.dest_mac("255.255.255.255", None) == b"\xff" * 6
    with pytest.raises(ValueError):
        mac_to_bytes("02:00")


def test_bpf_program_shape():
    prog = bpf_filter(True, (10,))
    assert len(prog) % 8 == 0 and len(prog) // 8 == 14
    assert len(bpf_filter(False, ())) // 8 == 8  # header checks, then drop


@pytest.mark.netns
def test_packet_socket_filter_on_a_veth(netns):
    """Only UDP to 434 and the wanted ICMP types reach the socket; the sender's MAC comes with them."""
    h.ip("link", "add", "pk-a", "type", "veth", "peer", "name", "pk-b", ns=netns.name)
    for dev in ("pk-a", "pk-b"):
        h.ip("link", "set", dev, "up", ns=netns.name)
    rx = h.in_netns(netns.name, lambda: PacketSocket("pk-a", True, (10,)))
    tx = h.in_netns(netns.name, lambda: PacketSocket("pk-b", False, ()))
    try:
        src = tx.mac
        base = Ether(src=mac_to_str(src), dst="ff:ff:ff:ff:ff:ff") / IP(src="10.2.0.9", dst="10.2.0.1")
        sent = {
            "udp434": base / UDP(sport=434, dport=434) / b"\x01wanted",
            "udp435": base / UDP(sport=434, dport=435) / b"unwanted",
            "solicit": base / ICMP(type=10),
            "echo": base / ICMP(type=8),
            "advert": base / ICMP(type=9),
        }
        for p in sent.values():
            tx.send(bytes(p))
        got: list[bytes] = []
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and len(got) < 2:
            got += [f for f, _ in rx.recv_batch(16)]
            time.sleep(0.01)
        time.sleep(0.1)
        got += [f for f, _ in rx.recv_batch(16)]
        kinds = [frames.parse_frame(f)[1] for f in got]
        assert [(k.proto, k.payload[:1]) for k in kinds] == [(17, b"\x01"), (1, b"\x0a")]
        assert {frames.parse_frame(f)[0] for f in got} == {mac_to_str(src)}
        assert tx.recv_batch(16) == []  # a send-only socket takes nothing in
    finally:
        rx.close()
        tx.close()


def test_multicast_mac_mapping_matches_rfc1112():
    assert frames.multicast_mac("224.0.0.1") == bytes.fromhex("01005e000001")
    assert frames.multicast_mac("239.255.1.2") == bytes.fromhex("01005e7f0102")
    assert frames.multicast_mac("224.128.0.1") == bytes.fromhex("01005e000001")  # only the low 23 bits map
