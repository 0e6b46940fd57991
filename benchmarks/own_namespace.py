"""The check every load generator of the benchmarks makes before it sends anything.

A generator runs in a network namespace its benchmark created, and sends only to an address of that
namespace's own loopback. Started anywhere else (by hand, or by a mistake in its driver) it would send to the
same address through the machine's routes, out of the machine: it exits instead, saying why.
"""

from __future__ import annotations

import os
import socket
import sys


def assert_inside(ns: str, prefix: str, address: str, who: str, outer: int = 0) -> None:
    """Exit unless this process runs in network namespace `ns`, named `prefix`... (one its benchmark created) and
    not `outer` (the inode of the namespace the driver runs in, when it says), with `address` one of its own."""
    if not ns.startswith(prefix):
        sys.exit(f"{who}: refusing to send: {ns!r} is not a namespace of this benchmark")
    try:
        named = os.stat(f"/run/netns/{ns}").st_ino
    except OSError:
        sys.exit(f"{who}: refusing to send: there is no network namespace {ns}")
    here = os.stat("/proc/self/ns/net").st_ino
    if here != named or here == outer:
        sys.exit(f"{who}: refusing to send: not inside network namespace {ns}")
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        # the destination is an address of this namespace itself (in one without any address every bind passes,
        # but nothing can be sent from there either)
        probe.bind((address, 0))
    except OSError:
        sys.exit(f"{who}: refusing to send: {address} is not an address of namespace {ns}")
    finally:
        probe.close()
