"""Who else holds what a starting mipd needs: UDP port 434, the state database, the control socket.

On Linux a UDP socket with SO_REUSEADDR may bind an address and port another such socket holds,
and the newest one then receives the unicast datagrams: a second mipd would silently take the
port-434 traffic of the running one. So before (and right after) binding, the daemon looks for
other sockets on the port in /proc/net/udp (this network namespace only) and names their process:
the socket inode found under /proc/<pid>/fd. Other holders are named by a pid written in the lock
file (state database) or by SO_PEERCRED (control socket); `describe` turns a pid into
"pid N (command line)".
"""

from __future__ import annotations

import os
import socket
import struct

from mipd.ipv4 import UNSPECIFIED

PROC_NET_UDP = "/proc/net/udp"
COMMAND_MAX = 200  # characters of a command line shown


def describe(pid: int | None) -> str:
    """ "pid N (its command line)", or "another process" when `pid` is unknown."""
    if not pid:
        return "another process"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            words = f.read().rstrip(b"\0").split(b"\0")
    except OSError:
        return f"pid {pid}"
    command = " ".join(w.decode(errors="replace") for w in words)
    if len(command) > COMMAND_MAX:
        command = command[: COMMAND_MAX - 3] + "..."
    return f"pid {pid} ({command})" if command else f"pid {pid}"


def udp_sockets(port: int, table: str = PROC_NET_UDP) -> list[tuple[str, int]]:
    """(local address, socket inode) of every UDP socket bound to `port` in this network namespace."""
    out = []
    try:
        with open(table) as f:
            next(f, None)  # header
            for line in f:
                fields = line.split()
                if len(fields) < 10:
                    continue
                address, _, port_hex = fields[1].partition(":")
                if int(port_hex, 16) != port:
                    continue
                # the kernel prints the network-order address as a host-order integer
                out.append((socket.inet_ntoa(struct.pack("=I", int(address, 16))), int(fields[9])))
    except OSError:
        return []
    return out


def socket_owner(inode: int) -> int | None:
    """The pid of a process with a descriptor for socket `inode` (None when none is visible)."""
    target = f"socket:[{inode}]"
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            for fd in os.scandir(f"/proc/{entry.name}/fd"):
                if os.readlink(fd.path) == target:
                    return int(entry.name)
        except OSError:
            continue  # gone, or not ours to look at
    return None


def udp_port_users(port: int, addresses: set[str], own_inode: int | None = None) -> list[str]:
    """What holds UDP `port` on one of `addresses` (or on the wildcard address) besides our own socket:
    one "ADDRESS by pid N (command)" line each."""
    found = []
    for address, inode in udp_sockets(port):
        if inode == own_inode or (address not in addresses and address != UNSPECIFIED):
            continue
        found.append(f"{address} by {describe(socket_owner(inode))}")
    return found
