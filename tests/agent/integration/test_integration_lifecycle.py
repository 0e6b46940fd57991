"""Daemon life cycle in the netns lab (mobilelab.py): a clean shutdown of every daemon leaves no
state in any namespace; the kernel data-plane backend, where this kernel can create tunnel
devices.
"""

from __future__ import annotations

import json

import pytest
from dataplane_helpers import Namespaces, kernel_state
from mobilelab import AGENTS, CN, FA1, HA, HOA, PYTHON, STREAM_PORT, Lab, require_lab_tools, tunnelled

pytestmark = pytest.mark.netns

PROBE = ("import json; from mipd.dataplane import probe_kernel_tunnels; "
         "r = probe_kernel_tunnels(['ipip', 'gre']); print(json.dumps([r.ok, r.reason]))")
SYSCTLS = ("net.ipv4.ip_forward", "net.ipv4.conf.mn0.arp_ignore", "net.ipv4.conf.mn0.arp_announce")


def namespace_state(lab: Lab, role: str) -> dict[str, str]:
    state = kernel_state(lab.ns, role)
    names = [s for s in SYSCTLS if role == "mn" or ".mn0." not in s]
    state["sysctl"] = lab.ns.exec(role, "sysctl", *names).stdout
    return state


def test_sigterm_of_every_daemon_leaves_no_namespace_state():
    """Every daemon, stopped with SIGTERM while the MN is registered via FA1 with a reverse tunnel
    and traffic flows both ways, exits 0 and removes its TUN device, routes, rules, neighbour and
    proxy ARP entries, and puts the MN's ARP settings back: each namespace is as it was before."""
    require_lab_tools()
    lab = Lab(mn={"reverse_tunnel": True})
    try:
        lab.attach_mn("visit1")
        roles = (*AGENTS, "mn")
        before = {role: namespace_state(lab, role) for role in roles}
        lab.start_daemons()
        lab.wait_registered("visit1")
        down = lab.flow("cn", "mn", HOA)
        up = lab.flow("mn", "cn", CN, src=HOA, port=STREAM_PORT + 1)
        assert down.flowing() and up.flowing()
        assert all(namespace_state(lab, role) != before[role] for role in ("ha", "fa1", "mn"))
        lab.stop_flows()
        assert lab.stop_daemons() == dict.fromkeys(roles, 0)
        for role in roles:
            assert namespace_state(lab, role) == before[role], role
            assert not (lab.dir / role / "mipd.sock").exists()
    finally:
        lab.close()


def kernel_tunnels() -> tuple[bool, str]:
    """Can this kernel create ipip and gre devices? Asked in a throw-away namespace."""
    ns = Namespaces()
    try:
        ns.add("probe")
        ok, reason = json.loads(ns.exec("probe", PYTHON, "-c", PROBE).stdout)
        return ok, reason
    finally:
        ns.cleanup()


def test_kernel_backend_registers_and_tunnels():
    """The same registration and IP-in-IP delivery with the kernel backend (ipip/gre devices)."""
    require_lab_tools()
    ok, reason = kernel_tunnels()
    if not ok:
        pytest.skip(f"kernel data plane not available here ({reason}); the userspace backend carries "
                    "the traffic in the other integration tests")
    lab = Lab(backend="kernel")
    try:
        lab.attach_mn("visit1")
        lab.start_daemons()
        lab.wait_registered("visit1")
        [binding] = lab.binding()
        assert binding["care_of_address"] == FA1
        cap = lab.capture("rt", "rt-fa1", "ip proto 4")
        flow = lab.flow("cn", "mn", HOA)
        assert flow.flowing(30)
        stream = [p for p in tunnelled(cap.stop()) if p["dport"] == STREAM_PORT]
        assert stream and {(p["src"], p["dst"], p["inner_dst"]) for p in stream} == {(HA, FA1, HOA)}
    finally:
        lab.close()
