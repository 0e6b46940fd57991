"""Shared helpers for the wire codec tests: an independent checksum, hypothesis strategies,
a pcap writer (Ethernet/IPv4/UDP and Ethernet/IPv4/ICMP frames built with struct) and a
tshark JSON reader.

Imported by the test modules as `wire_helpers` (pytest puts this directory on sys.path).
"""

from __future__ import annotations

import json
import shutil
import socket
import struct
import subprocess
from pathlib import Path

from hypothesis import strategies as st
from mipd.wire import (
    FHAE,
    MFAE,
    MHAE,
    AgentAdvertisement,
    AuthExtension,
    ChallengeExtension,
    EncapDeliveryExtension,
    GenAuthExtension,
    NAIExtension,
    PadExtension,
    RegistrationReply,
    RegistrationRequest,
    UDPTunnelReply,
    UDPTunnelRequest,
    UnknownExtension,
)

# --------------------------------------------------------------------------------------------
# An Internet checksum written differently from the codec's (byte loop, fold every step), so
# that tests of hand-built ICMP bytes do not just repeat the implementation under test.


def inet_checksum(data: bytes) -> int:
    total = 0
    for i in range(0, len(data), 2):
        word = data[i] << 8 | (data[i + 1] if i + 1 < len(data) else 0)
        total += word
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def with_icmp_checksum(msg: bytes) -> bytes:
    """`msg` (an ICMP message, checksum field ignored) with a correct checksum in bytes 2-3."""
    body = bytearray(msg)
    body[2:4] = b"\0\0"
    body[2:4] = inet_checksum(bytes(body)).to_bytes(2, "big")
    return bytes(body)


# --------------------------------------------------------------------------------------------
# Hypothesis strategies. Everything they build round-trips exactly: decode(encode(x)) == x.

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 0xFFFFFFFFFFFFFFFF)
ipv4 = u32.map(lambda n: socket.inet_ntoa(n.to_bytes(4, "big")))

# Skippable types the codec interprets itself: an UnknownExtension of one of these would come
# back as the interpreted class.
INTERPRETED_SKIPPABLE = frozenset({130, 131, 132, 144})
UNKNOWN_SKIPPABLE_TYPES = sorted(set(range(128, 256)) - INTERPRETED_SKIPPABLE)

auth_extensions = st.builds(
    AuthExtension, st.sampled_from([MHAE, MFAE, FHAE]), u32, st.binary(max_size=251)
)
gen_auth_extensions = st.builds(GenAuthExtension, u8, u32, st.binary(max_size=400))
nai_extensions = st.builds(
    NAIExtension,
    st.text(st.characters(codec="utf-8"), max_size=80).filter(lambda s: len(s.encode()) <= 255),
)
challenge_extensions = st.builds(ChallengeExtension, st.binary(max_size=255))
encap_extensions = st.builds(EncapDeliveryExtension)
udp_tunnel_requests = st.builds(UDPTunnelRequest, u8, st.booleans(), st.booleans())
udp_tunnel_replies = st.builds(UDPTunnelReply, u8, u16, st.booleans())
pad_extensions = st.builds(PadExtension)
unknown_extensions = st.builds(
    UnknownExtension, st.sampled_from(UNKNOWN_SKIPPABLE_TYPES), st.binary(max_size=255)
)
# Type 144 that is not a UDP Tunnel Request we understand (RFC 3519 §3.1.3): kept as unknown.
_not_understood_144 = st.one_of(
    st.binary(max_size=255).filter(lambda d: len(d) != 6),
    st.tuples(st.binary(min_size=4, max_size=4), st.integers(1, 0xFFFF)).map(
        lambda t: t[0] + t[1].to_bytes(2, "big")
    ),
    st.tuples(st.integers(1, 255), st.binary(min_size=5, max_size=5)).map(lambda t: bytes([t[0]]) + t[1]),
)
unknown_144 = st.builds(UnknownExtension, st.just(144), _not_understood_144)

any_extension = st.one_of(
    auth_extensions,
    gen_auth_extensions,
    nai_extensions,
    challenge_extensions,
    encap_extensions,
    udp_tunnel_requests,
    udp_tunnel_replies,
    pad_extensions,
    unknown_extensions,
    unknown_144,
)
extension_lists = st.lists(any_extension, max_size=8)

registration_requests = st.builds(
    RegistrationRequest, u8, u16, ipv4, ipv4, ipv4, u64, extension_lists
)
registration_replies = st.builds(RegistrationReply, u8, u16, ipv4, ipv4, u64, extension_lists)


@st.composite
def agent_advertisements(draw: st.DrawFn) -> AgentAdvertisement:
    is_agent = draw(st.booleans() | st.just(True))
    routers = draw(st.lists(st.tuples(ipv4, st.integers(-(2**31), 2**31 - 1)), max_size=6))
    kwargs = {}
    if is_agent:
        kwargs = dict(
            sequence=draw(u16),
            registration_lifetime=draw(u16),
            flags=draw(u16),
            care_of_addresses=draw(st.lists(ipv4, max_size=6)),
        )
    return AgentAdvertisement(
        lifetime=draw(u16),
        routers=routers,
        code=draw(st.sampled_from([0, 16]) | u8),
        prefix_lengths=draw(st.none() | st.lists(st.integers(0, 32) | u8, max_size=8)),
        challenge=draw(st.none() | st.binary(max_size=255)),
        is_agent=is_agent,
        unknown=draw(st.lists(st.tuples(st.integers(128, 255), st.binary(max_size=40)), max_size=3)),
        **kwargs,
    )


# --------------------------------------------------------------------------------------------
# pcap writing: classic libpcap format, DLT_EN10MB.

_MAC_A = bytes.fromhex("020000000001")
_MAC_B = bytes.fromhex("020000000002")


def _ipv4(proto: int, src: str, dst: str, payload: bytes, ttl: int = 64) -> bytes:
    header = bytearray(
        struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(payload),
            0,
            0x4000,
            ttl,
            proto,
            0,
            socket.inet_aton(src),
            socket.inet_aton(dst),
        )
    )
    header[10:12] = inet_checksum(bytes(header)).to_bytes(2, "big")
    return bytes(header) + payload


def udp_frame(payload: bytes, src: str = "192.0.2.5", dst: str = "10.1.1.1",
              sport: int = 434, dport: int = 434) -> bytes:
    """Ethernet/IPv4/UDP frame with a correct UDP checksum."""
    udp = bytearray(struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, len(udp))
    csum = inet_checksum(pseudo + bytes(udp)) or 0xFFFF
    udp[6:8] = csum.to_bytes(2, "big")
    return _MAC_B + _MAC_A + b"\x08\x00" + _ipv4(17, src, dst, bytes(udp))


def icmp_frame(message: bytes, src: str = "192.0.2.5", dst: str = "224.0.0.1") -> bytes:
    """Ethernet/IPv4/ICMP frame, TTL 1 as RFC 5944 §2.1/§2.2 require."""
    return b"\x01\x00\x5e\x00\x00\x01" + _MAC_A + b"\x08\x00" + _ipv4(1, src, dst, message, ttl=1)


def write_pcap(path: Path, frames: list[bytes]) -> Path:
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for n, frame in enumerate(frames):
        out += struct.pack("<IIII", 1_700_000_000 + n, 0, len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))
    return path


# --------------------------------------------------------------------------------------------
# tshark: run once per pcap, flatten each packet's JSON tree into (field, value) pairs in order.

TSHARK = shutil.which("tshark")


class Dissection:
    """One packet as tshark dissected it: every field name with its values in tree order."""

    def __init__(self, pairs: list[tuple[str, object]]) -> None:
        self.pairs = pairs

    def all(self, name: str) -> list:
        return [v for k, v in self.pairs if k == name]

    def one(self, name: str) -> object:
        values = self.all(name)
        assert len(values) == 1, f"{name}: expected one value, tshark gave {values!r}"
        return values[0]

    def raw_hex(self, name: str) -> list[str]:
        """The bytes tshark attributed to field `name` (needs `-x`), as hex strings."""
        return [v[0] for v in self.all(name + "_raw")]

    def names(self) -> set[str]:
        return {k for k, _ in self.pairs}

    @property
    def malformed(self) -> bool:
        return any(k.startswith("_ws.malformed") for k, _ in self.pairs) or any(
            "Malformed" in str(v) for k, v in self.pairs if k == "_ws.expert.message"
        )


def _flatten(node: list[tuple[str, object]], out: list[tuple[str, object]]) -> None:
    for key, value in node:
        if isinstance(value, list) and value and isinstance(value[0], tuple):
            out.append((key, None))  # a subtree: keep its label, then its fields
            _flatten(value, out)
        elif isinstance(value, list) and key.endswith("_raw"):
            out.append((key, value))
        elif isinstance(value, list) and not value:
            out.append((key, None))  # empty subtree
        else:
            out.append((key, value))


def run_tshark(pcap: Path) -> list[Dissection]:
    """Dissect `pcap` with tshark (-T json -x, no name resolution); one Dissection per frame."""
    assert TSHARK is not None
    proc = subprocess.run(
        [TSHARK, "-n", "-r", str(pcap), "-T", "json", "-x"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    packets = json.loads(proc.stdout, object_pairs_hook=list)
    result = []
    for packet in packets:
        source = dict(packet)["_source"]
        layers = dict(source)["layers"]
        pairs: list[tuple[str, object]] = []
        _flatten(layers, pairs)
        result.append(Dissection(pairs))
    return result
