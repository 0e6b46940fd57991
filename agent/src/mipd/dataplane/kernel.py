"""Kernel data plane: one Linux ``ipip`` (RFC 2003) or ``gre`` (RFC 2784) device per tunnel.

The kernel encapsulates, decapsulates and keeps the tunnel PMTU soft state itself
(``pmtudisc``: outer DF set, ICMP Fragmentation Needed relayed to senders, RFC 2003 §5.1).
Linux has no minimal-encapsulation (RFC 2004, IP protocol 55) tunnel type, so
``add_tunnel(..., "minimal")`` raises :class:`UnsupportedEncapsulation`; :func:`open_dataplane`
then falls back to (or, when asked for ``kernel`` explicitly, the configuration must use) the
userspace backend. Decapsulation is done by the device whose local/remote match the outer
header, so only configured peers are decapsulated (RFC 2003 §6); the RFC 5944 §4.2.2 visitor
check on inner destinations is left to routing (no route, no delivery) in this backend.

A host route leads into one device, so this backend cannot tunnel a copy of a datagram to each
of several care-of addresses (simultaneous bindings, RFC 5944 §4.2.3): ``copies`` is False and
the home agent then grants no simultaneous bindings (code 1, §3.4).

Reverse tunnelling (RFC 3024 §5.1) needs one routing table per tunnel (a rule selects the
table by source, the table's default route selects the device): tables ``table`` ..
``table + max_tunnels - 1``.

This backend cannot be exercised on a kernel without the ipip/gre modules; its netlink
messages are the same codec the userspace backend uses (link creation is exercised by the
probe in :mod:`mipd.dataplane.selector`).
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Callable
from dataclasses import dataclass

from mipd.dataplane.base import ENCAP_OVERHEAD, Tunnel, UnsupportedEncapsulation
from mipd.dataplane.common import DEFAULT_RULE_PRIORITY, DEFAULT_TABLE, NetlinkDataplane
from mipd.dataplane.netlink import (
    RTPROT_MIPD,
    NetlinkError,
    gre_data,
    ipip_data,
    set_interface_conf,
)
from mipd.ipv4 import UNSPECIFIED

MINIMAL_UNSUPPORTED = ("the Linux kernel has no minimal encapsulation (RFC 2004, IP protocol 55) "
                       "tunnel device; use the userspace data plane for minimal encapsulation")


@dataclass(eq=False)
class KernelTunnel(Tunnel):
    table: int = 0


class KernelDataplane(NetlinkDataplane):
    """ipip/gre devices named ``<ifname_prefix><n>`` (default ``mipt0``, ``mipt1``, ...)."""

    name = "kernel"

    def __init__(self, *, ifname_prefix: str = "mipt", table: int = DEFAULT_TABLE,
                 rule_priority: int = DEFAULT_RULE_PRIORITY, proto: int = RTPROT_MIPD,
                 ttl: int = 64, pmtudisc: bool = True, default_mtu: int = 1500,
                 max_tunnels: int = 4096) -> None:
        super().__init__(table=table, rule_priority=rule_priority, proto=proto)
        if len(ifname_prefix) > 9:
            raise ValueError("ifname_prefix too long (device names have 15 characters)")
        self.ifname_prefix = ifname_prefix
        self.ttl = ttl
        self.pmtudisc = pmtudisc
        self.default_mtu = default_mtu
        self.max_tunnels = max_tunnels
        self._slots: set[int] = set()  # n of the devices <ifname_prefix><n>, tables table + n
        self._next_slot = 0

    def _free_slot(self) -> int:
        for slot in range(self._next_slot, self.max_tunnels):
            if slot not in self._slots:
                self._next_slot = slot + 1
                return slot
        free = set(range(self.max_tunnels)) - self._slots
        if not free:
            raise NetlinkError(errno.ENOSPC, f"more than {self.max_tunnels} tunnels")
        return min(free)

    def _link_spec(self, local: str, remote: str, encap: str) -> tuple[str, bytes]:
        """(link kind, IFLA_INFO_DATA) of the device for a tunnel."""
        if encap == "ipip":
            return "ipip", ipip_data(local, remote, ttl=self.ttl, pmtudisc=self.pmtudisc)
        return "gre", gre_data(local, remote, ttl=self.ttl, pmtudisc=self.pmtudisc)

    def _create_tunnel(self, local: str, remote: str, encap: str, mtu: int | None) -> Tunnel:
        if encap == "minimal":
            raise UnsupportedEncapsulation(MINIMAL_UNSUPPORTED)
        slot = self._free_slot()
        name = f"{self.ifname_prefix}{slot}"
        if mtu is None:
            mtu = self._nl.path_mtu(remote, self.default_mtu)
        self._nl.add_link(name, *self._link_spec(local, remote, encap))
        try:
            for conf, value in (("forwarding", 1), ("rp_filter", 2)):
                set_interface_conf(name, conf, value)
            self._nl.set_link(name, mtu=mtu - ENCAP_OVERHEAD[encap], up=True)
        except (OSError, NetlinkError):
            self._quietly(self._nl.del_link, name)
            raise
        self._slots.add(slot)
        return KernelTunnel(local=local, remote=remote, encap=encap, mtu=mtu, ifname=name,
                            table=self.table + slot)

    def _destroy_tunnel(self, tunnel: Tunnel) -> None:
        assert isinstance(tunnel, KernelTunnel)
        slot = tunnel.table - self.table
        self._slots.discard(slot)
        self._next_slot = min(self._next_slot, slot)
        self._nl.del_link(tunnel.ifname)  # its routes go with it

    def _set_mtu(self, tunnel: Tunnel, mtu: int) -> None:
        super()._set_mtu(tunnel, mtu)
        self._nl.set_link(tunnel.ifname, mtu=mtu - tunnel.overhead)

    def _tunnel_oif(self, tunnel: Tunnel) -> int:
        return self._nl.index(tunnel.ifname)

    def _reverse_table(self, tunnel: Tunnel) -> int:
        assert isinstance(tunnel, KernelTunnel)
        return tunnel.table

    def _reverse_table_used(self, tunnel: Tunnel, used: bool) -> None:
        assert isinstance(tunnel, KernelTunnel)
        if used:
            self._nl.replace_route(UNSPECIFIED, 0, oif=self._tunnel_oif(tunnel), table=tunnel.table,
                                   proto=self.proto)
        else:
            self._nl.del_route(UNSPECIFIED, 0, oif=self._tunnel_oif(tunnel), table=tunnel.table)

    # the kernel does the packet work: nothing to poll
    def readers(self) -> list[tuple[int, Callable[[], None]]]:
        return []

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        pass

    def detach(self) -> None:
        pass

    def counters(self) -> dict[str, int]:
        out = dict.fromkeys(("encap_packets", "encap_bytes", "decap_packets", "decap_bytes",
                             "fragmented", "icmp_frag_needed_sent", "pmtu_updates"), 0)
        out.update(super().counters())
        for tunnel in self._tunnels.values():
            try:
                stats = self._nl.link(tunnel.ifname).stats
            except NetlinkError:
                continue
            out["encap_packets"] += stats.get("tx_packets", 0)
            out["encap_bytes"] += stats.get("tx_bytes", 0)
            out["decap_packets"] += stats.get("rx_packets", 0)
            out["decap_bytes"] += stats.get("rx_bytes", 0)
            for key in ("tx_errors", "tx_dropped", "rx_errors", "rx_dropped"):
                out[f"dropped_{key}"] = out.get(f"dropped_{key}", 0) + stats.get(key, 0)
                out["dropped"] += stats.get(key, 0)
        return out
