"""Userspace data plane in network namespaces: HA and FA agents tunnel real traffic.

Topology (conftest.Topology): CN - R - HA on the home link 10.1.0.0/24, R - FA (care-of
address 10.2.0.1) - MN (home address 10.1.0.50) on the visited link. The HA intercepts
datagrams for the home address with proxy ARP + a /32 route into the tunnel (RFC 5944 §4.2.3,
§4.6), the FA delivers them by host route and static neighbour (§4.2.2) and reverse-tunnels the
MN's datagrams to the HA (RFC 3024 §5.1). Captures on the R - FA link show what crossed R.
"""

from __future__ import annotations

import sys

import pytest
from dataplane_helpers import (
    PORT,
    Capture,
    Driver,
    DriverError,
    Topology,
    echo_server,
    kernel_state,
    start_agents,
    wait_for,
)
from mipd.ipv4 import checksum
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import GRE

pytestmark = pytest.mark.netns

PROTO = {"ipip": 4, "gre": 47, "minimal": 55}


def tunnel_packets(packets: list, proto: int) -> list:
    return [p for p in packets if IP in p and p[IP].proto == proto]


def inner_of(pkt, encap: str) -> IP:
    """The inner datagram of a captured tunnelled frame, decoded by scapy."""
    outer = pkt[IP]
    if encap == "ipip":
        return IP(bytes(outer.payload))
    if encap == "gre":
        gre = GRE(bytes(outer.payload))
        assert gre.proto == 0x0800 and gre.chksum_present == 0 and gre.version == 0
        return IP(bytes(gre.payload))
    raw = bytes(outer)
    ihl = outer.ihl * 4
    hlen = 12 if raw[ihl + 1] & 0x80 else 8
    fwd = raw[ihl : ihl + hlen]
    assert checksum(fwd) == 0
    hdr = bytearray(raw[:ihl])
    hdr[9] = fwd[0]
    hdr[16:20] = fwd[4:8]
    if hlen == 12:
        hdr[12:16] = fwd[8:12]
    total = outer.len - hlen
    hdr[2:4] = total.to_bytes(2, "big")
    hdr[10:12] = b"\x00\x00"
    return IP(bytes(hdr) + raw[ihl + hlen :])  # scapy checks nothing; fields compared below


@pytest.mark.parametrize("encap", ["ipip", "gre", "minimal"])
def test_forward_tunnel_cn_to_mn(topology: Topology, encap: str) -> None:
    """CN -> home address: intercepted by the HA (proxy ARP), tunnelled HA -> FA, decapsulated
    at the FA and delivered over the visitor host route; the MN answers directly (no reverse
    tunnel)."""
    topo = topology
    ha, fa = start_agents(topo, encap, reverse=False)
    echo_server(topo, "mn")
    cap = Capture(topo.ns, "rt", "rt-f", "ip proto 4 or ip proto 47 or ip proto 55")
    result = topo.ns.tool("cn", "udp-ping", topo.HOA, str(PORT), "--count", "3", "--size", "100")
    packets = cap.stop()
    assert result["received"] == 3, result
    tunnelled = tunnel_packets(packets, PROTO[encap])
    assert len(tunnelled) >= 3
    for pkt in tunnelled:
        outer = pkt[IP]
        assert (outer.src, outer.dst) == (topo.HA, topo.COA)
        inner = inner_of(pkt, encap)
        # pmtudisc (RFC 2003 §5.1) sets DF; minimal encapsulation leaves the sender's DF alone
        assert bool(outer.flags.DF) == (encap != "minimal" or bool(inner.flags.DF))
        assert (inner.src, inner.dst, inner.proto) == (topo.CN, topo.HOA, 17)
        assert inner[UDP].dport == PORT
        if encap != "minimal":
            assert outer.ttl == 63  # 64 at the HA, captured after R forwarded it
            assert outer.tos == inner.tos
            assert inner.ttl == 62  # CN -> R -> HA decremented it twice, the tunnel not at all
    c_ha, c_fa = ha("counters"), fa("counters")
    assert c_ha["encap_packets"] >= 3 and c_fa["decap_packets"] >= 3
    assert c_ha["dropped"] == 0 and c_fa["dropped"] == 0


@pytest.mark.parametrize("encap", ["ipip", "gre", "minimal"])
def test_reverse_tunnel_mn_to_cn(topology: Topology, encap: str) -> None:
    """MN -> CN with reverse tunnelling: FA tunnels datagrams *from* the home address to the HA
    (RFC 3024), the HA decapsulates and routes them to the CN; the CN's answers come back
    through the forward tunnel."""
    topo = topology
    ha, fa = start_agents(topo, encap, reverse=True)
    echo_server(topo, "cn")
    cap = Capture(topo.ns, "rt", "rt-f", "ip proto 4 or ip proto 47 or ip proto 55")
    result = topo.ns.tool("mn", "udp-ping", topo.CN, str(PORT), "--count", "3")
    packets = cap.stop()
    assert result["received"] == 3, result
    up = [p for p in tunnel_packets(packets, PROTO[encap]) if p[IP].src == topo.COA]
    down = [p for p in tunnel_packets(packets, PROTO[encap]) if p[IP].src == topo.HA]
    assert len(up) >= 3 and len(down) >= 3
    for pkt in up:
        assert pkt[IP].dst == topo.HA
        inner = inner_of(pkt, encap)
        assert (inner.src, inner.dst) == (topo.HOA, topo.CN)
    c_ha, c_fa = ha("counters"), fa("counters")
    assert c_fa["encap_packets"] >= 3 and c_ha["decap_packets"] >= 3
    assert c_ha["encap_packets"] >= 3 and c_fa["decap_packets"] >= 3


@pytest.mark.parametrize(("encap", "overhead"), [("ipip", 20), ("gre", 24), ("minimal", 12)])
def test_pmtu_frag_needed_from_encapsulator(topology: Topology, encap: str, overhead: int) -> None:
    """RFC 2003 §5.1: a DF datagram that does not fit the tunnel gets ICMP Fragmentation Needed
    from the HA with next-hop MTU = tunnel MTU - encapsulation overhead (minimal: 12, the
    original source is carried); a datagram without DF is fragmented (before encapsulation,
    or after it for minimal encapsulation, RFC 2004 §3) and arrives whole."""
    topo = topology
    ha, _fa = start_agents(topo, encap, reverse=False)
    echo_server(topo, "mn")
    big = topo.ns.tool("cn", "udp-ping", topo.HOA, str(PORT), "--size", "1472", "--count", "2")
    assert big["received"] == 2 and big["sizes"] == [1472, 1472]
    assert ha("counters")["fragmented"] == 2
    probe = topo.ns.tool("cn", "df-probe", topo.HOA, str(PORT), "1500")
    assert (probe["type"], probe["code"], probe["mtu"]) == (3, 4, 1500 - overhead), probe
    assert probe["offender"] == topo.HA
    assert probe["path_mtu"] == 1500 - overhead
    ok = topo.ns.tool("cn", "df-probe", topo.HOA, str(PORT), str(1500 - overhead),
                      "--attempts", "1")
    assert "type" not in ok  # fits: no error
    counters = ha("counters")
    assert counters["icmp_frag_needed_sent"] >= 1
    assert counters["dropped_too_big"] >= 1


def test_icmp_rate_limit(topology: Topology) -> None:
    """ICMP errors are rate-limited (icmp_rate per second; 0: never sent, only counted)."""
    topo = topology
    ha, _fa = start_agents(topo, "ipip", reverse=False, ha_opts={"icmp_rate": 0})
    probe = topo.ns.tool("cn", "df-probe", topo.HOA, str(PORT), "1500", "--attempts", "2",
                         "--timeout", "0.3")
    assert "type" not in probe
    # the datagrams may still be on their way (R resolves the home address by proxy ARP,
    # which Linux answers after up to proxy_delay)
    assert wait_for(lambda: ha("counters").get("dropped_too_big", 0) == 2)
    counters = ha("counters")
    assert counters["icmp_frag_needed_sent"] == 0
    assert counters["dropped_icmp_rate_limited"] == 2


def test_pmtu_soft_state_learnt_inside_tunnel(topology: Topology) -> None:
    """A router inside the tunnel with a smaller MTU reports it to the HA (the outer DF is set);
    the HA lowers the tunnel's soft state and answers the next too-big DF datagram itself with
    the smaller MTU - 20 (RFC 2003 §5, §5.1)."""
    topo = topology
    topo.ns.ip("rt", "link set rt-f mtu 1400")
    topo.ns.ip("fa", "link set fa-r mtu 1400")
    ha, _fa = start_agents(topo, "ipip", reverse=False)
    echo_server(topo, "mn")
    assert ha("tunnel_state", tunnel=ha.tunnel)["pmtu"] == 1500
    # 1450 fits the HA's idea of the tunnel (1480) but not R -> FA (1400): R answers the HA
    first = topo.ns.tool("cn", "df-probe", topo.HOA, str(PORT), "1450", "--attempts", "1")
    assert "type" not in first  # the sender hears nothing the first time (RFC 2003 §5.1)
    assert wait_for(lambda: ha("tunnel_state", tunnel=ha.tunnel)["pmtu"] < 1500)
    state = ha("tunnel_state", tunnel=ha.tunnel)
    assert state["pmtu"] == 1400 and state["mtu"] == 1500
    assert ha("counters")["pmtu_updates"] == 1
    probe = topo.ns.tool("cn", "df-probe", topo.HOA, str(PORT), "1450")
    assert (probe["type"], probe["code"], probe["mtu"]) == (3, 4, 1380), probe
    # the soft state ages out (RFC 1191 §6.3)
    assert ha("age_pmtu", now=1e12) == 1
    assert ha("tunnel_state", tunnel=ha.tunnel)["pmtu"] == 1500


def test_proxy_arp_answered_and_gratuitous_arp_seen(topology: Topology) -> None:
    """RFC 5944 §4.6: with a proxy entry the HA answers ARP for the home address with its own
    MAC; its gratuitous ARP is a broadcast with sender = target = home address."""
    topo = topology
    ns = topo.ns
    ha = Driver(ns, "ha")
    t = ha("add_tunnel", local=topo.HA, remote=topo.COA, encap="ipip")["id"]
    before = ns.tool("rt", "arp-probe", "rt-h", topo.HOA, "--timeout", "0.5", "--retry", "0")
    assert before == []  # nobody answers for the away MN yet
    ha("route_via_tunnel", dest=topo.HOA, tunnel=t)
    ha("proxy_arp", address=topo.HOA, dev="ha-h", on=True)
    answers = ns.tool("rt", "arp-probe", "rt-h", topo.HOA)
    assert answers and {a["hwsrc"] for a in answers} == {topo.mac("ha", "ha-h")}
    assert all(a["psrc"] == topo.HOA and a["op"] == 2 for a in answers)

    # R resolves the home address through its kernel (scapy above bypasses the ARP cache);
    # Linux delays proxy replies to broadcast requests by up to proxy_delay (0.8 s)
    assert ns.tool("rt", "udp-ping", topo.HOA, str(PORT), "--count", "1", "--timeout", "0.1")
    assert wait_for(lambda: topo.mac("ha", "ha-h") in ns.exec("rt", "ip", "neigh", "show",
                                                                topo.HOA).stdout)
    cap = Capture(ns, "rt", "rt-h", "arp")
    ha("gratuitous_arp", address=topo.HOA, dev="ha-h")
    mn_mac = "02:00:00:00:00:50"
    ha("gratuitous_arp", address=topo.HOA, dev="ha-h", lladdr=mn_mac)  # MN back home
    frames = [f for f in cap.stop() if f.haslayer("ARP")]
    assert len(frames) == 2
    for frame, mac in zip(frames, (topo.mac("ha", "ha-h"), mn_mac), strict=True):
        arp = frame["ARP"]
        assert frame.dst == "ff:ff:ff:ff:ff:ff" and frame.src == topo.mac("ha", "ha-h")
        assert (arp.op, arp.psrc, arp.pdst) == (1, topo.HOA, topo.HOA)
        assert arp.hwsrc == mac and arp.hwdst == "00:00:00:00:00:00"
    # R's ARP cache follows the gratuitous ARPs (RFC 826: it had an entry for the address)
    neigh = ns.exec("rt", "ip", "neigh", "show", topo.HOA).stdout
    assert mn_mac in neigh

    ha("proxy_arp", address=topo.HOA, dev="ha-h", on=False)
    assert ns.exec("ha", "ip", "neigh", "show", "proxy").stdout.strip() == ""
    after = ns.tool("rt", "arp-probe", "rt-h", topo.HOA, "--timeout", "0.5", "--retry", "0")
    assert after == []


def test_close_leaves_nothing_behind(topology: Topology) -> None:
    """close() removes every tunnel, route, rule, neighbour and proxy entry and the TUN device."""
    topo = topology
    ns = topo.ns
    clean = {role: kernel_state(ns, role) for role in ("ha", "fa")}
    ha, fa = start_agents(topo, "gre", reverse=True)
    t_ha2 = ha("add_tunnel", local=topo.HA, remote="10.2.0.99", encap="minimal")["id"]
    ha("route_via_tunnel", dest="10.1.0.51", tunnel=t_ha2)
    ha("reverse_tunnel", source="10.1.0.52", tunnel=t_ha2)  # colocated-MN style, no iif
    during = {role: kernel_state(ns, role) for role in ("ha", "fa")}
    assert "434" in during["fa"]["rules"] and "mip0" in during["fa"]["routes"]
    assert topo.HOA in during["ha"]["proxy"] and topo.HOA in during["fa"]["neigh"]
    assert "mip0" in during["ha"]["links"]
    ha("close")
    fa("close")
    assert {role: kernel_state(ns, role) for role in ("ha", "fa")} == clean


def test_remove_tunnel_refcount_and_unroute(topology: Topology) -> None:
    """add_tunnel is idempotent and reference-counted; the last remove_tunnel also removes the
    routes and rules into it."""
    topo = topology
    ns = topo.ns
    ha = Driver(ns, "ha")
    a = ha("add_tunnel", local=topo.HA, remote=topo.COA, encap="ipip")
    b = ha("add_tunnel", local=topo.HA, remote=topo.COA, encap="ipip", mtu=1400)
    assert a["id"] == b["id"] and b["refs"] == 2 and b["mtu"] == 1400
    c = ha("add_tunnel", local=topo.HA, remote=topo.COA, encap="gre")
    assert c["id"] != a["id"]
    ha("route_via_tunnel", dest=topo.HOA, tunnel=a["id"])
    ha("reverse_tunnel", source="10.1.0.60", tunnel=a["id"], iif="ha-h")
    ha("route_via_tunnel", dest=topo.HOA, tunnel=c["id"])  # moves the binding
    ha("remove_tunnel", tunnel=a["id"])
    assert "10.1.0.60" in ns.exec("ha", "ip", "rule").stdout  # one reference left
    ha("remove_tunnel", tunnel=a["id"])
    assert "10.1.0.60" not in ns.exec("ha", "ip", "rule").stdout
    assert topo.HOA in ns.exec("ha", "ip", "route").stdout  # still via the GRE tunnel
    ha("remove_tunnel", tunnel=c["id"])
    assert topo.HOA not in ns.exec("ha", "ip", "route").stdout
    with pytest.raises(DriverError, match="not .*open"):
        ha("remove_tunnel", tunnel=c["id"])
    with pytest.raises(DriverError, match="unknown encapsulation"):
        ha("add_tunnel", local=topo.HA, remote=topo.COA, encap="udp")
    with pytest.raises(DriverError, match="not an IPv4 address"):
        ha("add_tunnel", local=topo.HA, remote="10.2.0.300", encap="ipip")
    d = ha("add_tunnel", local=topo.HA, remote=topo.COA, encap="ipip")["id"]
    with pytest.raises(DriverError, match="tunnel endpoint"):  # RFC 2003 §3.2 loops
        ha("route_via_tunnel", dest=topo.COA, tunnel=d)
    with pytest.raises(DriverError, match="tunnel endpoint"):
        ha("reverse_tunnel", source=topo.HA, tunnel=d)
    ha("remove_tunnel", tunnel=d)
    assert ns.exec("ha", "ip", "route", "show", "table", "all", "proto", "173").stdout == ""


def test_not_an_open_decapsulator(topology: Topology) -> None:
    """Tunnelled datagrams from a non-peer, for a non-visitor, or malformed are dropped and
    counted; nothing reaches the MN. A datagram from the care-of address itself is not tunnelled
    back to it (RFC 2003 §3.2)."""
    topo = topology
    ns = topo.ns
    ha, fa = start_agents(topo, "ipip", reverse=False)
    echo_server(topo, "mn")
    inner = _udp_datagram(topo.CN, topo.HOA, PORT)
    # from R (10.2.0.254), which is not a tunnel peer of the FA
    spoofed = _ipip("10.2.0.254", topo.COA, inner)
    ns.tool("rt", "raw-send", topo.COA, spoofed.hex(), "--count", "3")
    # from the HA's address but for an address that is not a visitor (RFC 5944 §4.2.2)
    stranger = _ipip(topo.HA, topo.COA, _udp_datagram(topo.CN, "10.3.0.77", PORT))
    truncated = _ipip(topo.HA, topo.COA, inner[:30])  # inner Total Length beyond the data
    ttl0 = bytearray(inner)
    ttl0[8] = 0
    ns.exec("rt", "ip", "addr", "add", f"{topo.HA}/32", "dev", "rt-f")  # R spoofs the HA
    for data in (stranger, truncated, _ipip(topo.HA, topo.COA, bytes(ttl0))):
        ns.tool("rt", "raw-send", topo.COA, data.hex())
    assert wait_for(lambda: fa("counters")["dropped"] == 6)  # the FA reads asynchronously
    counters = fa("counters")
    assert counters["dropped_unknown_peer"] == 3
    assert counters["dropped_inner_filter"] == 1
    assert counters["dropped_malformed"] == 1
    assert counters["dropped_ttl"] == 1
    assert counters["decap_packets"] == 0
    # R forwards a datagram "from" the care-of address to the home address: the HA drops it
    ns.tool("rt", "raw-send", topo.HOA, _udp_datagram(topo.COA, topo.HOA, PORT).hex())
    assert wait_for(lambda: ha("counters").get("dropped_loop", 0) == 1)
    assert ha("counters")["encap_packets"] == 0


def test_open_errors_and_option_validation(netns) -> None:
    """open_dataplane refuses unknown backends/options and an unusable kernel backend here."""
    netns.add("x")
    code = (
        "from mipd.dataplane import open_dataplane, DataplaneError\n"
        "for kw in ({'backend': 'bogus'}, {'backend': 'userspace', 'nonsense': 1},"
        " {'backend': 'kernel'}):\n"
        "    try:\n"
        "        open_dataplane(**kw)\n"
        "    except DataplaneError as e:\n"
        "        print(type(e).__name__, e)\n"
        "dp = open_dataplane('auto', tun_name='tx%d', ifname_prefix='k')\n"
        "from mipd.dataplane import Dataplane\n"
        "print(dp.name, dp.tun_name, isinstance(dp, Dataplane))\n"
        "dp.close()\n"
    )
    out = netns.exec("x", sys.executable, "-c", code).stdout
    lines = out.strip().splitlines()
    assert "unknown data-plane backend" in lines[0]
    assert "unknown data-plane options: nonsense" in lines[1]
    assert "kernel data plane unavailable" in lines[2]
    assert lines[3] == "userspace tx0 True"
    assert "tx0" not in netns.exec("x", "ip", "link").stdout


def test_purge_after_crash(topology: Topology) -> None:
    """A killed agent leaves rules, static neighbours and proxy entries (the TUN device and its
    routes vanish with the process); Netlink.purge() removes exactly those."""
    topo = topology
    ns = topo.ns
    clean = kernel_state(ns, "fa")
    _ha, fa = start_agents(topo, "ipip", reverse=True)
    fa("proxy_arp", address="10.3.0.99", dev="fa-v", on=True)
    fa.proc.kill()
    fa.proc.wait()
    assert wait_for(lambda: "mip0" not in ns.exec("fa", "ip", "-o", "link").stdout)
    left = kernel_state(ns, "fa")
    assert "lookup 434" in left["rules"] and "10.3.0.99" in left["proxy"]
    ns.exec("fa", "ip", "route", "add", "10.7.0.0/24", "dev", "fa-v")  # not ours: must stay
    code = ("from mipd.dataplane.netlink import Netlink\n"
            "with Netlink() as nl: print(nl.purge(priority=434))")
    removed = int(ns.exec("fa", sys.executable, "-c", code).stdout)
    assert removed == 4  # rule, host route, neighbour, proxy (routes via mip0 went with it)
    ns.exec("fa", "ip", "route", "del", "10.7.0.0/24", "dev", "fa-v")
    assert kernel_state(ns, "fa") == clean


def _udp_datagram(src: str, dst: str, port: int, payload: bytes = b"hello") -> bytes:
    pkt = IP(src=src, dst=dst, ttl=10) / UDP(sport=4000, dport=port) / payload
    return bytes(pkt)


def _ipip(src: str, dst: str, inner: bytes) -> bytes:
    return bytes(IP(src=src, dst=dst, proto=4) / inner)


def _colocated_home_agent(topo: Topology) -> str:
    """The MN with a co-located care-of address behind the FA namespace (a plain router here) and
    the HA tunnelling its home address there (RFC 5944 §4.2.3); returns the care-of address."""
    ns = topo.ns
    coa = "10.3.0.50"
    ns.sysctl("fa", net__ipv4__ip_forward=1)
    ns.ip("rt", "route add 10.3.0.0/24 via 10.2.0.1")
    # the home address as source of what the MN sends (as mipd.dataplane.host.MobileHost does)
    ns.ip("mn", f"addr add {coa}/24 dev mn0",
          f"route replace default via 10.3.0.1 dev mn0 onlink src {topo.HOA}")
    ha = Driver(ns, "ha")
    t_ha = ha("add_tunnel", local=topo.HA, remote=coa, encap="ipip")["id"]
    ha("route_via_tunnel", dest=topo.HOA, tunnel=t_ha)
    ha("proxy_arp", address=topo.HOA, dev="ha-h", on=True)
    return coa


def test_colocated_mobile_node(topology: Topology) -> None:
    """A mobile node with a co-located care-of address runs the data plane itself: it
    decapsulates what its HA tunnels to it (delivered locally) and reverse-tunnels what it sends
    from its home address (RFC 5944 §4.1, RFC 3024 §5.1); the FA namespace is a plain router."""
    topo = topology
    ns = topo.ns
    coa = _colocated_home_agent(topo)
    mn = Driver(ns, "mn", ip_forward=False)
    t_mn = mn("add_tunnel", local=coa, remote=topo.HA, encap="ipip")["id"]
    mn("reverse_tunnel", source=topo.HOA, tunnel=t_mn)  # locally sent: no iif
    # source rules see a socket's source only if it is bound (or connected: TCP, connected
    # UDP); an unbound UDP socket is routed before its source is chosen
    echo_server(topo, "mn", bind=topo.HOA)
    echo_server(topo, "cn")
    cap = Capture(ns, "rt", "rt-f", "ip proto 4")
    inbound = ns.tool("cn", "udp-ping", topo.HOA, str(PORT), "--count", "2")
    outbound = ns.tool("mn", "udp-ping", topo.CN, str(PORT), "--count", "2", "--src", topo.HOA)
    packets = cap.stop()
    assert inbound["received"] == 2 and outbound["received"] == 2
    assert inbound["peers"] == [topo.HOA] and outbound["peers"] == [topo.CN]
    pairs = {(p[IP].src, p[IP].dst, IP(bytes(p[IP].payload)).src) for p in packets}
    assert pairs == {(topo.HA, coa, topo.CN), (coa, topo.HA, topo.HOA)}
    counters = mn("counters")
    assert counters["decap_packets"] == 4 and counters["encap_packets"] == 4


def test_colocated_mobile_node_unbound_datagrams(topology: Topology) -> None:
    """RFC 5944 §3.6, RFC 3024 §5.1: a co-located node's unbound socket (routed before its source
    is chosen, so ``from HOME`` misses it) gets the home address and goes into the reverse tunnel
    once ``route_unbound_via_tunnel`` is in place; the HA (the tunnel's own datagrams) and the
    visited link stay outside it; unrouting and close() leave the namespace as it was."""
    topo = topology
    ns = topo.ns
    coa = _colocated_home_agent(topo)
    echo_server(topo, "cn")

    def ipv4_state() -> tuple[str, str, str]:  # (IPv6 link-local addresses come when DAD is done)
        return tuple(ns.exec("mn", "ip", "-4", *args).stdout for args in (
            ("route", "show", "table", "all"), ("rule",), ("-o", "link")))

    clean = ipv4_state()
    mn = Driver(ns, "mn", ip_forward=False)
    t_mn = mn("add_tunnel", local=coa, remote=topo.HA, encap="ipip")["id"]
    mn("reverse_tunnel", source=topo.HOA, tunnel=t_mn)

    def unbound_ping() -> set[tuple[str, str, str]]:
        cap = Capture(ns, "rt", "rt-f", f"ip proto 4 or udp port {PORT}")
        result = ns.tool("mn", "udp-ping", topo.CN, str(PORT), "--count", "2", "--timeout", "1")
        assert result["received"] == 2
        return {(p[IP].src, p[IP].dst, IP(bytes(p[IP].payload)).src if p[IP].proto == 4 else "plain")
                for p in cap.stop()}

    assert (topo.HOA, topo.CN, "plain") in unbound_ping()  # the rule misses it: not tunnelled
    mn("route_unbound_via_tunnel", source=topo.HOA, tunnel=t_mn, bypass=["10.3.0.0/24"])
    assert unbound_ping() == {(coa, topo.HA, topo.HOA), (topo.HA, coa, topo.CN)}
    routes = ns.exec("mn", "ip", "route", "show", "table", "all").stdout
    assert f"default dev mip0 table 433 proto 173 scope link src {topo.HOA}" in routes
    assert "throw 10.1.0.1 table 433 proto 173" in routes and "throw 10.3.0.0/24 table 433 proto 173" in routes
    assert "434:\tfrom 0.0.0.0 iif lo lookup 433 proto 173" in ns.exec("mn", "ip", "rule").stdout
    # the HA and the visited link are reached as before: through the link, not the tunnel
    assert "via 10.3.0.1 dev mn0" in ns.exec("mn", "ip", "route", "get", topo.HA).stdout
    assert f"dev mn0 src {coa}" in ns.exec("mn", "ip", "route", "get", "10.3.0.77").stdout
    assert mn("counters")["dropped"] == 0
    mn("unroute_unbound", source=topo.HOA)
    assert "table 433" not in ns.exec("mn", "ip", "route", "show", "table", "all").stdout
    assert "lookup 433" not in ns.exec("mn", "ip", "rule").stdout
    mn("route_unbound_via_tunnel", source=topo.HOA, tunnel=t_mn, bypass=["10.3.0.0/24"])
    mn("remove_tunnel", tunnel=t_mn)  # the last reference takes the unbound route with it
    assert "table 433" not in ns.exec("mn", "ip", "route", "show", "table", "all").stdout
    t_mn = mn("add_tunnel", local=coa, remote=topo.HA, encap="ipip")["id"]
    mn("route_unbound_via_tunnel", source=topo.HOA, tunnel=t_mn, bypass=["10.3.0.0/24"])
    mn("close")
    assert ipv4_state() == clean


def test_simultaneous_bindings_get_a_copy_each(topology: Topology) -> None:
    """RFC 5944 §3.6.1.2, §4.2.3: the home address routed into two tunnels (the FA's care-of
    address and the MN's co-located one): each care-of address gets a separate copy of every
    datagram; what comes back through either tunnel from the home address is decapsulated
    (RFC 3024 §4.3); unrouting one tunnel keeps the other; the last one's removal ends it."""
    topo = topology
    ns = topo.ns
    coa2 = "10.3.0.50"  # co-located, on the visited link behind the FA
    ns.ip("rt", "route add 10.3.0.0/24 via 10.2.0.1")
    ns.ip("mn", f"addr add {coa2}/24 dev mn0",  # the home address stays the source (host.MobileHost)
          f"route replace default via 10.3.0.1 dev mn0 onlink src {topo.HOA}")
    ha, fa = start_agents(topo, "ipip", reverse=True)
    assert ha.hello["backend"] == "userspace"
    mn = Driver(ns, "mn", ip_forward=False)
    t2 = ha("add_tunnel", local=topo.HA, remote=coa2, encap="ipip")["id"]
    ha("route_via_tunnel", dest=topo.HOA, tunnel=t2, add=True)
    mn("add_tunnel", local=coa2, remote=topo.HA, encap="ipip")
    echo_server(topo, "mn")

    def copies(count: int) -> dict[tuple[str, str], int]:
        """(outer destination, inner source) -> packets seen on R - FA for `count` pings. The MN
        echoes both copies of a ping: udp-ping lingers to read the second echo of the last one,
        or the CN would answer it with an ICMP port unreachable, tunnelled too."""
        cap = Capture(ns, "rt", "rt-f", "ip proto 4")
        ns.tool("cn", "udp-ping", topo.HOA, str(PORT), "--count", str(count), "--timeout", "0.5",
                "--linger", "0.5")
        seen: dict[tuple[str, str], int] = {}
        for p in cap.stop():
            key = (p[IP].dst, IP(bytes(p[IP].payload)).src)
            seen[key] = seen.get(key, 0) + 1
        return seen

    both = copies(3)
    assert both[(topo.COA, topo.CN)] == 3 and both[(coa2, topo.CN)] == 3  # a copy to each
    assert both[(topo.HA, topo.HOA)] == 6  # the MN echoed both copies, via the FA's reverse tunnel
    counters = ha("counters")
    assert counters["encap_packets"] == 6 and counters["decap_packets"] == 6
    assert counters.get("dropped_inner_filter", 0) == 0
    assert mn("counters")["decap_packets"] == 3

    ha("unroute_via_tunnel", dest=topo.HOA, tunnel=ha.tunnel)  # the FA's binding goes (§4.2.3)
    one = copies(2)
    assert one[(coa2, topo.CN)] == 2 and (topo.COA, topo.CN) not in one
    assert f"{topo.HOA} dev mip0" in ns.exec("ha", "ip", "route").stdout
    ha("remove_tunnel", tunnel=t2)
    assert topo.HOA not in ns.exec("ha", "ip", "route").stdout


def test_strict_reverse_path_filtering(topology: Topology) -> None:
    """With rp_filter=1 everywhere (as some distributions configure), decapsulated datagrams
    arriving on the TUN device are still accepted: it is loose for mip0 and has an address."""
    topo = topology
    for role in ("ha", "fa"):
        topo.ns.sysctl(role, net__ipv4__conf__all__rp_filter=1,
                       net__ipv4__conf__default__rp_filter=1)
    start_agents(topo, "ipip", reverse=True)
    echo_server(topo, "cn")
    result = topo.ns.tool("mn", "udp-ping", topo.CN, str(PORT), "--count", "2")
    assert result["received"] == 2
    assert topo.ns.exec("fa", "sysctl", "-n", "net.ipv4.conf.mip0.rp_filter").stdout.strip() == "2"


def test_colocated_mobile_node_without_reverse_tunnel(topology: Topology) -> None:
    """Without a reverse tunnel the MN still accepts what its HA tunnels to its own (home)
    address — also one added after the data plane started (address notifications) — and
    nothing for an address it does not have."""
    topo = topology
    ns = topo.ns
    coa, hoa2 = "10.3.0.50", "10.1.0.60"
    ns.sysctl("fa", net__ipv4__ip_forward=1)
    ns.ip("rt", "route add 10.3.0.0/24 via 10.2.0.1")
    ns.ip("mn", f"addr add {coa}/24 dev mn0")
    ha = Driver(ns, "ha")
    mn = Driver(ns, "mn", ip_forward=False)
    t_ha = ha("add_tunnel", local=topo.HA, remote=coa, encap="gre")["id"]
    ha("proxy_arp", address=hoa2, dev="ha-h", on=True)
    ha("route_via_tunnel", dest=hoa2, tunnel=t_ha)
    mn("add_tunnel", local=coa, remote=topo.HA, encap="gre")
    echo_server(topo, "mn")
    lost = ns.tool("cn", "udp-ping", hoa2, str(PORT), "--count", "1", "--timeout", "1")
    assert lost["received"] == 0  # not (yet) an address of the MN
    assert wait_for(lambda: mn("counters").get("dropped_inner_filter", 0) == 1)
    ns.ip("mn", f"addr add {hoa2}/32 dev lo")
    found = ns.tool("cn", "udp-ping", hoa2, str(PORT), "--count", "2")
    assert found["received"] == 2
    assert mn("counters")["decap_packets"] == 2
    ns.ip("mn", f"addr del {hoa2}/32 dev lo")
    ns.tool("cn", "udp-ping", hoa2, str(PORT), "--count", "1", "--timeout", "0.5")
    assert wait_for(lambda: mn("counters")["dropped_inner_filter"] == 2)
