"""The co-located mobile node's source address with real mipd daemons (mobilelab.py).

RFC 5944 §3.6 / RFC 3024 §5.1: a mobile node with a co-located care-of address keeps its home
address as the source of what it sends, and with reverse tunnelling (T) granted its datagrams go
to the correspondent through the home agent. The reverse tunnel's rule (``from HOME lookup 434``)
sees the source only where the route lookup knows it: connected and bound sockets, TCP. An
unbound UDP ``sendto`` is routed before its source is chosen; the rule ``from 0.0.0.0/32 iif lo
lookup 433`` (mipd.dataplane.common) catches it and table 433 gives it the home address and the
tunnel, except towards the home agent and the visited link. Without it the datagram would leave
plain and the core router's ingress filter (rp_filter) would drop it.
"""

from __future__ import annotations

import pytest
from mobilelab import CN, COLO, COLO_GW, HA, HOA, tunnelled

pytestmark = pytest.mark.netns

PORT = 6000
RECEIVE = f"""
import socket
s = socket.socket(2, 2)
s.bind(("0.0.0.0", {PORT}))
s.settimeout(3)
print("ready", flush=True)
try:
    print(s.recvfrom(100)[1][0])
except OSError:
    print("nothing")
"""
SEND = {"connected": f"import socket\ns = socket.socket(2, 2)\ns.connect(('{CN}', {PORT}))\ns.send(b'x')",
        "unbound": f"import socket\ns = socket.socket(2, 2)\ns.sendto(b'x', ('{CN}', {PORT}))"}


@pytest.mark.parametrize("socket_kind", ["connected", "unbound"])
def test_colocated_node_sends_from_its_home_address_through_the_reverse_tunnel(lab, socket_kind):
    """§3.6, RFC 3024 §5.1: what the co-located node sends reaches the CN from the home address,
    encapsulated from the care-of address to the HA on the visited network."""
    lab.go("colo", colocated=True, reverse_tunnel=True)
    receiver = lab.ns.spawn("cn", "python3", "-u", "-c", RECEIVE, stdout=-1, text=True)
    assert receiver.stdout is not None and receiver.stdout.readline().strip() == "ready"
    cap = lab.capture("rt", "rt-colo", f"ip proto 4 or udp port {PORT}")
    lab.ns.exec("mn", "python3", "-c", SEND[socket_kind])
    got = receiver.stdout.readline().strip()
    receiver.wait(10)
    receiver.stdout.close()
    packets = cap.stop()
    lab.captures.remove(cap)
    assert [(t["src"], t["dst"], t["inner_src"]) for t in tunnelled(packets) if t["dport"] == PORT] == \
        [(COLO, HA, HOA)]
    assert got == HOA


UNBOUND_RULE = "from 0.0.0.0 iif lo lookup 433 proto 173"
UNBOUND_ROUTES = [f"default dev mip0 proto 173 scope link src {HOA} ", f"throw {HA} proto 173 ",
                  "throw 10.4.0.0/24 proto 173 "]


def unbound_state(lab) -> tuple[list[str], list[str]]:
    """The MN's table 433 and the rules leading to it."""
    routes = lab.ns.exec("mn", "ip", "-4", "route", "show", "table", "433", check=False).stdout.splitlines()
    rules = [r.split(":", 1)[1].strip() for r in lab.ns.exec("mn", "ip", "-4", "rule").stdout.splitlines()
             if "lookup 433" in r]
    return sorted(routes), rules


def test_unbound_route_only_while_away_colocated_with_reverse_tunnelling(lab):
    """RFC 3024 §5.1 / RFC 5944 §3.6: the unbound route is there only while the node is away with a
    co-located address and T granted: not without T, gone after a move to a foreign agent (which then
    reverse-tunnels), after deregistering at home and after a clean shutdown; the HA and the visited
    link stay reachable outside the tunnel."""
    lab.go("colo", colocated=True, reverse_tunnel=True)
    assert unbound_state(lab) == (UNBOUND_ROUTES, [UNBOUND_RULE])
    assert f"via {COLO_GW} dev mn0" in lab.ns.exec("mn", "ip", "route", "get", HA).stdout
    assert f"dev mn0 src {COLO}" in lab.ns.exec("mn", "ip", "route", "get", COLO_GW).stdout
    assert f"dev mip0 table 433 src {HOA}" in lab.ns.exec("mn", "ip", "route", "get", CN).stdout
    lab.go("colo", colocated=True, reverse_tunnel=False)  # re-registers without T
    assert unbound_state(lab) == ([], [])
    lab.go("colo", colocated=True, reverse_tunnel=True)
    assert unbound_state(lab) == (UNBOUND_ROUTES, [UNBOUND_RULE])
    lab.go("visit1", colocated=True, reverse_tunnel=True)  # a move: through FA1 now
    assert unbound_state(lab) == ([], [])
    lab.go("colo", colocated=True, reverse_tunnel=True)
    lab.go("home", colocated=True, reverse_tunnel=True)  # deregistration
    assert unbound_state(lab) == ([], [])
    lab.go("colo", colocated=True, reverse_tunnel=True)
    assert unbound_state(lab) == (UNBOUND_ROUTES, [UNBOUND_RULE])
    assert lab["mn"].stop() == 0  # SIGTERM: everything the daemon made goes
    assert unbound_state(lab) == ([], [])
    assert lab.mipd_state("mn") == {"routes": [], "rules": [], "proxy": [], "neigh": []}
    lab.start_daemons()
    lab.go("home")
