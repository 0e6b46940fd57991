"""Fuzzing harness for mipd's decoders and its HA, FA and MN state machines (issue 9, "Also").

One copy of what the hypothesis tests (tests/agent/wire/test_wire_fuzz.py,
tests/agent/protocol/test_protocol_fuzz.py) and the long run (benchmarks/fuzz.py) share:

- `mutate`: structure-aware mutations of a valid message (bytes changed or flipped, truncated,
  extended with bytes or extensions, a region inserted, deleted or repeated, an extension's
  length byte altered), driven by a `random.Random` so a seed reproduces them.
- `check_registration`, `check_extensions`, `check_icmp`: feed bytes to a decoder; it must return
  a message that re-encodes consistently or raise `WireError`; anything else propagates (an escape)
  or is returned as a violation.
- `HAWorld`, `FAWorld`, `MNWorld`: one state machine and a scripted world around it. `step(kind,
  rng)` makes one input (valid signed messages, wrong keys and SPIs, other nodes' keys, mutated
  bytes, replays, timers, time jumps, configuration reloads), feeds it and returns it; an exception
  out of the machine propagates. `violations()` lists broken invariants, checked against ground
  truth the world keeps itself: which bytes it signed with a key the machine holds.

  HA: every binding (home, care-of) comes from a request whose MHAE-covered bytes the world signed
  with an SA configured for that node (the home address's SA, or the NAI's SA with that NAI in the
  request, only for the home address the NAI is configured for, RFC 2794,
  RFC 5944 §3.8.2.1), never for the agent's own, network or broadcast address; no request is accepted twice (§5.7).
  FA: every visitor (home, Identification) comes from an accepting reply that, when the FA holds an
  SA with the home agent, carries an FHAE the world signed with that SA (§3.7.3.1).
  MN: the node becomes registered only on an accepting reply whose MHAE the world signed with an SA
  the node holds (§3.6.2.1).
  All three: the machine's own safety net ("discard.internal_error") never fires.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from mipd.ipv4 import checksum
from mipd.protocol import codes
from mipd.protocol.actions import ArmTimer, CancelTimer, LinkChange, Log, Packet, SendICMP, SendUDP
from mipd.protocol.config import ForeignAgentConfig, HomeAgentConfig, MobileNodeConfig, NaiHost, ServedInterface
from mipd.protocol.filters import HostSet
from mipd.protocol.foreign_agent import ForeignAgent
from mipd.protocol.home_agent import HomeAgent
from mipd.protocol.mobile_node import MobileNode
from mipd.security import SecurityAssociation, SecurityAssociations, sign
from mipd.security.replay import ntp_timestamp
from mipd.wire import WireError, icmp
from mipd.wire import registration as reg
from mipd.wire.extensions import (
    FHAE,
    MFAE,
    MHAE,
    ChallengeExtension,
    NAIExtension,
    UDPTunnelReply,
    UDPTunnelRequest,
    decode_extensions,
    encode_extensions,
)

NOW = 1_800_000_000.0
HA = "10.1.0.1"
HOME_NET = "10.1.0.0/24"
HOME_BROADCAST = "10.1.0.255"
FA = "10.2.0.1"
FA2 = "10.3.0.1"
HOME_TS = "10.1.0.10"  # timestamp replay protection
HOME_NONCE = "10.1.0.11"  # nonce replay protection
HOME_NAI = "10.1.0.12"  # the address CAROL is configured to hold
UNCONFIGURED = "10.1.0.13"  # a mobile host with no SA
CAROL = "carol@example.net"
ALGORITHMS = ("hmac-md5", "md5-prefix-suffix", "rfc2002-md5")
LIFETIMES = (0, 1, 30, 600, 1800, 0xFFFF)
INTERNAL_ERROR = "discard.internal_error"

Machine = HomeAgent | ForeignAgent | MobileNode


# ---------------------------------------------------------------------------------------- mutations


def extension_offsets(data: bytes, start: int) -> list[int]:
    """Where each extension begins, walking the TLVs as far as they parse (RFC 5944 §1.9-1.11)."""
    out = []
    i, n = start, len(data)
    while i < n:
        out.append(i)
        if data[i] == 0:
            i += 1
        elif data[i] == 36 and i + 4 <= n:  # RFC 3012 §5: 16-bit length
            i += 4 + int.from_bytes(data[i + 2 : i + 4], "big")
        elif i + 1 < n:
            i += 2 + data[i + 1]
        else:
            break
    return out


def _random_extension(rng: random.Random) -> bytes:
    kind = rng.choice((0, 32, 33, 34, 36, 44, 130, 131, 132, 144, rng.randrange(256)))
    if kind == 0:
        return b"\x00"
    body = rng.randbytes(rng.choice((0, 1, 4, 6, 20, rng.randrange(40))))
    if kind == 36:
        return bytes((36, rng.randrange(4))) + struct.pack("!H", len(body)) + body
    return bytes((kind, len(body))) + body


def mutate(data: bytes, rng: random.Random, start: int) -> bytes:
    """1-3 structure-aware mutations of `data`, a message whose extensions begin at `start`."""
    out = bytearray(data)
    for _mutation in range(rng.choice((1, 1, 1, 2, 3))):
        op = rng.randrange(9)
        pos = rng.randrange(len(out) + 1)
        if op == 0 and out:  # a byte changed
            out[min(pos, len(out) - 1)] = rng.randrange(256)
        elif op == 1 and out:  # a bit flipped
            out[min(pos, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif op == 2:  # truncated
            del out[pos:]
        elif op == 3:  # extended with bytes
            out += rng.randbytes(rng.randrange(1, 12))
        elif op == 4:  # extended with an extension, maybe in the middle
            offsets = extension_offsets(bytes(out), start) or [len(out)]
            at = rng.choice((len(out), rng.choice(offsets)))
            out[at:at] = _random_extension(rng)
        elif op == 5:  # a region deleted
            del out[pos : pos + rng.randrange(1, 8)]
        elif op == 6:  # a region repeated
            out[pos:pos] = out[pos : pos + rng.randrange(1, 24)]
        else:  # an extension's length byte altered
            offsets = [o for o in extension_offsets(bytes(out), start) if out[o] != 0 and o + 1 < len(out)]
            if offsets:
                at = rng.choice(offsets) + (3 if out[offsets[0]] == 36 else 1)
                if at < len(out):
                    old = out[at]
                    out[at] = rng.choice((0, 1, 255, (old + 1) & 255, (old - 1) & 255, rng.randrange(256)))
    return bytes(out)


def with_icmp_checksum(data: bytes) -> bytes:
    """`data` with a correct ICMP checksum (when it is long enough to hold one)."""
    if len(data) < 4:
        return data
    body = bytearray(data)
    body[2:4] = b"\0\0"
    body[2:4] = checksum(bytes(body)).to_bytes(2, "big")
    return bytes(body)


# ---------------------------------------------------------------------------------------- decoders


def check_registration(data: bytes) -> str | None:
    """registration.decode: WireError, or a message that re-encodes consistently.

    The codec promises (wire/__init__.py) that decoders accept any bytes and that encoders are
    byte-exact: `raw` is the input, every extension sits at its recorded offset, decoding the
    re-encoding gives the same message, and the re-encoding is the input itself unless a UDP
    tunnel extension normalised its reserved bits (RFC 3519 §3.1-3.2: sent as zero).
    """
    try:
        msg = reg.decode(data)
    except WireError as err:
        return None if 0 <= err.offset <= len(data) else f"WireError offset {err.offset} outside 0-{len(data)}"
    if msg.raw != data:
        return "raw is not the input"
    for ext in msg.extensions:
        if ext.offset < 0 or ext.offset >= len(data) or data[ext.offset] != ext.type:
            return f"extension {ext.type} recorded at offset {ext.offset}, not where it is"
    encoded = msg.encode()
    if reg.decode(encoded) != msg:
        return "decode(encode(message)) differs from the message"
    normalised = any(isinstance(e, UDPTunnelRequest | UDPTunnelReply) for e in msg.extensions)
    if not normalised and encoded != data:
        return "encode(decode(bytes)) is not the bytes"
    return None


def check_extensions(data: bytes, start: int) -> str | None:
    """decode_extensions from any offset: WireError, or extensions that re-encode to the same list."""
    try:
        exts = decode_extensions(data, start)
    except WireError as err:
        return None if 0 <= err.offset <= len(data) else f"WireError offset {err.offset} outside 0-{len(data)}"
    if decode_extensions(encode_extensions(exts), 0) != exts:  # offsets are not compared
        return "decode_extensions(encode_extensions(x)) differs from x"
    return None


def check_icmp(data: bytes) -> str | None:
    """icmp.decode: WireError, or an advertisement/solicitation that decodes again from its encoding."""
    try:
        msg = icmp.decode(data)
    except WireError as err:
        return None if 0 <= err.offset <= len(data) else f"WireError offset {err.offset} outside 0-{len(data)}"
    if icmp.decode(msg.encode()) != msg:
        return "decode(encode(message)) differs from the message"
    return None


def sample_registrations(rng: random.Random) -> list[bytes]:
    """Valid requests and replies as the agents build them, with the extensions they carry."""
    sa = SecurityAssociation(HOME_TS, 256, b"k" * 16)
    fa_sa = SecurityAssociation(FA, 400, b"f" * 16)
    ident = ntp_timestamp(NOW, rng.getrandbits(12))
    fixed = reg.RegistrationRequest(reg.FLAG_T, 600, HOME_TS, HA, FA, ident).encode_fixed()
    plain = sign(sa, fixed, MHAE)
    nai = sign(sa, fixed + NAIExtension(CAROL).encode(), MHAE)
    full = sign(fa_sa, sign(sa, nai + ChallengeExtension(rng.randbytes(16)).encode(), MHAE), MFAE)
    udp = sign(sa, fixed + UDPTunnelRequest(4, True, False).encode(), MHAE)
    rep_fixed = reg.encode_reply_fixed(0, 600, HOME_TS, HA, ident)
    reply = sign(fa_sa, sign(sa, rep_fixed + NAIExtension(CAROL).encode(), MHAE), FHAE)
    udp_reply = sign(sa, rep_fixed + UDPTunnelReply(0, 110, True).encode(), MHAE)
    return [plain, nai, full, udp, reply, udp_reply]


def sample_advertisements(rng: random.Random) -> list[bytes]:
    adv = icmp.AgentAdvertisement(
        15, rng.randrange(0x10000), 1800, icmp.ADV_F | icmp.ADV_T, [FA, FA2], [(FA, 0)], 16, [24],
        rng.randbytes(16), True, [(200, b"ab")],
    )
    return [adv.encode(), icmp.AgentAdvertisement(15, 3, 600, icmp.ADV_H, routers=[(HA, 0)]).encode(),
            icmp.AgentSolicitation().encode()]


def fuzz_decoders_once(rng: random.Random) -> tuple[bytes, str | None]:
    """One decoder input: random bytes or a mutated valid message, through every decoder that fits."""
    choice = rng.randrange(10)
    if choice == 0:
        data = rng.randbytes(rng.randrange(64))
        return data, check_registration(data) or check_icmp(data) or check_extensions(data, 0)
    if choice < 6:
        data = mutate(rng.choice(sample_registrations(rng)), rng, reg.REQUEST_FIXED_LEN)
        start = rng.choice((0, reg.REPLY_FIXED_LEN, reg.REQUEST_FIXED_LEN, rng.randrange(len(data) + 1)))
        return data, check_registration(data) or check_extensions(data, start)
    data = mutate(rng.choice(sample_advertisements(rng)), rng, 16)
    if rng.random() < 0.8:  # most with a right checksum, so the parser behind it is reached
        data = with_icmp_checksum(data)
    return data, check_icmp(data)


# ---------------------------------------------------------------------------------------- worlds


@dataclass
class Input:
    """One input fed to a machine: what it was and the bytes (or description) for a reproducer."""

    kind: str
    data: bytes = b""
    note: str = ""


def _key(rng: random.Random) -> bytes:
    return rng.randbytes(16)


def _accepting_reply(actions: list[Any]) -> reg.RegistrationReply | None:
    for act in actions:
        if isinstance(act, SendUDP) and act.payload[:1] == b"\x03":
            rep = reg.decode_reply(act.payload)
            if codes.accepted(rep.code):
                return rep
    return None


@dataclass
class Authentic:
    """Prefixes of messages the world signed with an SA it knows the machine holds, by length."""

    prefixes: dict[int, dict[bytes, tuple[SecurityAssociation, ...]]] = field(default_factory=dict)

    def add(self, prefix: bytes, sas: tuple[SecurityAssociation, ...]) -> None:
        self.prefixes.setdefault(len(prefix), {})[prefix] = sas

    def match(self, data: bytes, held: Callable[[SecurityAssociation], bool]) -> bytes | None:
        """The authentic prefix `data` starts with whose SAs are all still held, if any."""
        for length, known in self.prefixes.items():
            sas = known.get(data[:length])
            if sas is not None and all(held(sa) for sa in sas):
                return data[:length]
        return None


def _held(sas: SecurityAssociations) -> Callable[[SecurityAssociation], bool]:
    def held(sa: SecurityAssociation) -> bool:
        have = sas.get(sa.peer, sa.spi)
        return have is not None and have.key == sa.key and have.algorithm == sa.algorithm
    return held


class World:
    """A machine, its timers, its clock and what the world fed it; subclasses make the inputs."""

    KINDS: tuple[str, ...] = ()
    machine: Any

    def __init__(self, rng: random.Random) -> None:
        self.now = NOW + rng.random()
        self.timers: dict[Any, float] = {}
        self.history: list[tuple[bytes, Packet]] = []  # recent inputs, for replays and mutation
        self.problems: list[str] = []
        self.errors = 0
        self.last: bytes = b""  # the datagram fed last: the reproducer when the machine raises
        self.standing: set[str] = set()  # invariant violations already reported that still hold

    # ---- feeding

    def take(self, actions: list[Any]) -> list[Any]:
        """Keep the timers armed and note any internal error the machine's safety net caught."""
        for act in actions:
            if isinstance(act, ArmTimer):
                self.timers[act.key] = act.at
            elif isinstance(act, CancelTimer):
                self.timers.pop(act.key, None)
            elif isinstance(act, Log) and act.event == "internal-error":
                self.problems.append(f"internal error caught by the safety net: {act.fields}")
        return actions

    def feed(self, pkt: Packet) -> list[Any]:
        self.last = pkt.data
        if not pkt.icmp:
            self.history.append((pkt.data, pkt))
            del self.history[:-32]
        return self.take(self.machine.on_packet(pkt, self.now))

    def fire_due(self) -> None:
        """Fire every timer due by now, earliest first (the runtime fires them late, never early)."""
        for _attempt in range(64):
            due = [(at, repr(k), k) for k, at in self.timers.items() if at <= self.now]
            if not due:
                return
            _due_at, _key_text, key = min(due)
            del self.timers[key]
            self.take(self.machine.on_timer(key, self.now))

    def jump(self, rng: random.Random) -> Input:
        step = rng.choice((0.2, 1.0, 3.0, 8.0, 60.0, 700.0, 2000.0, rng.uniform(0, 100), -rng.uniform(0, 30)))
        self.now += step
        self.fire_due()
        return Input("time", note=f"{step:+.3f} s")

    def timer(self, rng: random.Random) -> Input:
        """The next armed timer fires (time moves to it)."""
        if not self.timers:
            return self.jump(rng)
        self.now = max(self.now, min(self.timers.values()))
        self.fire_due()
        return Input("timer")

    def replay(self, rng: random.Random) -> Input:
        if not self.history:
            return self.garbage(rng)
        data, pkt = rng.choice(self.history)
        self.feed(pkt)
        return Input("replay", data)

    def garbage(self, rng: random.Random) -> Input:
        data = rng.choice((b"", b"\x01", b"\x03")) + rng.randbytes(rng.randrange(80))
        self.feed(self.packet(data, rng))
        return Input("garbage", data)

    def packet(self, data: bytes, rng: random.Random) -> Packet:
        raise NotImplementedError

    # ---- stepping and checking

    def step(self, kind: str, rng: random.Random) -> Input:
        """Make one input of `kind`, feed it; an exception out of the machine propagates."""
        self.last = b""
        before = self.snapshot()
        made: Input = getattr(self, kind)(rng)
        self.check_step(before, made)
        return made

    def snapshot(self) -> Any:
        return None

    def check_step(self, before: Any, made: Input) -> None:
        pass

    def violations(self) -> list[str]:
        """What went wrong since the last call: problems seen while feeding, and invariants that broke
        (a broken state is reported once, not again after every step it lasts)."""
        out, self.problems = self.problems, []
        if self.machine.counters[INTERNAL_ERROR] != self.errors:
            self.errors = self.machine.counters[INTERNAL_ERROR]
            if not out:
                out.append("internal error caught by the safety net")
        broken = self.invariants()
        out += [v for v in broken if v not in self.standing]
        self.standing = set(broken)
        return out

    def invariants(self) -> list[str]:
        return []


# ---------------------------------------------------------------------------------------- home agent


@dataclass(frozen=True)
class MobileNodeIdentity:
    home: str
    nai: str | None
    peer: str  # whom its SAs are filed under
    replay: str


HA_NODES = (
    MobileNodeIdentity(HOME_TS, None, HOME_TS, "timestamp"),
    MobileNodeIdentity(HOME_NONCE, None, HOME_NONCE, "nonce"),
    MobileNodeIdentity(HOME_NAI, CAROL, CAROL, "timestamp"),
)


class HAWorld(World):
    """A home agent serving three nodes (address SAs with timestamps and nonces, an NAI SA) with a
    foreign agent it shares an SA with; requests come through the FA or straight from a node."""

    KINDS = ("valid", "valid", "valid", "forged", "forged", "mutated", "mutated", "replay", "garbage",
             "timer", "jump", "reload", "solicitation")

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.sas: dict[str, list[SecurityAssociation]] = {}
        for spi, node in enumerate(HA_NODES, 256):
            alg = rng.choice(ALGORITHMS)
            self.sas[node.peer] = [SecurityAssociation(node.peer, spi, _key(rng), alg, node.replay)]
        self.sas[FA] = [SecurityAssociation(FA, 400, _key(rng))]
        self.max_lifetime = 1800
        self.simultaneous = rng.choice((0, 2))
        self.machine = HomeAgent(self.config(), self.security(), random.Random(rng.random()))
        self.nonces: dict[str, int] = {}
        self.authentic = Authentic()
        self.signed_for: set[tuple[str, str]] = set()  # (home, care-of) of authentic requests fed
        self.accepted: set[bytes] = set()  # authentic prefixes of requests accepted
        self.take(self.machine.start(self.now))

    def config(self) -> HomeAgentConfig:
        return HomeAgentConfig(HA, "home0", (HOME_NET,), mobile_hosts=HostSet((HOME_NET, "*@example.net")),
                               nai_hosts=tuple(NaiHost(n.nai, (n.home,)) for n in HA_NODES if n.nai),
                               max_lifetime=self.max_lifetime, simultaneous_bindings=self.simultaneous)

    def security(self) -> SecurityAssociations:
        return SecurityAssociations([sa for sas in self.sas.values() for sa in sas])

    def packet(self, data: bytes, rng: random.Random, source: str = FA) -> Packet:
        dest = rng.choice((HA, HA, HA, HA, HOME_BROADCAST, "255.255.255.255"))
        return Packet(data, source, dest, rng.choice((434, 434, 50000)), "home0")

    # ---- building requests

    def _ident(self, node: MobileNodeIdentity, rng: random.Random) -> int:
        if node.replay == "nonce":
            return (self.nonces.get(node.home, 0) << 32) | rng.getrandbits(32)
        return ntp_timestamp(self.now + rng.choice((0, 0, 0, 0.5, -2, 5, -60)), rng.getrandbits(12))

    def _request(self, rng: random.Random, node: MobileNodeIdentity, home: str,
                 sa: SecurityAssociation) -> tuple[bytes, str]:
        """A request for `home` signed with `sa` (through the FA with an FHAE, or direct). What it
        signed is remembered with `sa`: authentic while the HA holds that very SA."""
        flags = rng.choice((0, reg.FLAG_T, reg.FLAG_S, reg.FLAG_S | reg.FLAG_T, reg.FLAG_G, reg.FLAG_D,
                            rng.randrange(256)))
        lifetime = rng.choice(LIFETIMES)
        coa = rng.choice((FA, FA, FA2, "192.0.2.77", home))
        fixed = reg.RegistrationRequest(flags, lifetime, home, HA, coa, self._ident(node, rng)).encode_fixed()
        if node.nai is not None or rng.random() < 0.1:
            fixed += NAIExtension(node.nai or CAROL).encode()
        data = sign(sa, fixed, MHAE)
        self.authentic.add(data, (sa,))
        if rng.random() < 0.2:
            data += ChallengeExtension(rng.randbytes(8)).encode()
        via_fa = coa != home and rng.random() < 0.8
        if via_fa and self.sas.get(FA):
            fa_sa = rng.choice(self.sas[FA]) if rng.random() < 0.9 else SecurityAssociation(FA, 400, _key(rng))
            data = sign(fa_sa, data, FHAE)
        return data, FA if via_fa else coa

    def _send(self, data: bytes, source: str, rng: random.Random) -> list[Any]:
        """Feed a request; note what the ground truth says about it and what the HA answered."""
        prefix = self.authentic.match(data, _held(self.machine.sas))
        try:
            req = reg.decode_request(data)
        except WireError:
            req = None
        authorized = prefix is not None and req is not None and self._authorized(req, prefix)
        if authorized:
            self.signed_for.add((req.home_address, req.care_of_address))
        actions = self.feed(self.packet(data, rng, source))
        if _accepting_reply(actions) is not None:
            if not authorized:
                self.problems.append(f"accepted a request not signed with an SA for its node: {data.hex()}")
            elif prefix in self.accepted:
                self.problems.append(f"a request was accepted twice (replay, §5.7): {data.hex()}")
            self.accepted.add(prefix or b"")
        for act in actions:  # §5.7.2: every reply carries the next nonce
            if isinstance(act, SendUDP) and act.payload[:1] == b"\x03":
                back = reg.decode_reply(act.payload)
                if back.home_address == HOME_NONCE:
                    self.nonces[HOME_NONCE] = back.identification >> 32
        return actions

    def _authorized(self, req: reg.RegistrationRequest, prefix: bytes) -> bool:
        """Did the world sign this request with an SA for the node whose home address it claims?"""
        sa_peer = next(iter(self.authentic.prefixes[len(prefix)][prefix])).peer
        if sa_peer == req.home_address:
            return True
        nai = next((e.nai for e in req.extensions if isinstance(e, NAIExtension)), None)
        if sa_peer != nai:
            return False
        return any(n.nai == nai and n.home == req.home_address for n in HA_NODES)

    # ---- inputs

    def valid(self, rng: random.Random) -> Input:
        node = rng.choice(HA_NODES)
        sas = self.sas[node.peer]
        sa = sas[-1] if rng.random() < 0.8 else rng.choice(sas)
        data, source = self._request(rng, node, node.home, sa)
        self._send(data, source, rng)
        return Input("valid", data)

    def forged(self, rng: random.Random) -> Input:
        """Wrong key, unknown SPI, another node's SA, an NAI's SA claiming another address (an
        unconfigured one, the agent's own, a network or broadcast address: the issue's critical
        case), the right key with another algorithm, no MHAE at all."""
        node = rng.choice(HA_NODES)
        sa = self.sas[node.peer][-1]
        how = rng.randrange(6)
        home = node.home
        if how == 0:
            sa = SecurityAssociation(sa.peer, sa.spi, _key(rng), sa.algorithm, sa.replay)
        elif how == 1:
            sa = SecurityAssociation(sa.peer, 999, sa.key, sa.algorithm, sa.replay)
        elif how == 2:
            home = rng.choice([n.home for n in HA_NODES if n is not node] + [UNCONFIGURED])
        elif how == 3:
            node = HA_NODES[2]
            sa = self.sas[CAROL][-1]
            home = rng.choice((HOME_TS, UNCONFIGURED, HA, HOME_BROADCAST, "10.1.0.0"))
        elif how == 4:
            alg = next(a for a in ALGORITHMS if a != sa.algorithm)
            sa = SecurityAssociation(sa.peer, sa.spi, sa.key, alg, sa.replay)
        data, source = self._request(rng, node, home, sa)
        if how == 5:
            data = data[: reg.REQUEST_FIXED_LEN]
        self._send(data, source, rng)
        return Input("forged", data)

    def mutated(self, rng: random.Random) -> Input:
        if self.history and rng.random() < 0.5:
            base = rng.choice(self.history)[0]
        else:
            node = rng.choice(HA_NODES)
            base, _source = self._request(rng, node, node.home, self.sas[node.peer][-1])
        data = mutate(base, rng, reg.REQUEST_FIXED_LEN)
        self._send(data, rng.choice((FA, FA2, HOME_TS)), rng)
        return Input("mutated", data)

    def replay(self, rng: random.Random) -> Input:
        if not self.history:
            return self.garbage(rng)
        data, pkt = rng.choice(self.history)
        self._send(data, pkt.source, rng)
        return Input("replay", data)

    def reload(self, rng: random.Random) -> Input:
        """mipctl reload: a key rotated in or out, the FA SA added or removed, another lifetime cap."""
        what = rng.randrange(5)
        peer = rng.choice([n.peer for n in HA_NODES])
        sas = self.sas[peer]
        if what == 0:
            old = sas[-1]
            sas.append(SecurityAssociation(peer, max(s.spi for s in sas) + 1, _key(rng), old.algorithm, old.replay))
        elif what == 1 and len(sas) > 1:
            sas.pop(0)
        elif what == 2:
            self.sas[FA] = [] if self.sas.get(FA) else [SecurityAssociation(FA, 400, _key(rng))]
        elif what == 3:
            self.max_lifetime = rng.choice((30, 600, 1800, 0xFFFF))
        self.take(self.machine.on_config(self.config(), self.security(), self.now))
        return Input("reload", note=f"change {what} for {peer}")

    def solicitation(self, rng: random.Random) -> Input:
        data = icmp.AgentSolicitation().encode() if rng.random() < 0.7 else mutate(
            icmp.AgentSolicitation().encode(), rng, 8)
        self.feed(Packet(data, HOME_TS, "224.0.0.11", 0, "home0", icmp=True))
        return Input("solicitation", data)

    def garbage(self, rng: random.Random) -> Input:
        data = rng.choice((b"", b"\x01", b"\x03")) + rng.randbytes(rng.randrange(80))
        self._send(data, FA, rng)
        return Input("garbage", data)

    def invariants(self) -> list[str]:
        out = []
        own = {HA, HOME_BROADCAST, "10.1.0.0"}
        for b in self.machine.bindings():
            if (b.home_address, b.care_of_address) not in self.signed_for:
                out.append(f"binding {b.home_address} -> {b.care_of_address} without a request signed "
                           "with an SA for that node")
            if b.home_address in own:
                out.append(f"binding for the agent's own or a network address {b.home_address}")
        return out


# ---------------------------------------------------------------------------------------- foreign agent


FA_NODES = (HOME_TS, HOME_NONCE, "0.0.0.0")


class FAWorld(World):
    """A foreign agent on eth1 (10.2.0.1); visiting nodes send requests, the home agent replies."""

    KINDS = ("request", "request", "request", "request", "reply", "reply", "reply", "forged_reply", "mutated",
             "mutated", "replay", "garbage", "icmp_error", "timer", "jump", "reload", "solicitation")

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.ha_sa: SecurityAssociation | None = SecurityAssociation(HA, 400, _key(rng))
        self.mn_sa: SecurityAssociation | None = (SecurityAssociation(HOME_TS, 500, _key(rng))
                                                  if rng.random() < 0.5 else None)
        self.challenge = rng.random() < 0.3
        self.visitor_limit = rng.choice((0, 0, 2))
        self.machine = ForeignAgent(self.config(), self.security(), random.Random(rng.random()))
        self.relayed: list[tuple[reg.RegistrationRequest, bytes]] = []  # what the FA sent to the HA
        self.challenges: list[bytes] = []
        self.authentic = Authentic()
        self.replied: set[tuple[str, int]] = set()  # (home, identification) of accepting replies it may trust
        self.take(self.machine.start(self.now))

    def config(self) -> ForeignAgentConfig:
        return ForeignAgentConfig((ServedInterface("eth1", FA, 24),), registration_lifetime=1800,
                                  challenge=self.challenge, visitor_limit=self.visitor_limit)

    def security(self) -> SecurityAssociations:
        return SecurityAssociations([sa for sa in (self.ha_sa, self.mn_sa) if sa is not None])

    def packet(self, data: bytes, rng: random.Random) -> Packet:
        if data[:1] == b"\x03":
            return Packet(data, HA, FA, 434, "core0")
        home = rng.choice(FA_NODES)
        return Packet(data, home, rng.choice((FA, FA, "224.0.0.11")), rng.choice((434, 49152)), "eth1",
                      "02:00:00:00:00:10", ttl=rng.choice((255, 255, 255, 255, 64)))

    def take(self, actions: list[Any]) -> list[Any]:
        for act in super().take(actions):
            if isinstance(act, SendUDP) and act.dest == HA and act.payload[:1] == b"\x01":
                self.relayed.append((reg.decode_request(act.payload), act.payload))
                del self.relayed[:-16]
            elif isinstance(act, SendICMP):
                adv = icmp.decode(act.payload)
                if isinstance(adv, icmp.AgentAdvertisement) and adv.challenge:
                    self.challenges.append(adv.challenge)
                    del self.challenges[:-3]
        return actions

    def _request_bytes(self, rng: random.Random) -> bytes:
        """A request as a visiting node sends it: mostly one the FA can relay, sometimes not."""
        if self.challenge and rng.random() < 0.7:  # learn the current challenge (RFC 3012 §2)
            self.feed(Packet(icmp.AgentSolicitation().encode(), HOME_TS, "224.0.0.11", 0, "eth1", icmp=True))
        home = rng.choice(FA_NODES)
        flags = rng.choice((0, 0, 0, reg.FLAG_T, reg.FLAG_T, reg.FLAG_D, reg.FLAG_G, rng.randrange(256)))
        ident = ntp_timestamp(self.now, rng.getrandbits(12)) if rng.random() < 0.7 else rng.getrandbits(64)
        lifetime = rng.choice((600, 600, 600, *LIFETIMES))
        data = reg.RegistrationRequest(flags, lifetime, home, rng.choice((HA, HA, HA, HA, HA, HA, FA, "0.0.0.0")),
                                       rng.choice((FA, FA, FA, FA, FA, FA2)), ident).encode_fixed()
        if home == "0.0.0.0" or rng.random() < 0.2:
            data += NAIExtension(CAROL).encode()
        data = sign(SecurityAssociation(HA, 256, b"mn-ha-key"), data, MHAE)
        if self.challenges and rng.random() < 0.8:
            data += ChallengeExtension(rng.choice(self.challenges)).encode()
        if self.mn_sa is not None and home == HOME_TS and rng.random() < 0.9:
            data = sign(self.mn_sa, data, MFAE)
        return data

    def request(self, rng: random.Random) -> Input:
        data = self._request_bytes(rng)
        self.feed(self.packet(data, rng))
        return Input("request", data)

    def _reply_bytes(self, rng: random.Random, fhae: SecurityAssociation | None) -> bytes:
        """A reply to a request the FA relayed (mostly), with an FHAE signed with `fhae`: authentic
        while the FA holds that very SA."""
        waiting = {p.identification for p in self.machine.pending()}
        answerable = [req for req, _relayed_to in self.relayed if req.identification in waiting]
        if answerable and rng.random() < 0.9:
            req = rng.choice(answerable)
        elif self.relayed and rng.random() < 0.8:
            req = rng.choice(self.relayed)[0]
        else:
            req = reg.decode_request(self._request_bytes(rng))
        code = rng.choice((0, 0, 0, 0, 1, 130, 131, 133, rng.randrange(256)))
        home = req.home_address if req.home_address != "0.0.0.0" else rng.choice((HOME_NAI, "0.0.0.0"))
        data = reg.encode_reply_fixed(code, rng.choice((req.lifetime, req.lifetime, *LIFETIMES)), home,
                                      rng.choice((req.home_agent, req.home_agent, "0.0.0.0")), req.identification)
        nai = next((e.nai for e in req.extensions if isinstance(e, NAIExtension)), None)
        if nai is not None:
            data += NAIExtension(nai).encode()
        data = sign(SecurityAssociation(HA, 256, b"mn-ha-key"), data, MHAE)
        echo = next((e for e in req.extensions if isinstance(e, ChallengeExtension)), None)
        if echo is not None:
            data += echo.encode()
        if fhae is not None:
            data = sign(fhae, data, FHAE)
            self.authentic.add(data, (fhae,))
        return data

    def _send_reply(self, data: bytes, rng: random.Random) -> None:
        try:
            rep = reg.decode_reply(data)
        except WireError:
            rep = None
        if rep is not None and codes.accepted(rep.code):
            trusted = not self.machine.sas.has_peer(HA) or self.authentic.match(data, _held(self.machine.sas))
            if trusted:
                self.replied.add((rep.home_address, rep.identification))
        self.feed(Packet(data, HA, FA, 434, "core0"))

    def reply(self, rng: random.Random) -> Input:
        data = self._reply_bytes(rng, self.ha_sa)
        self._send_reply(data, rng)
        return Input("reply", data)

    def forged_reply(self, rng: random.Random) -> Input:
        """A reply with a wrong FA-HA key, an unknown SPI, or no FHAE at all."""
        how = rng.randrange(3)
        fhae = (SecurityAssociation(HA, 400, _key(rng)) if how == 0 else
                SecurityAssociation(HA, 401, self.ha_sa.key if self.ha_sa else b"x") if how == 1 else None)
        data = self._reply_bytes(rng, fhae)
        self._send_reply(data, rng)
        return Input("forged_reply", data)

    def mutated(self, rng: random.Random) -> Input:
        if self.history and rng.random() < 0.5:
            base = rng.choice(self.history)[0]
        else:
            base = self._reply_bytes(rng, self.ha_sa) if rng.random() < 0.5 else self._request_bytes(rng)
        data = mutate(base, rng, reg.REPLY_FIXED_LEN if base[:1] == b"\x03" else reg.REQUEST_FIXED_LEN)
        if data[:1] == b"\x03":
            self._send_reply(data, rng)
        else:
            self.feed(self.packet(data, rng))
        return Input("mutated", data)

    def replay(self, rng: random.Random) -> Input:
        if not self.history:
            return self.garbage(rng)
        data, pkt = rng.choice(self.history)
        if data[:1] == b"\x03":
            self._send_reply(data, rng)
        else:
            self.feed(pkt)
        return Input("replay", data)

    def garbage(self, rng: random.Random) -> Input:
        data = rng.choice((b"", b"\x01", b"\x03")) + rng.randbytes(rng.randrange(80))
        if data[:1] == b"\x03":
            self._send_reply(data, rng)
        else:
            self.feed(self.packet(data, rng))
        return Input("garbage", data)

    def icmp_error(self, rng: random.Random) -> Input:
        icmp_type, icmp_code = rng.choice(((3, 0), (3, 1), (3, 3), (3, 13), (11, 0)))
        self.take(self.machine.on_icmp_error(rng.choice((HA, FA2)), icmp_type, icmp_code, self.now))
        return Input("icmp_error", note=f"type {icmp_type} code {icmp_code}")

    def solicitation(self, rng: random.Random) -> Input:
        data = icmp.AgentSolicitation().encode()
        if rng.random() < 0.3:
            data = with_icmp_checksum(mutate(data, rng, 8))
        self.feed(Packet(data, HOME_TS, "224.0.0.11", 0, rng.choice(("eth1", "eth9")), icmp=True))
        return Input("solicitation", data)

    def reload(self, rng: random.Random) -> Input:
        """The FA-HA key rotated or removed, the MN-FA SA toggled, challenges or the visitor limit changed."""
        what = rng.randrange(5)
        if what == 0:
            self.ha_sa = SecurityAssociation(HA, 400 + rng.randrange(2), _key(rng))
        elif what == 1:
            self.ha_sa = None if self.ha_sa else SecurityAssociation(HA, 400, _key(rng))
        elif what == 2:
            self.mn_sa = None if self.mn_sa else SecurityAssociation(HOME_TS, 500, _key(rng))
        elif what == 3:
            self.challenge = not self.challenge
        else:
            self.visitor_limit = rng.choice((0, 1, 2))
        self.take(self.machine.on_config(self.config(), self.security(), self.now))
        return Input("reload", note=f"change {what}")

    def invariants(self) -> list[str]:
        return [f"visitor {v.home_address} (Identification {v.identification:#x}) without an accepting reply "
                "from the home agent signed with the FA-HA key"
                for v in self.machine.visitors(self.now) if (v.home_address, v.identification) not in self.replied]


# ---------------------------------------------------------------------------------------- mobile node


class MNWorld(World):
    """A mobile node (home 10.1.0.10) hearing its home agent and a foreign agent; replies come to
    its requests, signed or not, mutated or replayed."""

    KINDS = ("advert", "advert", "advert", "home_advert", "link", "reply", "reply", "reply", "reply", "reply",
             "forged_reply", "mutated", "mutated", "replay", "garbage", "timer", "timer", "jump", "reload")

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.ha_sas = [SecurityAssociation(HOME_TS, 256, _key(rng), rng.choice(ALGORITHMS),
                                           rng.choice(("timestamp", "timestamp", "nonce")))]
        self.fa_sa: SecurityAssociation | None = SecurityAssociation(FA, 500, _key(rng)) if rng.random() < 0.4 else None
        self.cfg = MobileNodeConfig(HOME_TS, HA, 24, home_gateway=HA, interfaces=("eth0",),
                                    reverse_tunnel=rng.random() < 0.5, colocated=rng.random() < 0.2,
                                    lifetime=rng.choice((30, 600)))
        self.machine = MobileNode(self.cfg, self.security(), random.Random(rng.random()))
        self.requests: list[reg.RegistrationRequest] = []
        self.authentic = Authentic()
        self.sequence = {FA: 1, HA: 1}
        self.take(self.machine.start(self.now))

    def security(self) -> SecurityAssociations:
        return SecurityAssociations([*self.ha_sas, *([self.fa_sa] if self.fa_sa else [])])

    def take(self, actions: list[Any]) -> list[Any]:
        for act in super().take(actions):
            if isinstance(act, SendUDP) and act.payload[:1] == b"\x01":
                self.requests.append(reg.decode_request(act.payload))
                del self.requests[:-8]
        return actions

    def packet(self, data: bytes, rng: random.Random) -> Packet:
        return Packet(data, rng.choice((FA, HA)), HOME_TS, 434, "eth0")

    def _advert(self, rng: random.Random, source: str, flags: int) -> bytes:
        if rng.random() < 0.1:
            self.sequence[source] = rng.randrange(0x10000)
        else:
            self.sequence[source] = icmp.next_sequence(self.sequence[source])
        coas = [source] if flags & icmp.ADV_F else []
        return icmp.AgentAdvertisement(
            rng.choice((3, 15, 15, 0)), self.sequence[source], rng.choice((1800, 600, 0)), flags, coas,
            [(source, 0)], 16, rng.choice((None, [24], [16])), rng.randbytes(8) if rng.random() < 0.2 else None,
        ).encode()

    def _hear(self, data: bytes, source: str, rng: random.Random) -> None:
        self.feed(Packet(data, source, "224.0.0.1", 0, rng.choice(("eth0", "eth0", "eth9")), "02:00:00:00:02:01",
                         icmp=True, ttl=1))

    def advert(self, rng: random.Random) -> Input:
        flags = icmp.ADV_F | rng.choice((0, icmp.ADV_T, icmp.ADV_R, icmp.ADV_B, icmp.ADV_G | icmp.ADV_M,
                                         rng.randrange(0x10000)))
        data = self._advert(rng, FA, flags)
        self._hear(data, FA, rng)
        return Input("advert", data)

    def home_advert(self, rng: random.Random) -> Input:
        data = self._advert(rng, HA, icmp.ADV_H)
        self._hear(data, HA, rng)
        return Input("home_advert", data)

    def link(self, rng: random.Random) -> Input:
        up = rng.random() < 0.6
        change = LinkChange("eth0", up, rng.choice((None, "192.0.2.50", "10.1.0.10")) if up else None,
                            rng.choice((None, 24, 33)), rng.choice((None, "192.0.2.1")))
        self.take(self.machine.on_link(change, self.now))
        return Input("link", note=repr(change))

    def _reply_bytes(self, rng: random.Random, sa: SecurityAssociation | None) -> bytes:
        """A reply to one of the node's requests (mostly its last), MHAE signed with `sa`: authentic
        while the node holds that very SA."""
        if self.requests and rng.random() < 0.9:
            req = self.requests[-1] if rng.random() < 0.8 else rng.choice(self.requests)
        else:
            req = reg.RegistrationRequest(0, 600, HOME_TS, HA, FA, rng.getrandbits(64))
        code = rng.choice((0, 0, 0, 0, 0, 0, 0, 0, 1, 69, 130, 133, 136, 137, 139, 66, 78, 104, rng.randrange(256)))
        ident = req.identification if rng.random() < 0.8 else (rng.getrandbits(32) << 32) | (
            req.identification & 0xFFFFFFFF)
        data = reg.encode_reply_fixed(code, rng.choice((req.lifetime, *LIFETIMES)), req.home_address,
                                      rng.choice((req.home_agent, req.home_agent, "10.1.0.2")), ident)
        if sa is not None:
            data = sign(sa, data, MHAE)
            self.authentic.add(data, (sa,))
        if self.fa_sa is not None and rng.random() < 0.9:
            data = sign(self.fa_sa, data, MFAE)
        return data

    def _send_reply(self, data: bytes, rng: random.Random) -> None:
        self.feed(self.packet(data, rng))

    def snapshot(self) -> Any:
        return self.machine._registration

    def check_step(self, before: Any, made: Input) -> None:
        """§3.6.2.1-3.6.2.2: a new registration only on an accepting, authenticated reply."""
        after = self.machine._registration
        if after is None or after is before:
            return
        if not made.data:
            self.problems.append(f"registered on a {made.kind} event ({made.note})")
            return
        data = made.data
        try:
            rep = reg.decode_reply(data)
        except WireError:
            rep = None
        if rep is None or not codes.accepted(rep.code):
            self.problems.append("registered without an accepting reply")
        elif self.authentic.match(data, _held(self.machine.sas)) is None:
            self.problems.append("registered on a reply whose MHAE the world did not sign with an SA the node holds")

    def reply(self, rng: random.Random) -> Input:
        data = self._reply_bytes(rng, rng.choice(self.ha_sas))
        self._send_reply(data, rng)
        return Input("reply", data)

    def forged_reply(self, rng: random.Random) -> Input:
        """Unsigned (as an FA denial), a wrong key, or an unknown SPI."""
        real = self.ha_sas[-1]
        sa = rng.choice((None, SecurityAssociation(real.peer, real.spi, _key(rng), real.algorithm),
                         SecurityAssociation(real.peer, 999, real.key, real.algorithm)))
        data = self._reply_bytes(rng, sa)
        self._send_reply(data, rng)
        return Input("forged_reply", data)

    def mutated(self, rng: random.Random) -> Input:
        if rng.random() < 0.3:
            data = mutate(self._advert(rng, rng.choice((FA, HA)), icmp.ADV_F), rng, 16)
            data = with_icmp_checksum(data) if rng.random() < 0.8 else data
            self._hear(data, FA, rng)
            return Input("mutated", data)
        if self.history and rng.random() < 0.5:
            base = rng.choice(self.history)[0]
        else:
            base = self._reply_bytes(rng, self.ha_sas[-1])
        data = mutate(base, rng, reg.REPLY_FIXED_LEN)
        self._send_reply(data, rng)
        return Input("mutated", data)

    def replay(self, rng: random.Random) -> Input:
        if not self.history:
            return self.garbage(rng)
        data, _packet = rng.choice(self.history)
        self._send_reply(data, rng)
        return Input("replay", data)

    def garbage(self, rng: random.Random) -> Input:
        data = rng.choice((b"", b"\x03", b"\x01")) + rng.randbytes(rng.randrange(80))
        self._send_reply(data, rng)
        return Input("garbage", data)

    def reload(self, rng: random.Random) -> Input:
        """A key rotated in or out, the FA SA toggled, another lifetime or reverse tunnelling setting."""
        what = rng.randrange(4)
        if what == 0:
            old = self.ha_sas[-1]
            self.ha_sas.append(replace(old, spi=old.spi + 1, key=_key(rng)))
        elif what == 1 and len(self.ha_sas) > 1:
            self.ha_sas.pop(0)
        elif what == 2:
            self.fa_sa = None if self.fa_sa else SecurityAssociation(FA, 500, _key(rng))
        else:
            self.cfg = replace(self.cfg, lifetime=rng.choice((30, 600, 1800)), reverse_tunnel=rng.random() < 0.5)
        self.take(self.machine.on_config(self.cfg, self.security(), self.now))
        return Input("reload", note=f"change {what}")


WORLDS: dict[str, type[World]] = {"ha": HAWorld, "fa": FAWorld, "mn": MNWorld}
