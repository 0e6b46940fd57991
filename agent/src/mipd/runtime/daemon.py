"""The mipd daemon: runs the sans-IO state machines on real sockets, timers and a data plane.

Events in: UDP 434 datagrams (RFC 5944 §3.3-3.4), frames from served/roaming links (§2.2
solicitations, §2.1 advertisements, §3.7.1 requests with the sender's link-layer address),
ICMP errors about relayed requests (§3.7.3), link changes (§2.4.2), timers, reload, shutdown.
Actions out, executed in the order the state machine returned them: data-plane changes at
once, records queued for the state database, sends held back until the batch's records are
committed (group commit: a batch of datagrams read until the socket would block is processed,
committed once, then its replies leave), so no acceptance is ever sent for a binding a crash
could lose.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import random
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from mipd import __version__
from mipd.dataplane.null import NullDataplane
from mipd.ipv4 import IPPROTO_ICMP, LIMITED_BROADCAST, UNSPECIFIED
from mipd.protocol.aaa import LookupResult, LookupSA
from mipd.protocol.actions import (
    Action,
    ArmTimer,
    CancelTimer,
    DeleteRecord,
    LinkChange,
    Log,
    Packet,
    SendICMP,
    SendUDP,
    SetDefaultRoute,
    StoreRecord,
)
from mipd.protocol.config import Limits
from mipd.protocol.home_agent import BINDINGS
from mipd.protocol.ratelimit import SourceLimiter
from mipd.runtime import background, collector, commands, frames, logs, owners
from mipd.runtime.config import Config, ConfigError, load_config
from mipd.runtime.control import ControlError, ControlServer
from mipd.runtime.driver import Driver
from mipd.runtime.linklayer import Filter, LinkLayer
from mipd.runtime.linkmon import LinkMonitor
from mipd.runtime.radius import RadiusClient
from mipd.runtime.roles import CODECS, FOREIGN_AGENT, HOME_AGENT, MOBILE_NODE, Role, build
from mipd.runtime.sockets import IcmpSender, PacketSocket, UdpSocket
from mipd.runtime.store import Store, StoreError
from mipd.runtime.timers import Timers
from mipd.security import SecurityAssociations
from mipd.security.table import Difference
from mipd.wire.icmp import AGENTS_GROUP, ICMP_ROUTER_ADVERTISEMENT, ICMP_ROUTER_SOLICITATION
from mipd.wire.registration import REPLY, REQUEST, message_type

BATCH = 64  # datagrams per batch (one commit each): ~3 ms of work, which bounds the reply latency it adds
TRUST_TIME = 300.0  # seconds a source whose datagram led to stored state (an accepted registration) is trusted
MAX_TRUSTED = 65536  # trusted sources remembered
MAX_BLOCKED = 256  # sources the kernel drops at once (a socket filter of two instructions each)
LINK_RETRY = 2.0  # seconds between attempts to open a packet socket on a missing link
# Settings read once at start: a reload that changes them says a restart is needed.
RESTART_FIELDS = ("control_socket", "state_db", "state_sync", "dataplane_backend", "tun", "log_file", "keys_file",
                  "radius")

log = logging.getLogger("mipd.daemon")


class StartupError(RuntimeError):
    """The daemon cannot start (socket in use, database unreadable, ...): the message says why."""


class ReloadRefused(ControlError):
    """A reload that was not applied; the running configuration stays."""


def open_driver(config: Config) -> Driver:
    """The Dataplane the configuration names (mipd.dataplane), or the signalling-only one, in a Driver."""
    if config.dataplane_backend == "none":
        null = NullDataplane()
        return Driver(null, null)
    from mipd.dataplane import open_dataplane  # imported only when a real backend is wanted
    from mipd.dataplane.common import DEFAULT_RULE_PRIORITY
    from mipd.dataplane.host import MobileHost
    from mipd.dataplane.netlink import RTPROT_MIPD, Netlink

    # What a killed mipd left behind (routes, rules, neighbour and proxy entries stamped with our
    # protocol number) goes first; the state database then brings back what is still valid.
    with Netlink() as rtnl:
        purged = rtnl.purge(proto=RTPROT_MIPD, priority=DEFAULT_RULE_PRIORITY)
    if purged:
        log.warning("removed %d routes/rules/neighbour entries left by an earlier mipd", purged)
    backend = open_dataplane(config.dataplane_backend, require=encapsulations(config), tun_name=config.tun)
    return Driver(backend, MobileHost() if config.mobile_node is not None else None)


def encapsulations(config: Config) -> list[str]:
    """Every encapsulation the roles may set up (RFC 5944 §4.1: IP-in-IP always)."""
    wanted = {"ipip"}
    for role in (config.home_agent, config.foreign_agent):
        if role is not None:
            wanted |= role.encapsulations
    if config.mobile_node is not None:
        wanted.add(config.mobile_node.encapsulation)
    return sorted(wanted, key=("ipip", "gre", "minimal").index)


class Daemon:
    """One mipd process: every role the configuration names, on one asyncio loop."""

    def __init__(self, config: Config, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        self.config = config
        self.clock = clock
        self.rng = rng or random.SystemRandom()  # nonces and challenges (RFC 5944 §5.4)
        self.counters: Counter[str] = Counter()
        self.started = clock()
        self.roles: dict[str, Role] = {}
        self.store: Store | None = None
        self.driver: Driver | None = None
        self.udp: UdpSocket | None = None
        self.icmp: IcmpSender | None = None
        self.links: LinkLayer | None = None
        self.linkmon: LinkMonitor | None = None
        self.control: ControlServer | None = None
        self.radius: RadiusClient | None = None  # fetches SAs the home agent asks for (LookupSA)
        self.timers: Timers | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = asyncio.Event()
        self._outbox: list[SendUDP | SendICMP] = []
        self._ifnames: dict[int, str] = {}
        self._fa_ifindexes: frozenset[int] = frozenset()
        self._fa_links: frozenset[str] = frozenset()
        self._ha_link: str | None = None
        self._fa_dests: frozenset[str] = frozenset()
        self._default_route: tuple[str | None, str | None] = (None, None)
        self._forwarding_was: bool | None = None  # net.ipv4.ip_forward before we turned it on
        self._link_retry: asyncio.TimerHandle | None = None
        self.missing_links: dict[str, str] = {}
        self._journaled: list[Role] = []  # roles that undo what a failed commit would have made durable
        self._commit_failures = 0  # consecutive failed commits (logged once when they start and end)
        self._commit_failing_since = 0.0
        self._last_reclaim = -1e9
        self.reload_state: dict[str, Any] = {"in_progress": False}  # `mipctl status`: the last reload's outcome
        self._reload_running: asyncio.Task[dict[str, Any]] | None = None
        self._reload_queued: asyncio.Future[dict[str, Any]] | None = None
        self._sources = source_limiter(config.limits)  # per-source share while there is a backlog
        self._trusted: dict[str, float] = {}  # source -> until when it is exempt from that share
        self._stored = False  # the datagram being handled led to a StoreRecord
        self._refused: Counter[str] = Counter()  # datagrams over the share per source, this second
        self._refused_until = 0.0  # end of that second
        self._to_block: list[str] = []  # sources that sent twice their share within it
        self._blocked: dict[str, float] = {}  # source -> until when the kernel drops its datagrams
        self._unblock: asyncio.TimerHandle | None = None
        self._handlers: dict[type, Callable[[Role, Any], None]] = {
            SendUDP: self._queue_send,
            SendICMP: self._queue_send,
            StoreRecord: self._store_record,
            DeleteRecord: self._delete_record,
            ArmTimer: self._arm,
            CancelTimer: self._cancel,
            Log: self._log,
        }

    # ------------------------------------------------------------------ life cycle

    async def run(self, ready: Callable[[], None] | None = None) -> int:
        """Start, call `ready()`, serve until SIGTERM/SIGINT (or `stop()`), shut down cleanly."""
        try:
            await self._start()
        except BaseException:
            await self._close()
            raise
        log.info("started version=%s roles=%s config=%s dataplane=%s pid=%d", __version__,
                 ",".join(self.roles), self.config.path, self.config.dataplane_backend, os.getpid())
        gc.freeze()  # what start-up made (SAs, configuration, restored tables) stays out of every collection
        collector.freeze_after_barren_full_collections()  # ... and what a full collection found all alive
        try:
            if ready is not None:
                ready()
            await self._stop.wait()
            log.info("stopping")
        finally:
            collector.freeze_after_barren_full_collections(False)
        await self._shutdown()
        log.info("stopped")
        return 0

    def stop(self) -> None:
        self._stop.set()

    async def _start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        loop.set_exception_handler(_log_loop_error)
        cfg = self.config
        for text in cfg.warnings:
            log.warning("config %s", text)
        # The control socket first: a second mipd for the same socket stops here, before it could
        # touch the data plane of the running one. Requests are served once start-up is over.
        control = ControlServer(cfg.control_socket, self._control)
        try:
            await control.start()
        except OSError as e:
            raise StartupError(f"control socket: {e.strerror or e}") from None
        self.control = control
        try:
            self.store = Store(cfg.state_db, CODECS, cfg.state_sync)
        except (StoreError, OSError) as e:
            raise StartupError(f"state database: {e}") from None
        # Port 434 before the data plane: a second mipd must stop before it purges the routes of the first.
        self.udp = self._open_udp()
        try:
            self.driver = open_driver(cfg)
        except Exception as e:
            raise StartupError(f"data plane ({cfg.dataplane_backend}): {e}") from None
        self.driver.dp.attach(loop)
        if (cfg.home_agent is not None or cfg.foreign_agent is not None) and cfg.dataplane_backend != "none":
            self._enable_forwarding()
        for kind, call in self.driver.handlers.items():
            self._handlers[kind] = lambda role, act, call=call: call(act)
        self._handlers[SetDefaultRoute] = self._default_route_action
        self.timers = Timers(loop, self._on_timer, self.clock)
        self.roles = build(cfg, self.rng, copies=self.driver.copies)  # RFC 5944 §4.2.3
        self._journaled = [r for r in self.roles.values() if hasattr(r.machine, "track_commits")]
        if cfg.radius is not None:
            try:
                self.radius = RadiusClient(loop, cfg.radius, self._on_sa_lookup, self.counters)
            except OSError as e:
                raise StartupError(f"RADIUS client sockets: {e.strerror or e}") from None
            self._handlers[LookupSA] = lambda role, act: self.radius.lookup(act.identity)  # type: ignore[union-attr]
        for role in self._journaled:
            role.machine.track_commits()  # a failed commit is undone and answered (_commit_failed)
        loop.add_reader(self.udp.fileno(), self._on_udp)
        try:
            self.icmp = IcmpSender()  # advertisements (HA, FA) and solicitations (MN)
        except OSError as e:
            raise StartupError(f"raw ICMP socket: {e.strerror or e}") from None
        self.links = LinkLayer(loop, self._on_frames)
        self._sync_links()
        self._restore()
        now = self.clock()
        for name in (HOME_AGENT, FOREIGN_AGENT):
            if name in self.roles:
                self._execute(self.roles[name], self.roles[name].machine.start(now))  # advertising (§2.3)
        if MOBILE_NODE in self.roles:
            self._start_mobile_node(self.roles[MOBILE_NODE], now)
        self._flush()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self._reload_signal)

    def _open_udp(self) -> UdpSocket:
        """UDP port 434, refused when another socket holds it on an address we serve: with SO_REUSEADDR the
        kernel would let us bind and give us its unicast traffic (the newest socket wins), silently
        taking the port from a running agent. Checked before binding and again after (a race)."""
        cfg = self.config
        ours = {UNSPECIFIED}
        if cfg.home_agent is not None:
            ours.add(cfg.home_agent.address)
        if cfg.foreign_agent is not None:
            ours |= {a for i in cfg.foreign_agent.interfaces for a in (i.address, *i.care_of_addresses)}
        udp = None
        try:
            users = owners.udp_port_users(434, ours)
            if not users:
                udp = UdpSocket()
                users = owners.udp_port_users(434, ours, os.fstat(udp.fileno()).st_ino)
        except OSError as e:
            raise StartupError(f"UDP port 434: {e.strerror or e}") from None
        if users:
            if udp is not None:
                udp.close()
            raise StartupError(f"UDP port 434 is in use on {'; '.join(users)}: stop it first (a second agent "
                               "on the port would take its traffic)")
        assert udp is not None
        return udp

    def _enable_forwarding(self) -> None:
        """Home and foreign agents forward between the links and the tunnels (RFC 5944 §4.2.2-4.2.3),
        and Linux answers proxy ARP only on forwarding interfaces (§4.6): without net.ipv4.ip_forward
        (off by default) registrations succeed but no datagram is delivered. Put back at shutdown."""
        from mipd.dataplane import set_ip_forward

        try:
            self._forwarding_was = set_ip_forward(True)
        except OSError as e:
            raise StartupError(f"cannot turn on net.ipv4.ip_forward: {e.strerror or e}") from None
        if not self._forwarding_was:
            log.info("net.ipv4.ip_forward turned on (home/foreign agent forwarding); turned off again at shutdown")

    def _restore(self) -> None:
        """Bindings, replay state and visitors from the state database (RFC 5944 §3.8.1, §3.7.1, §5.7)."""
        assert self.store is not None
        now = self.clock()

        def bad(key: str, error: Exception) -> None:
            log.warning("state record %s does not decode (%s): skipped", key, error)

        ha = self.roles.get(HOME_AGENT)
        if ha is not None:
            bindings = [b for node in self.store.load(BINDINGS, bad) for b in node]
            self._execute(ha, ha.machine.restore(bindings, now, self.store.load_replay()))
        fa = self.roles.get(FOREIGN_AGENT)
        if fa is not None:
            self._execute(fa, fa.machine.restore(self.store.load("visitor", bad), now))
        self._flush()
        restored = {r: self.roles[r].machine.counters for r in self.roles}
        if ha is not None or fa is not None:
            log.info("restored bindings=%d visitors=%d expired=%d",
                     restored.get(HOME_AGENT, Counter())["binding.restored"],
                     restored.get(FOREIGN_AGENT, Counter())["visitor.restored"],
                     restored.get(HOME_AGENT, Counter())["binding.expired_on_restore"]
                     + restored.get(FOREIGN_AGENT, Counter())["visitor.expired_on_restore"])

    def _start_mobile_node(self, mn: Role, now: float) -> None:
        cfg = self.config.mobile_node
        assert cfg is not None and self._loop is not None
        try:
            self.linkmon = LinkMonitor(cfg.interfaces, f"{cfg.home_address}/{cfg.home_prefix_length}",
                                       self._on_link_change, self._our_gateway)
        except OSError as e:
            raise StartupError(f"netlink link monitor: {e.strerror or e}") from None
        self._loop.add_reader(self.linkmon.fileno(), self.linkmon.on_readable)
        changes = self.linkmon.initial()
        self._execute(mn, mn.machine.start(now))
        for ev in changes:
            self._execute(mn, mn.machine.on_link(ev, now))

    async def _shutdown(self) -> None:
        """Every role's shutdown actions (tunnels, routes, ARP entries removed), then close everything."""
        for role in reversed(list(self.roles.values())):
            try:
                self._execute(role, role.machine.shutdown())
            except Exception:
                log.exception("%s shutdown failed", role.name)
        self._flush()
        await self._close()

    async def _close(self) -> None:
        loop = self._loop
        for pending in (self._reload_queued, self._reload_running):
            if pending is not None:
                pending.cancel()  # its thread finishes on its own; nothing is applied
        if self._link_retry is not None:
            self._link_retry.cancel()
        if self._unblock is not None:
            self._unblock.cancel()
        if self.timers is not None:
            self.timers.cancel_all()
        if self.control is not None:
            await self.control.close()
        if self.radius is not None:
            self.radius.close()
        if loop is not None:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
        if self.linkmon is not None:
            if loop is not None:
                loop.remove_reader(self.linkmon.fileno())
            self.linkmon.close()
        if self.links is not None:
            self.links.close()
        if self.udp is not None:
            if loop is not None:
                loop.remove_reader(self.udp.fileno())
            self.udp.close()
        if self.icmp is not None:
            self.icmp.close()
        if self.driver is not None:
            try:
                self.driver.close()
            except Exception:
                log.exception("data plane close failed")
        if self._forwarding_was is False:
            from mipd.dataplane import set_ip_forward

            with contextlib.suppress(OSError):
                set_ip_forward(False)  # as it was before we started
        if self.store is not None:
            try:
                self.store.close()
            except StoreError as e:
                log.error("state database: %s", e)

    # ------------------------------------------------------------------ links (packet sockets)

    def _wanted_links(self) -> dict[str, Filter]:
        """The links to listen on and what to take from each: requests and solicitations on the links a
        foreign agent serves (§3.7.1, §2.3), solicitations on an advertising home agent's link (§2.3),
        advertisements on a mobile node's links (§2.4)."""
        cfg = self.config
        wanted: dict[str, Filter] = {}
        if cfg.mobile_node is not None:
            return {name: (False, (ICMP_ROUTER_ADVERTISEMENT,)) for name in cfg.mobile_node.interfaces}
        if cfg.home_agent is not None and cfg.home_agent.advertise:
            wanted[cfg.home_agent.interface] = (False, (ICMP_ROUTER_SOLICITATION,))
        if cfg.foreign_agent is not None:
            for i in cfg.foreign_agent.interfaces:
                wanted[i.name] = (True, (ICMP_ROUTER_SOLICITATION,))
        return wanted

    def _sync_links(self) -> None:
        """Packet sockets on every wanted link; a missing one is retried every LINK_RETRY seconds."""
        assert self.links is not None and self._loop is not None and self.icmp is not None
        if self._link_retry is not None:
            self._link_retry.cancel()
        self._link_retry = None
        failed = self.links.sync(self._wanted_links())
        for name, err in failed.items():
            if self.missing_links.get(name) != err:
                level = logging.INFO if self.config.mobile_node is not None else logging.WARNING
                log.log(level, "link %s: cannot open packet socket (%s), retrying", name, err)
        for name in self.missing_links.keys() - failed.keys():
            log.info("link %s: packet socket open", name)
        self.missing_links = failed
        cfg = self.config
        self._fa_links = frozenset(i.name for i in cfg.foreign_agent.interfaces) if cfg.foreign_agent else frozenset()
        self._ha_link = cfg.home_agent.interface if cfg.home_agent is not None else None
        if cfg.foreign_agent is not None:
            self._fa_ifindexes = frozenset(ps.ifindex for ps in self.links.receivers.values()
                                           if ps.ifname in self._fa_links)
            own = {a for i in cfg.foreign_agent.interfaces for a in (i.address, *i.care_of_addresses)}
            self._fa_dests = frozenset(own | {AGENTS_GROUP, LIMITED_BROADCAST})
        if cfg.mobile_node is None:
            for ps in self.links.receivers.values():
                try:
                    self.icmp.join(AGENTS_GROUP, ps.ifindex)  # §2.3: agents MUST process 224.0.0.11
                except OSError as e:
                    log.warning("link %s: cannot join %s: %s", ps.ifname, AGENTS_GROUP, e.strerror or e)
        if failed:
            self._link_retry = self._loop.call_later(LINK_RETRY, self._sync_links)

    def _ifname(self, ifindex: int) -> str | None:
        name = self._ifnames.get(ifindex)
        if name is None and ifindex:
            try:
                name = self._ifnames[ifindex] = socket.if_indextoname(ifindex)
            except OSError:
                return None
        return name

    def _ifindex(self, name: str) -> int:
        try:
            return socket.if_nametoindex(name)
        except OSError:
            return 0

    # ------------------------------------------------------------------ events in

    def _on_udp(self) -> None:
        """UDP 434 readable: a batch of datagrams through the state machines, one commit, the replies.

        Against floods (the work before authentication must stay small, RFC 5944 §3.8.2.1): a
        datagram longer than `limits.message_size` is dropped as it is read; while the socket has a
        backlog (the last batch did not empty it) a source gets `limits.source_rate` datagrams a
        second at most, the rest dropped before decoding, unless one of its datagrams led to stored
        state (an accepted registration) in the last TRUST_TIME seconds: one flooding source cannot
        starve the others, and authenticated traffic is served first. A source refused as many
        datagrams again within a second is then dropped by the kernel for `limits.source_block_time`
        seconds (_block): its flood no longer costs a read nor fills the receive buffer.
        """
        udp = self.udp
        assert udp is not None
        batch_start = time.perf_counter()
        now = self.clock()
        admit = self._admit(now) if udp.backlog else None
        batch = udp.recv_batch(BATCH, self.config.limits.message_size, admit)
        if udp.oversize or udp.refused:
            self._count_drops(udp)
        if self._to_block:
            self._block(now)
        if not batch:
            if not udp.backlog:
                self._on_icmp_errors(now)
            return
        self.counters["rx.udp"] += len(batch)
        ha, fa, mn = self.roles.get(HOME_AGENT), self.roles.get(FOREIGN_AGENT), self.roles.get(MOBILE_NODE)
        fa_ifs, ha_addr = self._fa_ifindexes, self.config.home_agent.address if ha else None
        execute = self._execute
        self._stored = False
        for d in batch:
            kind = message_type(d.data)
            if mn is not None:
                role = mn
            elif kind == REPLY and fa is not None:
                role = fa  # a home agent's reply to a request we relayed (§3.7.3)
            elif fa is not None and d.ifindex in fa_ifs and d.dest != ha_addr:
                self.counters["rx.udp_from_served_link"] += 1  # taken from the link with its lladdr
                continue
            elif ha is not None:
                role = ha
            else:
                self.counters["rx.udp_unexpected"] += 1
                continue
            pkt = Packet(d.data, d.source, d.dest, d.source_port, self._ifname(d.ifindex), None, False, d.ttl)
            execute(role, role.machine.on_packet(pkt, now))
            if self._stored:
                self._stored = False
                self._trust(d.source, now)
        if not udp.backlog:
            self._on_icmp_errors(now)
        self._flush()
        self._time_batch(time.perf_counter() - batch_start)

    def _admit(self, now: float) -> Callable[[str], bool] | None:
        """Whether a datagram from a source is read on, while there is a backlog (see _on_udp)."""
        sources = self._sources
        if sources is None:
            return None
        allow, trusted = sources.allow, self._trusted
        if now >= self._refused_until:
            self._refused = Counter()
            self._refused_until = now + 1.0
        refused, to_block = self._refused, self._to_block
        threshold = sources.per_source if self.config.limits.source_block_time else float("inf")

        def admit(source: str) -> bool:
            if trusted.get(source, 0.0) > now or allow(source, now):
                return True
            count = refused[source] + 1
            refused[source] = count
            if count - 1 < threshold <= count:  # crossed it just now: once per second at most
                to_block.append(source)
            return False

        return admit

    def _block(self, now: float) -> None:
        """Have the kernel drop what the sources in _to_block send, for limits.source_block_time seconds."""
        assert self.udp is not None and self._loop is not None
        seconds = self.config.limits.source_block_time
        for source in self._to_block:
            if len(self._blocked) < MAX_BLOCKED:
                self._blocked[source] = now + seconds
                self.counters["source.blocked"] += 1
                log.warning("source %s sent over twice its share (%g datagrams/s) within a second while mipd had a "
                            "backlog: the kernel drops its datagrams for %g s", source,
                            self.config.limits.source_rate, seconds)
        self._to_block.clear()
        self._apply_blocks()
        if self._unblock is None:
            self._unblock = self._loop.call_later(seconds, self._expire_blocks)

    def _expire_blocks(self) -> None:
        assert self._loop is not None
        self._unblock = None
        now = self.clock()
        self._blocked = {s: t for s, t in self._blocked.items() if t > now}
        self._apply_blocks()
        if self._blocked:
            self._unblock = self._loop.call_later(max(0.0, min(self._blocked.values()) - now), self._expire_blocks)

    def _apply_blocks(self) -> None:
        assert self.udp is not None
        try:
            self.udp.block_sources(self._blocked)
        except OSError as e:
            self.counters["source.block_failed"] += 1
            log.error("cannot set the socket filter dropping flooding sources: %s", e.strerror or e)

    def _trust(self, source: str, now: float) -> None:
        trusted = self._trusted
        if source not in trusted and len(trusted) >= MAX_TRUSTED:
            self._trusted = trusted = {k: t for k, t in trusted.items() if t > now}
            if len(trusted) >= MAX_TRUSTED:
                return
        trusted[source] = now + TRUST_TIME

    def _count_drops(self, udp: UdpSocket) -> None:
        tally = self.counters
        tally["discard.oversize"] += udp.oversize
        tally["discard.source_over_rate"] += udp.refused
        udp.oversize = udp.refused = 0

    def _time_batch(self, seconds: float) -> None:
        """How long a batch took from reading to the last reply sent: a coarse histogram and the maximum."""
        tally = self.counters
        tally["batches"] += 1
        tally["batch.le_1ms" if seconds <= 0.001 else "batch.le_5ms" if seconds <= 0.005 else "batch.gt_5ms"] += 1
        micros = int(seconds * 1e6)
        if micros > tally["batch.max_us"]:
            tally["batch.max_us"] = micros

    def _on_icmp_errors(self, now: float) -> None:
        assert self.udp is not None
        errors = self.udp.read_errors()
        fa = self.roles.get(FOREIGN_AGENT)
        for err in errors:
            self.counters["rx.icmp_error"] += 1
            if fa is not None:
                self._execute(fa, fa.machine.on_icmp_error(err.dest, err.icmp_type, err.icmp_code, now))
        if errors:
            self._flush()

    def _on_frames(self, sock: PacketSocket) -> None:
        """Frames from a link: requests (FA) and solicitations (FA, HA), or advertisements (MN)."""
        now = self.clock()
        got = sock.recv_batch(BATCH)
        fa, ha, mn = self.roles.get(FOREIGN_AGENT), self.roles.get(HOME_AGENT), self.roles.get(MOBILE_NODE)
        name = sock.ifname
        fa_link = fa is not None and name in self._fa_links
        ha_link = ha is not None and name == self._ha_link
        for frame, csum_ready in got:
            parsed = frames.parse_frame(frame, csum_ready)
            if parsed is None:
                self.counters["rx.frame_invalid"] += 1
                continue
            mac, rx = parsed
            is_icmp = rx.proto == IPPROTO_ICMP
            if not is_icmp and not (fa_link and message_type(rx.payload) == REQUEST and rx.dest in self._fa_dests):
                continue  # not a request to our foreign agent: the UDP socket has it if it is ours at all
            self.counters["rx.frame"] += 1
            pkt = Packet(rx.payload, rx.source, rx.dest, rx.source_port, name, mac, is_icmp, rx.ttl)
            if mn is not None:
                self._execute(mn, mn.machine.on_packet(pkt, now))
                continue
            if fa_link:
                assert fa is not None
                self._execute(fa, fa.machine.on_packet(pkt, now))
            if ha_link and is_icmp:
                assert ha is not None
                self._execute(ha, ha.machine.on_packet(pkt, now))
        self._flush()

    def _on_timer(self, role_name: str, key: Any) -> None:
        role = self.roles.get(role_name)
        if role is None:
            return
        self._execute(role, role.machine.on_timer(key, self.clock()))
        self._flush()

    def _on_sa_lookup(self, result: LookupResult) -> None:
        """A RADIUS lookup ended (mipd.runtime.radius): the role that asked for it (the home agent for a node's
        SAs, the foreign agent for a home agent's) caches the SAs and goes on with the requests it held."""
        if self._stop.is_set():
            return
        for role in self.roles.values():
            aaa = getattr(role.machine, "aaa", None)
            if aaa is not None and aaa.asked(result.identity):
                self._execute(role, role.machine.on_sa_lookup(result, self.clock()))
        self._flush()

    def _on_link_change(self, change: LinkChange) -> None:
        """A mobile node's link went up/down or changed address (§2.4.2): packet sockets first, then the node."""
        mn = self.roles.get(MOBILE_NODE)
        assert self.links is not None
        log.info("link %s %s address=%s/%s gateway=%s", change.interface, "up" if change.up else "down", change.address,
                 change.prefix_length, change.gateway)
        if change.up:
            self._sync_links()
        elif self._ifindex(change.interface) == 0:
            self.links.reopen(change.interface)  # deleted: a recreated link gets a new packet socket
        if mn is not None:
            self._execute(mn, mn.machine.on_link(change, self.clock()))
            self._flush()

    def _our_gateway(self, interface: str, gateway: str) -> bool:
        """Is this default route the one we installed (SetDefaultRoute), not the link's own?"""
        return self._default_route == (gateway, interface)

    # ------------------------------------------------------------------ actions out

    def _execute(self, role: Role, actions: list[Action]) -> None:
        """Carry out `actions` in order; sends wait in the outbox for `_flush`."""
        handlers = self._handlers
        for a in actions:
            try:
                handlers[type(a)](role, a)
            except Exception as e:
                self.counters["action.error"] += 1
                log.error("%s: %s failed: %s", role.name, type(a).__name__, e,
                          exc_info=not isinstance(e, (OSError, ValueError)))

    def _flush(self) -> None:
        """Commit the queued records, then send what waited for them."""
        store = self.store
        durable = True
        if store is not None and store.dirty:
            try:
                self.counters["store.rows"] += store.commit()
                self.counters["store.commits"] += 1
            except StoreError as e:
                durable = False
                self._commit_failed(store, e)  # undone and answered: nothing left to undo
            else:
                if self._commit_failures:
                    self._commits_recovered()
        if durable:
            for role in self._journaled:
                role.machine.committed()
        if self._outbox:
            outbox, self._outbox = self._outbox, []
            for a in outbox:
                self._send(a)
        logs.flush()  # the batch's decision lines, in one write

    def _commit_failed(self, store: Store, error: StoreError) -> None:
        """A batch's records could not be written (disk full, I/O error). Nothing may announce what is not
        durable: its sends are dropped, and the roles undo what the batch changed and answer its
        registrations with "insufficient resources" (130 home agent, 66 foreign agent; RFC 5944 §3.4).
        Logged once when commits start failing (and once when they work again, `_commits_recovered`).
        A truncating checkpoint then gives back the space the write-ahead log holds (at most once a second)."""
        withheld = len(self._outbox)
        self.counters["store.commit_failed"] += 1
        self.counters["tx.dropped_uncommitted"] += withheld
        store.discard()
        self._outbox.clear()
        now = self.clock()
        for role in self._journaled:
            self._execute(role, role.machine.on_commit_failed(now))
        store.discard()  # undoing writes no record; the database holds the state put back
        self.counters["tx.insufficient_resources"] += len(self._outbox)
        if not self._commit_failures:
            self._commit_failing_since = now
            log.error("state database commit failed: %s; registrations are answered with insufficient resources "
                      "(130/66) and nothing is changed until commits work again", error)
        self._commit_failures += 1
        if now - self._last_reclaim >= 1.0:
            self._last_reclaim = now
            store.reclaim()

    def _commits_recovered(self) -> None:
        log.warning("state database commits work again after %d failed over %.1f s", self._commit_failures,
                    self.clock() - self._commit_failing_since)
        self._commit_failures = 0

    def _send(self, action: SendUDP | SendICMP) -> None:
        try:
            if isinstance(action, SendICMP):
                assert self.icmp is not None
                ifindex = self._ifindex(action.interface)
                if not ifindex:  # a link-local message for a link that is not there (now)
                    self.counters["tx.no_such_link"] += 1
                    return
                self.icmp.send(action.payload, action.dest, ifindex, action.source, action.ttl)
                self.counters["tx.icmp"] += 1
            elif action.lladdr and action.interface:
                assert self.links is not None
                self.links.send_udp(action.interface, action.lladdr, action.source, action.dest, action.source_port,
                                    action.dest_port, action.payload, action.ttl)
                self.counters["tx.frame"] += 1
            else:
                assert self.udp is not None
                ifindex = self._ifindex(action.interface) if action.interface else 0
                if action.interface and not ifindex:
                    self.counters["tx.no_such_link"] += 1
                    return
                self.udp.send(action.payload, action.dest, action.dest_port, action.source, ifindex, action.ttl)
                self.counters["tx.udp"] += 1
        except OSError as e:
            self.counters["tx.error"] += 1
            log.warning("send to %s failed: %s", action.dest, e.strerror or e)

    def _queue_send(self, role: Role, action: SendUDP | SendICMP) -> None:
        self._outbox.append(action)

    def _store_record(self, role: Role, action: StoreRecord) -> None:
        assert self.store is not None
        self.store.put(action.kind, action.record)
        self._stored = True

    def _delete_record(self, role: Role, action: DeleteRecord) -> None:
        assert self.store is not None
        self.store.delete(action.kind, action.key)

    def _arm(self, role: Role, action: ArmTimer) -> None:
        assert self.timers is not None
        self.timers.arm(role.name, action.key, action.at)

    def _cancel(self, role: Role, action: CancelTimer) -> None:
        assert self.timers is not None
        self.timers.cancel(role.name, action.key)

    def _log(self, role: Role, action: Log) -> None:
        role.log.emit(action.event, action.fields, action.level)

    def _default_route_action(self, role: Role, action: SetDefaultRoute) -> None:
        assert self.driver is not None
        self._default_route = (action.gateway, action.interface)
        self.driver.handlers[SetDefaultRoute](action)

    # ------------------------------------------------------------------ reload

    def _reload_signal(self) -> None:
        """SIGHUP: the same reload as `mipctl reload`; its outcome goes to the log."""
        self.request_reload()

    def request_reload(self) -> asyncio.Future[dict[str, Any]]:
        """The outcome of a reload that reads the files as they are now (ReloadRefused when refused).

        One reload runs at a time. A request while one runs queues one more, which starts when it
        ends (that one may have read the files before they changed); further requests meanwhile
        share the queued one. So at most two are ever in flight and none is lost.
        """
        assert self._loop is not None
        if self._reload_queued is not None:
            return self._reload_queued
        if self._reload_running is None:
            return self._start_reload()
        self._reload_queued = self._loop.create_future()
        self._reload_queued.add_done_callback(_retrieved)
        return self._reload_queued

    def _start_reload(self) -> asyncio.Task[dict[str, Any]]:
        assert self._loop is not None
        task = self._reload_running = self._loop.create_task(self._reload())
        task.add_done_callback(self._reload_done)
        return task

    def _reload_done(self, task: asyncio.Task[dict[str, Any]]) -> None:
        _retrieved(task)
        self._reload_running = None
        queued, self._reload_queued = self._reload_queued, None
        if queued is not None and not self._stop.is_set():
            _chain(self._start_reload(), queued)
        elif queued is not None:
            queued.cancel()

    async def _reload(self) -> dict[str, Any]:
        """Re-read configuration and keys; apply them to every role keeping live state (RFC 5944 §3.8.2.2:
        bindings are kept; shortened lifetimes only). An invalid file is refused and changes nothing.

        Reading and validating (every SA keyed: about a second for 100,000) runs on a thread with the
        cyclic garbage collector paused (`_parse`) and short GIL turns (`background.in_thread`), so the
        loop keeps answering registrations meanwhile; the validated configuration is then swapped in at
        once, on the loop.
        """
        started = time.monotonic()
        old = self.config
        self.reload_state = {"in_progress": True, "started": round(self.clock(), 3)}
        try:
            running = {name: role.machine.sas for name, role in self.roles.items()}
            new, sas, stale, difference = await background.in_thread(_parse, old.path, old.sas, running,
                                                                     name="mipd-reload")
            if new.roles != old.roles:
                raise ConfigError("", f"roles changed from {', '.join(old.roles)} to {', '.join(new.roles)}; "
                                  "restart mipd to change roles")
        except Exception as e:  # ConfigError names the field; anything else is a bug, named by its type only
            text = e.located() if isinstance(e, ConfigError) else f"unexpected {type(e).__name__} while reading"
            self.reload_state = {"in_progress": False, "last": "refused", "error": text,
                                 "seconds": round(time.monotonic() - started, 3)}
            log.error("reload refused: %s; the running configuration stays", text)
            raise ReloadRefused(f"reload refused: {text}; the running configuration stays") from None
        result = self._apply(old, new, sas, stale)
        result["seconds"] = round(time.monotonic() - started, 3)
        result["sa_changes"] = dataclasses.asdict(difference)
        self.reload_state = {"in_progress": False, "last": "applied", "seconds": result["seconds"],
                             "security_associations": result["security_associations"],
                             "sa_changes": result["sa_changes"]}
        log.info("reloaded config=%s security_associations=%d added=%d removed=%d changed=%d seconds=%.3f",
                 new.path, len(new.sas), difference.added, difference.removed, difference.changed, result["seconds"])
        return result

    def _apply(self, old: Config, new: Config, sas: dict[str, SecurityAssociations],
               stale: dict[str, list[str]]) -> dict[str, Any]:
        """Swap in a validated configuration: every role's on_config in one go, on the loop."""
        restart = [f for f in RESTART_FIELDS if getattr(new, f) != getattr(old, f)]
        new = dataclasses.replace(new, **{f: getattr(old, f) for f in restart})
        now = self.clock()
        self.config = new
        self._sources = source_limiter(new.limits)
        for name, role in self.roles.items():
            sas[name].take_prepared(role.machine.sas, stale[name])  # unchanged SAs keep their key schedules
            try:
                self._execute(role, role.machine.on_config(getattr(new, name), sas[name], now))
            except Exception:  # validated above, so a bug: keep running with what was applied
                log.exception("%s: applying the new configuration failed", name)
        if self.linkmon is not None and new.mobile_node is not None:
            mn = self.roles[MOBILE_NODE]
            mn_config = new.mobile_node
            home_network = f"{mn_config.home_address}/{mn_config.home_prefix_length}"
            for ev in self.linkmon.watch(mn_config.interfaces, home_network):  # new links
                self._execute(mn, mn.machine.on_link(ev, now))
        self._flush()
        logs.set_level(new.log_level)
        if self.links is not None:
            self._sync_links()
        for text in new.warnings:
            log.warning("config %s", text)
        if restart:
            log.warning("reload: %s changed; takes effect after a restart", ", ".join(restart))
        gc.freeze()
        return {"reloaded": True, "roles": list(new.roles), "security_associations": len(new.sas),
                "restart_needed": restart, "warnings": list(new.warnings)}

    # ------------------------------------------------------------------ control socket

    async def _control(self, command: str, request: dict[str, Any]) -> Any:
        if command == "reload":
            # shielded: a client that goes away does not cancel the reload it asked for
            return await asyncio.shield(self.request_reload())
        return commands.answer(self, command, self.clock(), request)


def source_limiter(limits: Limits) -> SourceLimiter | None:
    """The per-source share of the daemon's work while it has a backlog (None: no limit)."""
    return SourceLimiter(limits.source_rate, 0.0) if limits.source_rate else None


def _log_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """An exception escaped a callback (a bug): into our log, and the daemon carries on."""
    exc = context.get("exception")
    log.error("unexpected error: %s", context.get("message", "?"), exc_info=exc)


def _parse(path: str, running: SecurityAssociations, roles: dict[str, SecurityAssociations]
           ) -> tuple[Config, dict[str, SecurityAssociations], dict[str, list[str]], Difference]:
    """Read and validate `path` and its keys file: each role's SAs, the peers whose SAs they change against
    the role's running ones (`roles`: their prepared SAs are not taken over), and what the keys file changes
    against the `running` SAs (on the reload thread: it only reads the running tables' records).

    The cyclic garbage collector is paused meanwhile (`collector.paused`): the parse allocates millions of
    objects and makes no cycles; the pause lasts the parse (seconds), process-wide.
    """
    with collector.paused():
        config = load_config(path, check_key_permissions=True)
        sas = {role: config.sas_for(role) for role in config.roles}
        stale = {role: sas[role].stale(roles[role]) for role in sas if role in roles}
        return config, sas, stale, config.sas.difference(running)


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a future's exception as seen (a refused SIGHUP reload is logged already)."""
    if not future.cancelled():
        future.exception()


def _chain(source: asyncio.Future[Any], target: asyncio.Future[Any]) -> None:
    """`target` gets `source`'s outcome."""
    def copy(done: asyncio.Future[Any]) -> None:
        if target.done():
            return
        if done.cancelled():
            target.cancel()
        elif done.exception() is not None:
            target.set_exception(done.exception())  # type: ignore[arg-type]
        else:
            target.set_result(done.result())

    source.add_done_callback(copy)


def run(config: Config, ready: Callable[[], None] | None = None) -> int:
    """Run a daemon for `config` until it is told to stop; the process exit code."""
    daemon = Daemon(config)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(daemon.run(ready))
    return 0
