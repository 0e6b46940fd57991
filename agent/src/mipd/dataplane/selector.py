"""Backend choice: ``kernel`` if this kernel can create the tunnel devices, else ``userspace``.

RFC 5944 §4.1: IP-in-IP is mandatory for agents, GRE and minimal encapsulation optional. The
probe creates a throw-away ``ipip`` (and, if GRE is required, ``gre``) device that is never
brought up and deletes it at once; a kernel without the module answers EOPNOTSUPP. Minimal
encapsulation has no kernel device at all, so requiring it selects the userspace backend.

(Named ``selector`` rather than ``select`` so that it never shadows the standard library's
``select`` module.)
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mipd.dataplane.base import ENCAP_PROTOCOLS, DataplaneError, UnsupportedEncapsulation
from mipd.dataplane.kernel import MINIMAL_UNSUPPORTED, KernelDataplane
from mipd.dataplane.netlink import Netlink, NetlinkError, gre_data, ipip_data
from mipd.dataplane.userspace import UserspaceDataplane
from mipd.ipv4 import UNSPECIFIED

log = logging.getLogger("mipd.dataplane")

BACKENDS = ("auto", "kernel", "userspace")


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    reason: str

    def __bool__(self) -> bool:
        return self.ok


def probe_kernel_tunnels(encaps: Iterable[str] = ("ipip",)) -> ProbeResult:
    """Can this kernel (in this network namespace) create tunnel devices for `encaps`?"""
    wanted = list(dict.fromkeys(encaps))
    for encap in wanted:
        if encap not in ENCAP_PROTOCOLS:
            return ProbeResult(False, f"unknown encapsulation {encap!r}")
        if encap == "minimal":
            return ProbeResult(False, MINIMAL_UNSUPPORTED)
    try:
        nl = Netlink()
    except OSError as exc:
        return ProbeResult(False, f"no rtnetlink socket: {exc}")
    with nl:
        for encap in wanted:
            name = f"mipprb{os.getpid() % 1000000}"
            # TEST-NET-1 remote (RFC 5737), never routed; the device is never brought up
            remote = f"192.0.2.{1 + os.getpid() % 254}"
            data = (ipip_data if encap == "ipip" else gre_data)(UNSPECIFIED, remote)
            try:
                nl.add_link(name, encap, data)
            except NetlinkError as exc:
                if exc.errno == errno.EEXIST:
                    continue  # the kind exists (a device with these parameters already does)
                if exc.errno in (errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL):
                    return ProbeResult(False, f"kernel cannot create {encap} devices: "
                                              f"{exc.strerror} ({encap} module not available)")
                return ProbeResult(False, f"cannot create a test {encap} device: {exc}")
            try:
                nl.del_link(name)
            except NetlinkError as exc:
                log.warning("probe device %s not removed: %s", name, exc)
    return ProbeResult(True, f"kernel creates {', '.join(wanted)} devices")


def open_dataplane(backend: str = "auto", *, require: Iterable[str] = ("ipip",),
                   **options: Any) -> UserspaceDataplane | KernelDataplane:
    """Open a data plane.

    `backend`: ``auto`` (kernel if :func:`probe_kernel_tunnels` succeeds for every
    encapsulation in `require`, else userspace), ``kernel`` or ``userspace``. `options` go to
    the backend's constructor (those the other backend does not know are ignored for it, so
    one configuration serves both).
    """
    if backend not in BACKENDS:
        raise DataplaneError(f"unknown data-plane backend {backend!r} (one of {BACKENDS})")
    require = list(require)
    if backend == "auto":
        probe = probe_kernel_tunnels(require)
        backend = "kernel" if probe.ok else "userspace"
        log.info("data plane: %s (%s)", backend, probe.reason)
    elif backend == "kernel":
        if "minimal" in require:
            raise UnsupportedEncapsulation(MINIMAL_UNSUPPORTED)
        probe = probe_kernel_tunnels(require)
        if not probe.ok:
            raise DataplaneError(f"kernel data plane unavailable: {probe.reason}")
    cls: type[UserspaceDataplane] | type[KernelDataplane]
    cls = KernelDataplane if backend == "kernel" else UserspaceDataplane
    accepted = _options_of(cls)
    unknown = set(options) - _ALL_OPTIONS
    if unknown:
        raise DataplaneError(f"unknown data-plane options: {', '.join(sorted(unknown))}")
    return cls(**{k: v for k, v in options.items() if k in accepted})


def _options_of(cls: type) -> set[str]:
    code = cls.__init__.__code__
    return set(code.co_varnames[1 : code.co_argcount + code.co_kwonlyargcount])


_ALL_OPTIONS = _options_of(UserspaceDataplane) | _options_of(KernelDataplane)
