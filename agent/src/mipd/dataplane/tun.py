"""TUN device for the userspace data plane (Linux ``Documentation/networking/tuntap.rst``).

``IFF_TUN | IFF_NO_PI``: every read returns one IPv4/IPv6 datagram the kernel routed into the
device, every write injects one datagram as if it had arrived on the device. The device is not
persistent: it disappears when its file descriptor is closed, so a crashed agent leaves no
device (and so no route through it) behind.
"""

from __future__ import annotations

import fcntl
import os
import struct

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IFNAMSIZ = 16


def open_tun(name: str) -> tuple[int, str]:
    """Create TUN device `name` (``%d`` allowed); return (non-blocking fd, actual name)."""
    if not name or len(name.encode()) >= IFNAMSIZ:
        raise ValueError(f"bad interface name {name!r}")
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        ifr = struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI)
        ifr = fcntl.ioctl(fd, TUNSETIFF, ifr)
    except BaseException:
        os.close(fd)
        raise
    actual = ifr[:IFNAMSIZ].rstrip(b"\x00").decode()
    return fd, actual
