"""A mobile node's own routing and ARP behaviour (RFC 5944 §4.2.1, §4.6), which the tunnel data
plane (`Dataplane`) does not cover.

- Default route (§4.2.1): away from home via the foreign agent as first-hop router (its
  link-layer address is already a static neighbour from AddHostRoute, so no ARP), or via the
  co-located link's router; at home via the home gateway. Installed as
  ``default via GW dev IF onlink [src HOME] proto 173`` so only our route is ever replaced or
  removed (173 is the data plane's RTPROT_MIPD).
- ARP (§4.6): away from home the node must not answer ARP for its home address. With the home
  address on a loopback or dummy device, ``arp_ignore=1`` on the roaming interface makes the
  kernel answer only for addresses configured on that interface (a co-located care-of address
  still resolves) and ``arp_announce=2`` keeps the home address out of the node's own ARP
  requests there; at home both return to 0. The previous values are restored by `close`.
"""

from __future__ import annotations

import subprocess

from mipd.dataplane.base import DataplaneError
from mipd.dataplane.netlink import RTPROT_MIPD, read_sysctl, set_interface_conf


class MobileHost:
    """Default route and ARP replies of a mobile node, undone by `close`."""

    def __init__(self, proto: int = RTPROT_MIPD) -> None:
        self.proto = proto
        self.default: tuple[str, str, str | None] | None = None
        self._saved: dict[tuple[str, str], str] = {}

    def _ip(self, *args: str, check: bool = True) -> None:
        r = subprocess.run(["ip", *args], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise DataplaneError(f"ip {' '.join(args)}: {r.stderr.strip()}")

    def set_default_route(self, gateway: str | None, interface: str | None, source: str | None = None) -> None:
        """Default route via `gateway` on `interface` (from `source`); None gateway: remove ours."""
        if gateway is None or interface is None:
            if self.default is not None:
                self._ip("-4", "route", "del", "default", "proto", str(self.proto), check=False)
                self.default = None
            return
        args = ["-4", "route", "replace", "default", "via", gateway, "dev", interface, "onlink"]
        if source:
            args += ["src", source]
        self._ip(*args, "proto", str(self.proto))
        self.default = (gateway, interface, source)

    def arp_replies(self, address: str, interface: str, enable: bool) -> None:
        """Answer ARP for `address` on `interface` (at home) or not (away from home, §4.6)."""
        for name, value in (("arp_ignore", 0 if enable else 1), ("arp_announce", 0 if enable else 2)):
            key = (interface, name)
            try:
                if key not in self._saved:
                    self._saved[key] = read_sysctl(f"ipv4/conf/{interface}/{name}")
                set_interface_conf(interface, name, value)
            except OSError as e:
                raise DataplaneError(f"{interface} {name}: {e.strerror or e}") from None

    def close(self) -> None:
        """Remove our default route and put the ARP settings back as they were."""
        self.set_default_route(None, None)
        for (interface, name), value in self._saved.items():
            try:
                set_interface_conf(interface, name, value)
            except OSError:
                pass  # the interface is gone
        self._saved.clear()
