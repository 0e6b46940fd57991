"""mipd data plane: tunnels, routes and ARP for HA, FA and MN (RFC 5944 §4, RFC 3024).

``open_dataplane()`` returns a :class:`Dataplane`: the ``kernel`` backend (ipip/gre devices)
where the kernel can create them, else the ``userspace`` backend (TUN device + raw sockets,
also the only one with minimal encapsulation). The runtime calls its methods from its asyncio
loop and, for the userspace backend, ``attach(loop)`` to have the packet paths run there.
``backend: none`` (``mipd.dataplane.null``) is the same interface with nothing installed, for
signalling-only agents, tests and benchmarks.
"""

from mipd.dataplane.base import (
    COUNTER_NAMES,
    ENCAP_OVERHEAD,
    ENCAP_PROTOCOLS,
    Dataplane,
    DataplaneError,
    Tunnel,
    UnsupportedEncapsulation,
)
from mipd.dataplane.netlink import set_ip_forward
from mipd.dataplane.selector import ProbeResult, open_dataplane, probe_kernel_tunnels

__all__ = [
    "COUNTER_NAMES",
    "ENCAP_OVERHEAD",
    "ENCAP_PROTOCOLS",
    "Dataplane",
    "DataplaneError",
    "ProbeResult",
    "Tunnel",
    "UnsupportedEncapsulation",
    "open_dataplane",
    "probe_kernel_tunnels",
    "set_ip_forward",
]
