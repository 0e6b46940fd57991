"""A RADIUS client on the daemon's event loop: fetches mobile nodes' SAs (the home agent's LookupSA).

Access-Request (RFC 2865 §4.1) with User-Name = the node's home address or NAI, NAS-Identifier,
NAS-IP-Address (the source address, when configured) and Message-Authenticator (RFC 3579 §3.2),
encoded and decoded with pyrad and the small dictionary shipped beside this module
(radius.dictionary). One connected UDP socket per server, read by the event loop: nothing blocks
the registration loop. Each server gets `timeout` seconds per try and `retries` more tries (the
same Identifier and Request Authenticator, RFC 5080 §2.2.1); then the next server is tried
(failover), and a server that did not answer (or refused: ICMP port unreachable) is marked dead
and skipped for `dead_time` seconds. When every server is dead the lookup fails at once
(unreachable) until one comes back.

A reply counts only with a valid Response Authenticator (RFC 2865 §3) AND a valid
Message-Authenticator: anything else is dropped and counted (BlastRADIUS, CVE-2024-3596), and the
lookup keeps waiting for the real answer. Access-Accept carries the SAs as Cisco-AVPair
"mobileip:spi#N=..." values (mipd.security.avpair); Access-Reject refuses the node. Secrets and
keys never reach a log line: the results carry SAs (keys in bytes, repr by fingerprint) and
reasons that name fields only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from pyrad import packet as rp
from pyrad.dictionary import Dictionary

from mipd.ipv4 import UNSPECIFIED
from mipd.protocol.aaa import ACCEPT, MALFORMED, REJECT, UNREACHABLE, LookupResult
from mipd.runtime.radius_auth import reply_problem, sign_request
from mipd.runtime.radius_config import RadiusServer, RadiusSettings
from mipd.security.avpair import parse_sa_avpairs

DICTIONARY = os.path.join(os.path.dirname(__file__), "radius.dictionary")
READ_BATCH = 64  # replies read per wake-up
MAX_REPLY = 4096  # RFC 2865 §3: the maximum packet length

log = logging.getLogger("mipd.radius")


@dataclass(slots=True)
class _Server:
    config: RadiusServer
    sock: socket.socket
    free_ids: list[int] = field(default_factory=lambda: list(range(256)))
    inflight: dict[int, _Lookup] = field(default_factory=dict)
    dead_until: float = 0.0
    failed: bool = False  # marked dead since its last valid reply (logged when it answers again)


@dataclass(slots=True)
class _Lookup:
    identity: str
    tried: list[_Server] = field(default_factory=list)
    server: _Server | None = None
    request: rp.AuthPacket | None = None
    raw: bytes = b""
    tries: int = 0
    timer: asyncio.TimerHandle | None = None


class RadiusClient:
    """Looks SAs up for `deliver(LookupResult)`, called on the loop (never inside `lookup`)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        settings: RadiusSettings,
        deliver: Callable[[LookupResult], None],
        counters: Counter[str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.loop = loop
        self.settings = settings
        self.deliver = deliver
        self.counters = counters
        self.clock = clock
        self.dictionary = Dictionary(DICTIONARY)
        self.servers: list[_Server] = []
        self._lookups: dict[str, _Lookup] = {}
        try:
            for cfg in settings.servers:
                self.servers.append(_Server(cfg, self._open(cfg)))
        except OSError:
            self.close()
            raise
        for server in self.servers:
            loop.add_reader(server.sock.fileno(), self._on_readable, server)

    def _open(self, cfg: RadiusServer) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind((self.settings.source_address or UNSPECIFIED, 0))
            sock.connect((cfg.address, cfg.port))  # the kernel then passes only that server's datagrams
        except OSError:
            sock.close()
            raise
        return sock

    def close(self) -> None:
        for lookup in list(self._lookups.values()):
            if lookup.timer is not None:
                lookup.timer.cancel()
        self._lookups.clear()
        for server in self.servers:
            try:
                self.loop.remove_reader(server.sock.fileno())
            except (ValueError, OSError):
                pass
            server.sock.close()
        self.servers = []

    def status(self) -> list[dict[str, object]]:
        """Each server and whether it is in use (for `mipctl status`); never a secret."""
        now = self.clock()
        return [
            {"server": s.config.name, "dead_for": round(max(0.0, s.dead_until - now), 1), "in_flight": len(s.inflight)}
            for s in self.servers
        ]

    # ------------------------------------------------------------------ lookups

    def lookup(self, identity: str) -> None:
        """Start fetching `identity`'s SAs; one lookup per identity at a time (a second one joins it)."""
        if identity in self._lookups:
            self.counters["radius.lookup_joined"] += 1
            return
        lookup = self._lookups[identity] = _Lookup(identity)
        self._next_server(lookup)

    def _next_server(self, lookup: _Lookup) -> None:
        now = self.clock()
        for server in self.servers:
            if server in lookup.tried or server.dead_until > now or not server.free_ids:
                continue
            if lookup.tried:
                self.counters["radius.failover"] += 1
            lookup.tried.append(server)
            try:
                self._prepare(lookup, server)
            except (ValueError, TypeError, KeyError) as e:  # pyrad refused the identity (too long, not text)
                self._finish(lookup, MALFORMED, None, f"cannot send User-Name: {type(e).__name__}")
                return
            self._send(lookup)
            return
        reason = "every RADIUS server is marked dead" if not lookup.tried else "no RADIUS server answered"
        self._finish(lookup, UNREACHABLE, None, reason)

    def _prepare(self, lookup: _Lookup, server: _Server) -> None:
        ident = server.free_ids.pop()
        request = rp.AuthPacket(code=rp.AccessRequest, id=ident, secret=server.config.secret, dict=self.dictionary)
        try:
            request["User-Name"] = lookup.identity
            request["NAS-Identifier"] = self.settings.nas_identifier
            if self.settings.source_address:
                request["NAS-IP-Address"] = self.settings.source_address
            request["Message-Authenticator"] = bytes(16)  # signed on the bytes below, with any pyrad
            raw = sign_request(request.RequestPacket(), server.config.secret)
        except Exception:
            server.free_ids.append(ident)
            raise
        server.inflight[ident] = lookup
        lookup.server, lookup.request, lookup.raw, lookup.tries = server, request, raw, 0

    def _send(self, lookup: _Lookup) -> None:
        server = lookup.server
        assert server is not None
        lookup.tries += 1
        self.counters["radius.request" if lookup.tries == 1 else "radius.retransmit"] += 1
        try:
            server.sock.send(lookup.raw)
        except OSError as e:  # ECONNREFUSED from an earlier ICMP error, no route, ...
            self.counters["radius.send_error"] += 1
            self._server_failed(server, f"send failed: {e.strerror or e}")
            return
        lookup.timer = self.loop.call_later(self.settings.timeout, self._on_timeout, lookup)

    def _on_timeout(self, lookup: _Lookup) -> None:
        lookup.timer = None
        if lookup.tries <= self.settings.retries:
            self._send(lookup)
            return
        assert lookup.server is not None
        self.counters["radius.timeout"] += 1
        self._server_failed(lookup.server, f"no answer after {lookup.tries} tries")

    def _server_failed(self, server: _Server, why: str) -> None:
        """`server` did not answer: dead for dead_time; its lookups move on to the next server."""
        server.failed = True
        if server.dead_until <= self.clock():
            log.warning("RADIUS server %s: %s; skipped for %g s", server.config.name, why, self.settings.dead_time)
            self.counters["radius.server_dead"] += 1
        server.dead_until = self.clock() + self.settings.dead_time
        for lookup in list(server.inflight.values()):
            self._release(lookup)
            self._next_server(lookup)

    def _release(self, lookup: _Lookup) -> None:
        if lookup.timer is not None:
            lookup.timer.cancel()
            lookup.timer = None
        server, request = lookup.server, lookup.request
        if server is not None and request is not None and server.inflight.get(request.id) is lookup:
            del server.inflight[request.id]
            server.free_ids.append(request.id)
        lookup.server = None

    def _finish(self, lookup: _Lookup, outcome: str, server: _Server | None, reason: str, sas: tuple = ()) -> None:
        self._release(lookup)
        self._lookups.pop(lookup.identity, None)
        self.counters[f"radius.{outcome}"] += 1
        result = LookupResult(lookup.identity, outcome, sas, server.config.name if server else None, reason)
        self.loop.call_soon(self.deliver, result)

    # ------------------------------------------------------------------ replies

    def _on_readable(self, server: _Server) -> None:
        for _ in range(READ_BATCH):
            try:
                data = server.sock.recv(MAX_REPLY)
            except BlockingIOError:
                return
            except ConnectionRefusedError:  # ICMP port unreachable: nothing listens there
                self.counters["radius.refused"] += 1
                self._server_failed(server, "port unreachable")
                return
            except OSError as e:
                self.counters["radius.receive_error"] += 1
                log.warning("RADIUS server %s: receive failed: %s", server.config.name, e.strerror or e)
                return
            self._on_reply(server, data)

    def _on_reply(self, server: _Server, data: bytes) -> None:
        """RFC 2865 §3 and RFC 3579 §3.2: only a reply that proves the shared secret counts (CVE-2024-3596)."""
        lookup = server.inflight.get(data[1]) if len(data) >= 20 else None
        if lookup is None or lookup.request is None:
            self.counters["radius.reply_unexpected"] += 1
            return
        try:
            reply = rp.Packet(packet=data, dict=self.dictionary, secret=server.config.secret)
        except Exception:  # pyrad raises PacketError and others on garbage
            self.counters["radius.reply_undecodable"] += 1
            return
        problem = reply_problem(data, lookup.raw[4:20], server.config.secret)
        if problem is not None:
            self.counters[f"radius.reply_{problem}"] += 1
            return
        if server.failed:
            server.failed = False
            server.dead_until = 0.0
            log.warning("RADIUS server %s answers again", server.config.name)
        if reply.code == rp.AccessReject:
            self._finish(lookup, REJECT, server, "Access-Reject")
        elif reply.code != rp.AccessAccept:
            self._finish(lookup, MALFORMED, server, f"unexpected RADIUS reply code {reply.code}")
        else:
            try:
                values = [v if isinstance(v, str) else v.decode() for v in _attribute(reply, "Cisco-AVPair")]
                sas = tuple(parse_sa_avpairs(lookup.identity, values))
            except UnicodeDecodeError:
                self._finish(lookup, MALFORMED, server, "malformed SA attribute: Cisco-AVPair is not text")
                return
            except ValueError as e:  # AvPairError, or SecurityAssociation's check: both name fields, never keys
                reason = str(e)
                self._finish(lookup, MALFORMED, server, f"malformed SA attribute: {reason}")
                return
            self._finish(lookup, ACCEPT, server, "", sas)


def _attribute(packet: rp.Packet, name: str) -> list:
    """The values of attribute `name` ([] when absent); by item, which decodes the name in every pyrad (2.1's
    `get` is the plain dict's, keyed by code)."""
    try:
        return list(packet[name])
    except KeyError:
        return []
