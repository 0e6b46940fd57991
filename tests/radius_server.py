"""A real FreeRADIUS server for tests: generated configuration in a temporary directory, loopback only.

    server = RadiusServer(tmp_path / "radius", port=18120)
    server.add_sa("10.1.0.10", spi=257, key_hex="00112233...")    # Cisco-AVPair "mobileip:spi#0=..."
    server.reject("10.1.0.99")                                     # Access-Reject for this User-Name
    server.start()            # freeradius -f, started and later stopped by its PID
    ... server.secret, server.address, server.port ...
    server.stop()

Nothing of the distribution's /etc/freeradius is read: radiusd.conf, the `users` file (the `files`
module) and the client list (one client, 127.0.0.0/8 or the given network, with a generated secret)
are written into the directory, which also holds the log, the pid file and the run directory. The
server listens only on `address`:`port` (authentication), in the network namespace `netns` when one
is given (`ip netns exec`, which execs, so the PID is the server's). Debian's `freeradius` package
(installed by `./mip setup`) provides the binary and the dictionaries in /usr/share/freeradius.

Used by the agent's RADIUS tests and benchmark; reusable by the collection's (a `users` file in the
format of docs/radius.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import heapq
import hmac
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

FREERADIUS = shutil.which("freeradius") or "/usr/sbin/freeradius"
DICTIONARY_DIR = "/usr/share/freeradius"
MODULES_DIR = "/usr/lib/freeradius"
CLONE_NEWNET = 0x40000000


def available() -> bool:
    """FreeRADIUS is installed (Debian package `freeradius`) and we are root (it binds and logs as root)."""
    return os.path.exists(FREERADIUS) and os.path.isdir(DICTIONARY_DIR) and os.geteuid() == 0


def sa_avpair(
    index: int,
    spi: int,
    key_hex: str,
    algorithm: str = "hmac-md5",
    replay: str = "timestamp within 7",
    mode: str | None = None,
) -> str:
    """One Cisco-AVPair value carrying an SA: "mobileip:spi#N=spi SPI key hex KEY algorithm ALG replay ..."."""
    text = f"mobileip:spi#{index}=spi {spi} key hex {key_hex} algorithm {algorithm}"
    if mode:
        text += f" mode {mode}"
    return f"{text} replay {replay}"


class RadiusServer:
    """One FreeRADIUS process with a generated configuration (see the module docstring)."""

    def __init__(
        self,
        directory: Path,
        port: int = 18120,
        address: str = "127.0.0.1",
        secret: str | None = None,
        clients: str = "127.0.0.0/8",
        netns: str | None = None,
        message_authenticator: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self.port = port
        self.address = address
        self.secret = secret or secrets.token_hex(16)
        self.clients = clients
        self.netns = netns
        self.message_authenticator = message_authenticator  # add one to every reply (BlastRADIUS)
        self.users: list[tuple[str, list[str], bool]] = []  # (User-Name, Cisco-AVPair values, accept)
        self.proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ the users file

    def add_sa(self, identity: str, spi: int, key_hex: str, **kw: str) -> None:
        """Accept `identity` with one more SA (spi#N, N counting its SAs)."""
        for name, pairs, _accept in self.users:
            if name == identity:
                pairs.append(sa_avpair(len(pairs), spi, key_hex, **kw))
                return
        self.users.append((identity, [sa_avpair(0, spi, key_hex, **kw)], True))

    def add_raw(self, identity: str, *avpairs: str) -> None:
        """Accept `identity` with these Cisco-AVPair values as written (malformed ones for tests)."""
        self.users.append((identity, list(avpairs), True))

    def reject(self, identity: str) -> None:
        self.users.append((identity, [], False))

    def clear(self) -> None:
        self.users.clear()

    def users_file(self) -> str:
        """The `users` file of the `files` module: one entry per identity, then a default reject."""
        lines = []
        for name, pairs, accept in self.users:
            if not accept:
                lines.append(f'"{name}" Auth-Type := Reject\n')
                continue
            reply = [f'\tCisco-AVPair += "{p}"' for p in pairs]
            lines.append(f'"{name}" Auth-Type := Accept\n' + ",\n".join(reply) + "\n")
        lines.append("DEFAULT Auth-Type := Reject\n")
        return "\n".join(lines)

    # ------------------------------------------------------------------ configuration

    def write(self) -> None:
        d = self.directory
        for sub in ("log", "run", "acct"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "dictionary").write_text("# no local attributes\n")
        (d / "users").write_text(self.users_file())
        reply_ma = "update reply {\n\t\t\tMessage-Authenticator := 0x00\n\t\t}" if self.message_authenticator else ""
        conf = f"""\
prefix = /usr
exec_prefix = /usr
sysconfdir = {d}
localstatedir = {d}
sbindir = /usr/sbin
logdir = {d}/log
raddbdir = {d}
radacctdir = {d}/acct
name = radiusd
confdir = {d}
modconfdir = {d}
run_dir = {d}/run
db_dir = {d}
libdir = {MODULES_DIR}
pidfile = {d}/run/radiusd.pid
max_request_time = 30
cleanup_delay = 0
max_requests = 65536
hostname_lookups = no
log {{
\tdestination = files
\tfile = {d}/log/radius.log
\tauth = no
}}
security {{
\tallow_core_dumps = no
\tmax_attributes = 200
\treject_delay = 0
\tstatus_server = yes
}}
thread pool {{
\tstart_servers = 2
\tmax_servers = 4
\tmin_spare_servers = 1
\tmax_spare_servers = 4
\tmax_requests_per_server = 0
}}
client mipd {{
\tipaddr = {self.clients}
\tsecret = "{self.secret}"
}}
modules {{
\tfiles {{
\t\tfilename = {d}/users
\t}}
}}
server default {{
\tlisten {{
\t\ttype = auth
\t\tipaddr = {self.address}
\t\tport = {self.port}
\t}}
\tauthorize {{
\t\tfiles
\t}}
\tauthenticate {{
\t}}
\tpost-auth {{
\t\t{reply_ma}
\t\tPost-Auth-Type REJECT {{
\t\t\t{reply_ma}
\t\t}}
\t}}
}}
"""
        (d / "radiusd.conf").write_text(conf)
        os.chmod(d / "radiusd.conf", 0o600)  # holds the shared secret

    # ------------------------------------------------------------------ process

    def command(self) -> list[str]:
        cmd = [FREERADIUS, "-f", "-d", str(self.directory), "-n", "radiusd", "-D", DICTIONARY_DIR]
        return ["ip", "netns", "exec", self.netns, *cmd] if self.netns else cmd

    def start(self, timeout: float = 20.0) -> RadiusServer:
        """Write the configuration and start the server; returns once it logs that it is ready."""
        self.write()
        log = self.directory / "log" / "radius.log"
        offset = log.stat().st_size if log.exists() else 0
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                self.proc = None
                raise RuntimeError(f"freeradius exited at start: {err}\n{self.log_text(offset)}")
            if "Ready to process requests" in self.log_text(offset):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"freeradius did not become ready within {timeout} s\n{self.log_text(offset)}")

    def restart(self) -> RadiusServer:
        """Stop and start again with the users file as it is now."""
        self.stop()
        return self.start()

    def stop(self) -> None:
        """SIGTERM by PID (SIGKILL after 10 s); idempotent."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()

    def pause(self) -> None:
        """SIGSTOP: the server keeps its port but answers nothing (an unresponsive server)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self, offset: int = 0) -> str:
        with contextlib.suppress(OSError):
            with open(self.directory / "log" / "radius.log", "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        return ""

    def __enter__(self) -> RadiusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def bound_udp(address: str, port: int, netns: str | None = None) -> socket.socket:
    """A UDP socket bound to `address`:`port`, made inside network namespace `netns` (on a thread that
    entered it; the socket stays there) or here when None."""
    if netns is None:
        return _bound(address, port)
    made: dict[str, socket.socket | BaseException] = {}

    def target() -> None:
        fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
        try:
            if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
            made["socket"] = _bound(address, port)
        except BaseException as e:  # handed to the caller
            made["socket"] = e
        finally:
            os.close(fd)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if isinstance(made["socket"], BaseException):
        raise made["socket"]
    return made["socket"]


def _bound(address: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((address, port))
    except OSError:
        sock.close()
        raise
    return sock


class FakeRadius:
    """A socket-based RADIUS responder for what FreeRADIUS is not made to do: answer every Access-Request
    with an Access-Accept carrying `avpairs` (Cisco-AVPair values), signed with `secret` (a wrong one to
    spoof), with or without Message-Authenticator (RFC 3579 §3.2), `delay` seconds late (a slow server).

    `sock` is a bound UDP socket (made in the namespace where it should listen); served on a thread
    until `stop`, which closes it.
    """

    def __init__(
        self,
        sock: socket.socket,
        secret: bytes,
        avpairs: list[str],
        delay: float = 0.0,
        message_authenticator: bool = True,
    ) -> None:
        self.sock = sock
        self.secret = secret
        self.avpairs = avpairs
        self.delay = delay
        self.message_authenticator = message_authenticator
        self.requests = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-radius", daemon=True)

    def start(self) -> FakeRadius:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def reply(self, request: bytes) -> bytes:
        """The Access-Accept for `request` (RFC 2865 §3 Response Authenticator, RFC 3579 §3.2)."""
        attrs = b""
        for value in self.avpairs:
            sub = bytes((1, 2 + len(value))) + value.encode()
            attrs += bytes((26, 6 + len(sub))) + (9).to_bytes(4, "big") + sub  # Vendor-Specific, Cisco
        if self.message_authenticator:
            attrs += bytes((80, 18)) + bytes(16)
        header = bytes((2, request[1])) + (20 + len(attrs)).to_bytes(2, "big")
        if self.message_authenticator:
            mac = hmac.new(self.secret, header + request[4:20] + attrs, hashlib.md5).digest()
            attrs = attrs[:-16] + mac
        authenticator = hashlib.md5(header + request[4:20] + attrs + self.secret).digest()
        return header + authenticator + attrs

    def _serve(self) -> None:
        self.sock.settimeout(0.05)
        due: list[tuple[float, bytes, tuple[str, int]]] = []
        while not self._stop.is_set():
            now = time.monotonic()
            while due and due[0][0] <= now:
                _at, data, peer = heapq.heappop(due)
                self.sock.sendto(data, peer)
            try:
                request, peer = self.sock.recvfrom(4096)
            except (TimeoutError, BlockingIOError):
                continue
            except OSError:
                return
            if len(request) >= 20 and request[0] == 1:
                self.requests += 1
                heapq.heappush(due, (time.monotonic() + self.delay, self.reply(request), peer))


def fetch_sas(address: str, port: int, secret: str, identity: str, timeout: float = 20.0):
    """What mipd's own RADIUS client gets for `identity` from a server (a LookupResult: outcome, SAs with keys
    as bytes); Response Authenticator and Message-Authenticator checked as the home agent checks them."""
    import asyncio
    from collections import Counter

    from mipd.runtime.radius import RadiusClient
    from mipd.runtime.radius_config import RadiusServer as ServerSettings
    from mipd.runtime.radius_config import RadiusSettings

    async def go():
        loop = asyncio.get_running_loop()
        got = loop.create_future()
        settings = RadiusSettings(servers=(ServerSettings(address, port, secret.encode()),), timeout=2.0, retries=2)
        client = RadiusClient(loop, settings, got.set_result, Counter())
        try:
            client.lookup(identity)
            return await asyncio.wait_for(got, timeout)
        finally:
            client.close()

    return asyncio.run(go())
