"""The rtnetlink client (mipd.dataplane.netlink) against the kernel, checked with iproute2.

Each test runs a snippet in its own namespace; what it did is read back with `ip`, an
independent netlink implementation.
"""

from __future__ import annotations

import json
import sys

import pytest
from dataplane_helpers import Namespaces
from mipd.dataplane.netlink import mac_to_bytes, mac_to_str, parse_attrs

pytestmark = pytest.mark.netns

PRELUDE = """
import json, socket, asyncio
from mipd.dataplane.netlink import *
nl = Netlink()
out = {}
"""


def run_in(ns: Namespaces, role: str, body: str) -> dict:
    code = PRELUDE + body + "\nprint(json.dumps(out))\n"
    proc = ns.exec(role, sys.executable, "-c", code)
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def box(netns: Namespaces) -> Namespaces:
    netns.add("a")
    netns.add("b")
    netns.veth("a", "va", "b", "vb")
    netns.ip("a", "addr add 10.5.0.1/24 dev va", "link set va up", "link set va mtu 1400")
    netns.ip("b", "addr add 10.5.0.2/24 dev vb", "link set vb up")
    return netns


def test_links_addresses_and_devices(box: Namespaces) -> None:
    out = run_in(box, "a", """
va = nl.link("va")
out["va"] = [va.index, va.name, va.mtu, mac_to_str(va.address), va.up, va.kind]
out["by_index"] = nl.link_by_index(va.index).name
out["all"] = sorted(l.name for l in nl.links())
nl.add_link("br9", "bridge")
nl.set_link("br9", up=True, mtu=1300, txqlen=77)
nl.add_address("br9", "192.0.0.8")
b = nl.link("br9")
out["br9"] = [b.mtu, b.up, b.kind]
try:
    nl.link("nosuch0")
except NetlinkError as e:
    out["missing"] = e.errno
try:
    nl.add_link("br9", "bridge")
except NetlinkError as e:
    out["exists"] = e.errno
""")
    mac = box.exec("a", "cat", "/sys/class/net/va/address").stdout.strip()
    assert out["va"][1:] == ["va", 1400, mac, True, "veth"]
    assert out["by_index"] == "va"
    assert out["all"] == ["lo", "va"]
    assert out["br9"] == [1300, True, "bridge"]
    assert out["missing"] == 19 and out["exists"] == 17  # ENODEV, EEXIST
    shown = box.exec("a", "ip", "-d", "addr", "show", "br9").stdout
    assert "mtu 1300" in shown and "qlen 77" in shown and "inet 192.0.0.8/32 scope host" in shown
    run_in(box, "a", 'nl.del_link("br9")')
    assert "br9" not in box.exec("a", "ip", "link").stdout


def test_routes_rules_and_path_mtu(box: Namespaces) -> None:
    out = run_in(box, "a", """
idx = nl.index("va")
nl.replace_route("10.6.0.5", 32, oif=idx)
nl.replace_route("10.6.0.5", 32, oif=idx)  # replace: idempotent
nl.replace_route("0.0.0.0", 0, oif=idx, table=434)
nl.replace_route("10.6.0.6", 32, oif=idx, table=100000, proto=99)
nl.add_rule(src="10.7.0.1", iifname="va", table=434, priority=434)
nl.add_rule(src="10.7.0.1", iifname="va", table=434, priority=434)  # EEXIST ignored
nl.add_rule(src="10.7.0.2", table=100000, priority=434)
out["routes"] = sorted([r.dst, r.dst_len, r.table, r.proto] for r in nl.routes() if r.proto in (99, 173))
out["rules"] = sorted([r.priority, r.src, r.iifname, r.table, r.proto] for r in nl.rules() if r.priority == 434)
out["get"] = nl.route_get("10.6.0.5")[0] == idx
out["mtu"] = [nl.path_mtu("10.5.0.2"), nl.path_mtu("203.0.113.1", 1234)]
""")
    assert out["routes"] == [["0.0.0.0", 0, 434, 173], ["10.6.0.5", 32, 254, 173],
                             ["10.6.0.6", 32, 100000, 99]]
    assert out["rules"] == [[434, "10.7.0.1", "va", 434, 173], [434, "10.7.0.2", None, 100000, 173]]
    assert out["get"] is True
    assert out["mtu"] == [1400, 1234]  # egress MTU; no route -> the default given
    ip_rules = box.exec("a", "ip", "rule").stdout
    assert "434:\tfrom 10.7.0.1 iif va lookup 434 proto 173" in ip_rules
    assert "434:\tfrom 10.7.0.2 lookup 100000 proto 173" in ip_rules
    routes = box.exec("a", "ip", "route", "show", "table", "all").stdout
    assert "10.6.0.5 dev va proto 173 scope link" in routes
    assert "default dev va table 434 proto 173 scope link" in routes
    out = run_in(box, "a", """
idx = nl.index("va")
out["del"] = [nl.del_route("10.6.0.5", 32, oif=idx), nl.del_route("10.6.0.5", 32, oif=idx),
              nl.del_route("0.0.0.0", 0, oif=idx, table=434),
              nl.del_rule(src="10.7.0.1", iifname="va", table=434, priority=434),
              nl.del_rule(src="10.7.0.1", iifname="va", table=434, priority=434)]
""")
    assert out["del"] == [True, False, True, True, False]
    assert "10.7.0.1" not in box.exec("a", "ip", "rule").stdout
    assert "10.6.0.5" not in box.exec("a", "ip", "route").stdout


def test_neighbours_proxies_and_purge(box: Namespaces) -> None:
    box.ip("a", "route add 10.8.0.0/24 dev va proto 99", "rule add from 10.8.0.9 lookup 77 pref 500")
    before = {k: box.exec("a", "ip", *k.split()).stdout
              for k in ("route show table all", "rule", "neigh show nud permanent", "neigh show proxy")}
    out = run_in(box, "a", """
idx = nl.index("va")
nl.replace_neigh("10.5.0.9", idx, mac_to_bytes("02:00:00:00:00:09"))
nl.add_proxy("10.5.0.50", idx)
nl.add_proxy("10.5.0.50", idx)  # replace: idempotent
nl.replace_route("10.6.0.5", 32, oif=idx)
nl.add_rule(src="10.7.0.1", table=434, priority=434)
out["neigh"] = [[n.dst, mac_to_str(n.lladdr), n.state, n.proto] for n in nl.neighbours() if n.proto == 173]
out["proxy"] = [[n.dst, n.flags, n.proto] for n in nl.neighbours(proxy=True)]
""")
    assert out["neigh"] == [["10.5.0.9", "02:00:00:00:00:09", 0x80, 173]]
    assert out["proxy"] == [["10.5.0.50", 0x08, 173]]
    assert "10.5.0.50 dev va proxy proto 173" in box.exec("a", "ip", "neigh", "show", "proxy").stdout
    assert "10.5.0.9 dev va lladdr 02:00:00:00:00:09 PERMANENT proto 173" in box.exec(
        "a", "ip", "neigh").stdout
    out = run_in(box, "a", 'out["purged"] = nl.purge(priority=434)')
    assert out["purged"] == 4  # neighbour, proxy, route, rule; not the others' route and rule
    after = {k: box.exec("a", "ip", *k.split()).stdout for k in before}
    assert after == before


def test_usable_inside_a_running_asyncio_loop(box: Namespaces) -> None:
    """The runtime calls the data plane from its event loop (pyroute2 0.9's IPRoute cannot)."""
    out = run_in(box, "a", """
async def main():
    nl.replace_route("10.6.0.7", 32, oif=nl.index("va"))
    return nl.route_get("10.6.0.7")[0] == nl.index("va")
out["ok"] = asyncio.run(main())
""")
    assert out["ok"] is True


def test_codec_helpers() -> None:
    assert mac_to_str(mac_to_bytes("02:AB:00:00:0c:09")) == "02:ab:00:00:0c:09"
    for bad in ("02:00:00:00:00", "zz:00:00:00:00:00", ""):
        with pytest.raises(ValueError):
            mac_to_bytes(bad)
    attrs = b"\x08\x00\x01\x00abcd" + b"\x05\x00\x02\x80x\x00\x00\x00" + b"\xff\xff\x03\x00"
    assert parse_attrs(attrs) == {1: b"abcd", 2: b"x"}  # nested flag cleared, junk tail ignored


def test_addresses_and_change_notifications(box: Namespaces) -> None:
    out = run_in(box, "a", """
import subprocess
mon = address_monitor()
before = nl.addresses()
try:
    mon.recv(65536)
    out["quiet"] = False
except BlockingIOError:
    out["quiet"] = True
subprocess.run(["ip", "addr", "add", "10.5.9.9/32", "dev", "lo"], check=True)
mon.setblocking(True)
mon.settimeout(5)
out["notified"] = len(mon.recv(65536)) > 0
out["before"] = sorted(before)
out["after"] = sorted(a for a in nl.addresses() if a[0] == "10.5.9.9")
""")
    va = int(box.exec("a", "cat", "/sys/class/net/va/ifindex").stdout)
    assert out["quiet"] and out["notified"]
    assert out["before"] == [["10.5.0.1", 24, va], ["127.0.0.1", 8, 1]]
    assert out["after"] == [["10.5.9.9", 32, 1]]
