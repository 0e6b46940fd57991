"""The co-located mobile node's source address with real mipd daemons (mobilelab.py).

RFC 5944 §3.6 / RFC 3024 §5.1: a mobile node with a co-located care-of address keeps its home
address as the source of what it sends, and with reverse tunnelling (T) granted its datagrams go
to the correspondent through the home agent. The node's default route carries the ``src`` hint
(mipd.dataplane.host), so the kernel picks the home address for an unbound socket; the reverse
tunnel's rule (``from HOME lookup 434``) sees that source only where the route lookup knows it:
connected and bound sockets, TCP. An unbound UDP ``sendto`` is routed before its source is chosen
and leaves plain, and the core router's ingress filter (rp_filter) drops it.
"""

from __future__ import annotations

import pytest
from mobilelab import CN, COLO, HA, HOA, tunnelled

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


@pytest.mark.parametrize("socket_kind", [
    "connected",
    pytest.param("unbound", marks=pytest.mark.xfail(strict=True, reason=(
        "an unbound UDP sendto is routed before its source is chosen: the 'from HOME' rule misses it, "
        "it leaves plain from the home address and ingress filtering drops it (README: open)"))),
])
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
