"""Kernel backend (ipip/gre devices) and the backend selection (mipd.dataplane.selector).

This machine's kernel has no ipip/gre modules: the probe is exercised (and must say so and
leave nothing behind), the real kernel-tunnel test is skipped with the probe's reason, and the
kernel backend's bookkeeping (devices, routes, per-tunnel reverse tables, rules, cleanup) runs
with bridge devices standing in for the tunnel devices.
"""

from __future__ import annotations

import json
import sys

import pytest
from dataplane_helpers import (
    PORT,
    Driver,
    DriverError,
    Namespaces,
    Topology,
    echo_server,
    kernel_state,
    start_agents,
)

pytestmark = pytest.mark.netns


def in_ns(ns: Namespaces, role: str, code: str) -> object:
    """Run `code` in namespace `role`; it prints a JSON result as its last line."""
    out = ns.exec(role, sys.executable, "-c", code).stdout
    return json.loads(out.strip().splitlines()[-1])


PROBE = ("import json\nfrom mipd.dataplane import probe_kernel_tunnels\n"
         "r = [probe_kernel_tunnels(e) for e in (['ipip'], ['gre'], ['ipip', 'gre'], ['minimal'])]\n"
         "print(json.dumps([[p.ok, p.reason] for p in r]))")


@pytest.fixture
def probe(netns: Namespaces) -> dict[str, tuple[bool, str]]:
    """probe_kernel_tunnels() in a fresh namespace, and a check it left no device behind."""
    netns.add("probe")
    links_before = netns.exec("probe", "ip", "-o", "link").stdout
    ipip, gre, both, minimal = in_ns(netns, "probe", PROBE)  # type: ignore[misc]
    assert netns.exec("probe", "ip", "-o", "link").stdout == links_before
    return {"ipip": tuple(ipip), "gre": tuple(gre), "both": tuple(both),
            "minimal": tuple(minimal)}


def test_probe(probe: dict[str, tuple[bool, str]]) -> None:
    ok, reason = probe["minimal"]
    assert not ok and "no minimal encapsulation" in reason
    for encap in ("ipip", "gre"):
        ok, reason = probe[encap]
        if not ok:  # as on the project's test machine
            assert f"kernel cannot create {encap} devices" in reason
            assert "module not available" in reason
    assert probe["both"][0] == (probe["ipip"][0] and probe["gre"][0])


def test_auto_selects_by_probe(netns: Namespaces, probe: dict[str, tuple[bool, str]]) -> None:
    netns.add("x")
    code = ("import json\nfrom mipd.dataplane import open_dataplane\nout = []\n"
            "for req in (['ipip'], ['ipip', 'minimal']):\n"
            "    dp = open_dataplane('auto', require=req, tun_name='t%d', ifname_prefix='k')\n"
            "    out.append(dp.name)\n"
            "    dp.close()\n"
            "print(json.dumps(out))")
    chosen = in_ns(netns, "x", code)
    assert chosen == ["kernel" if probe["ipip"][0] else "userspace", "userspace"]


@pytest.mark.parametrize("encap", ["ipip", "gre"])
def test_kernel_tunnels_carry_traffic(topology: Topology, encap: str) -> None:
    """HA and FA with kernel ipip/gre devices: CN <-> MN with reverse tunnelling."""
    ha_probe = in_ns(topology.ns, "ha", PROBE)[1 if encap == "gre" else 0]  # type: ignore[index]
    if not ha_probe[0]:
        pytest.skip(f"kernel backend unavailable here: {ha_probe[1]}")
    ha, fa = start_agents(topology, encap, reverse=True, ha_opts={"backend": "kernel"},
                          fa_opts={"backend": "kernel"})
    echo_server(topology, "cn")
    result = topology.ns.tool("mn", "udp-ping", topology.CN, str(PORT), "--count", "3")
    assert result["received"] == 3
    assert ha("counters")["encap_packets"] >= 3 and fa("counters")["decap_packets"] >= 3


def test_kernel_refuses_minimal(netns: Namespaces) -> None:
    netns.add("x")
    code = ("import json\nfrom mipd.dataplane import open_dataplane, UnsupportedEncapsulation\n"
            "from mipd.dataplane.kernel import KernelDataplane\nout = []\n"
            "from mipd.dataplane import Dataplane\n"
            "dp = KernelDataplane()\nassert isinstance(dp, Dataplane)\n"
            "try:\n    dp.add_tunnel('10.0.0.1', '10.0.0.2', 'minimal')\n"
            "except UnsupportedEncapsulation as e:\n    out.append(str(e))\n"
            "dp.close()\n"
            "try:\n    open_dataplane('kernel', require=['ipip', 'minimal'])\n"
            "except UnsupportedEncapsulation as e:\n    out.append(str(e))\n"
            "print(json.dumps(out))")
    messages = in_ns(netns, "x", code)
    assert len(messages) == 2  # type: ignore[arg-type]
    assert all("no minimal encapsulation" in m and "userspace" in m for m in messages)  # type: ignore[union-attr]


def test_kernel_add_tunnel_without_module_fails_cleanly(netns: Namespaces,
                                                        probe: dict[str, tuple[bool, str]]) -> None:
    if probe["ipip"][0]:
        pytest.skip("this kernel has ipip: nothing to refuse")
    netns.add("x")
    clean = kernel_state(netns, "x")
    code = ("import json\nfrom mipd.dataplane import DataplaneError\n"
            "from mipd.dataplane.kernel import KernelDataplane\n"
            "dp = KernelDataplane()\n"
            "try:\n    dp.add_tunnel('10.0.0.1', '10.0.0.2', 'ipip')\n    msg = None\n"
            "except DataplaneError as e:\n    msg = str(e)\n"
            "dp.close()\nprint(json.dumps(msg))")
    message = in_ns(netns, "x", code)
    assert "cannot create ipip tunnel 10.0.0.1->10.0.0.2" in message  # type: ignore[operator]
    assert kernel_state(netns, "x") == clean


def test_kernel_backend_bookkeeping_with_standin_devices(topology: Topology) -> None:
    """Devices, routes into them, per-tunnel reverse tables and rules, reference counts and
    cleanup of the kernel backend, with bridges in place of the ipip/gre devices."""
    ns = topology.ns
    ns.ip("fa", "addr add 10.1.0.52/32 dev lo")  # a co-located mobile node's home address
    clean = kernel_state(ns, "fa")
    fa = Driver(ns, "fa", kernel_standin=True)
    assert fa.hello["backend"] == "kernel"
    t1 = fa("add_tunnel", local=topology.COA, remote=topology.HA, encap="ipip")
    assert t1["mtu"] == 1500  # the path MTU to the HA
    assert fa("add_tunnel", local=topology.COA, remote=topology.HA, encap="ipip")["refs"] == 2
    t2 = fa("add_tunnel", local=topology.COA, remote="10.1.0.2", encap="gre", mtu=1400)
    links = ns.exec("fa", "ip", "-o", "link").stdout
    assert "mipt0:" in links and "mipt1:" in links
    assert "mtu 1480" in ns.exec("fa", "ip", "link", "show", "mipt0").stdout  # 1500 - 20
    assert "mtu 1376" in ns.exec("fa", "ip", "link", "show", "mipt1").stdout  # 1400 - 24
    fa("route_via_tunnel", dest="10.5.0.1", tunnel=t1["id"])
    fa("reverse_tunnel", source=topology.HOA, tunnel=t1["id"], iif="fa-v")
    fa("reverse_tunnel", source="10.1.0.51", tunnel=t2["id"], iif="fa-v")
    routes = ns.exec("fa", "ip", "route", "show", "table", "all").stdout
    assert "10.5.0.1 dev mipt0 proto 173" in routes
    assert "default dev mipt0 table 434 proto 173" in routes
    assert "default dev mipt1 table 435 proto 173" in routes
    rules = ns.exec("fa", "ip", "rule").stdout
    assert f"434:\tfrom {topology.HOA} iif fa-v lookup 434 proto 173" in rules
    assert "434:\tfrom 10.1.0.51 iif fa-v lookup 435 proto 173" in rules
    # RFC 5944 §3.6, RFC 3024 §5.1: a co-located node's unbound datagrams into its tunnel's device
    fa("route_unbound_via_tunnel", source="10.1.0.52", tunnel=t2["id"], bypass=["10.3.0.9/24"])
    routes = ns.exec("fa", "ip", "route", "show", "table", "433").stdout.splitlines()
    assert sorted(routes) == ["default dev mipt1 proto 173 scope link src 10.1.0.52 ",
                              "throw 10.1.0.2 proto 173 ", "throw 10.3.0.0/24 proto 173 "]
    assert "434:\tfrom 0.0.0.0 iif lo lookup 433 proto 173" in ns.exec("fa", "ip", "rule").stdout
    counters = fa("counters")
    assert {"encap_packets", "decap_packets", "dropped"} <= set(counters)
    with pytest.raises(DriverError, match="no minimal encapsulation"):
        fa("add_tunnel", local=topology.COA, remote=topology.HA, encap="minimal")
    fa("remove_tunnel", tunnel=t2["id"])  # last reference: its rule and table go too
    assert "mipt1" not in ns.exec("fa", "ip", "-o", "link").stdout
    assert "10.1.0.51" not in ns.exec("fa", "ip", "rule").stdout
    assert "table 435" not in ns.exec("fa", "ip", "route", "show", "table", "all").stdout
    assert "table 433" not in ns.exec("fa", "ip", "route", "show", "table", "all").stdout  # went with mipt1
    assert "lookup 433" not in ns.exec("fa", "ip", "rule").stdout
    fa("route_unbound_via_tunnel", source="10.1.0.52", tunnel=t1["id"])
    fa("close")
    assert kernel_state(ns, "fa") == clean


def test_kernel_backend_cannot_copy_to_several_tunnels(topology: Topology) -> None:
    """RFC 5944 §4.2.3: a host route leads into one device, so the kernel backend cannot copy a
    datagram into several tunnels (the daemon tells the home agent, which then grants no
    simultaneous bindings); it refuses a second tunnel for one destination and keeps the first."""
    ns = topology.ns
    fa = Driver(ns, "fa", kernel_standin=True)
    t1 = fa("add_tunnel", local=topology.COA, remote=topology.HA, encap="ipip")["id"]
    t2 = fa("add_tunnel", local=topology.COA, remote="10.1.0.2", encap="ipip")["id"]
    fa("route_via_tunnel", dest="10.5.0.1", tunnel=t1)
    with pytest.raises(DriverError, match="cannot tunnel a copy"):
        fa("route_via_tunnel", dest="10.5.0.1", tunnel=t2, add=True)
    assert "10.5.0.1 dev mipt0 proto 173" in ns.exec("fa", "ip", "route").stdout
    fa("route_via_tunnel", dest="10.5.0.1", tunnel=t2)  # exclusive: moves it
    assert "10.5.0.1 dev mipt1 proto 173" in ns.exec("fa", "ip", "route").stdout
    fa("unroute_via_tunnel", dest="10.5.0.1", tunnel=t1)  # not routed into t1: nothing changes
    assert "10.5.0.1 dev mipt1 proto 173" in ns.exec("fa", "ip", "route").stdout
    fa("unroute_via_tunnel", dest="10.5.0.1", tunnel=t2)
    assert "10.5.0.1" not in ns.exec("fa", "ip", "route").stdout
