"""tshark (Wireshark's dissectors) as an independent decoder of what the codec encodes.

Each test writes a batch of frames into one pcap, runs tshark once (-T json -x) and checks that
every field tshark decodes equals what we put in, with no malformed-packet mark.

Known tshark 4.0 quirks these tests steer around (the codec follows the RFCs):
- packet-mip.c has no one-byte padding in registration messages: it reads type 0 as a TLV with a
  Length byte (RFC 5944 §1.8 says type 0 has neither Length nor Data), so no PadExtension here;
- packet-icmp.c marks an advertisement with an unknown skippable extension (128-255) malformed,
  so AgentAdvertisement.unknown stays empty here;
- reply code 194 (RFC 5944 App. F) is missing from its table and shown as "Unknown (194)";
- the advertisement I flag (0x0020, RFC 5944 App. F) is shown inside "Reserved" (mask 0x003f);
- the Identification is shown as an NTP timestamp, so its exact 64 bits are checked on the raw
  bytes tshark attributes to the field (-x).
"""

from __future__ import annotations

import datetime
import random
import socket
import string

import pytest
from mipd.wire import (
    FHAE,
    MFAE,
    MHAE,
    AgentAdvertisement,
    AgentSolicitation,
    AuthExtension,
    ChallengeExtension,
    EncapDeliveryExtension,
    GenAuthExtension,
    NAIExtension,
    RegistrationReply,
    RegistrationRequest,
    UDPTunnelReply,
    UDPTunnelRequest,
    UnknownExtension,
    icmp,
)
from wire_helpers import Dissection, icmp_frame, run_tshark, udp_frame, with_icmp_checksum, write_pcap

pytestmark = pytest.mark.tshark

HOME, HA, COA = "10.1.1.10", "10.1.1.1", "192.0.2.5"
NTP_ID = 0xE8FE6F8080000001  # 2023-11-14 22:13:20.5 UTC as an NTP timestamp
RRQ_FLAG_FIELDS = [("mip.s", 0x80), ("mip.b", 0x40), ("mip.d", 0x20), ("mip.m", 0x10), ("mip.g", 0x08),
                   ("mip.v", 0x04), ("mip.t", 0x02), ("mip.x", 0x01)]
ADV_FLAG_FIELDS = [("icmp.mip.r", 0x8000), ("icmp.mip.b", 0x4000), ("icmp.mip.h", 0x2000),
                   ("icmp.mip.f", 0x1000), ("icmp.mip.m", 0x0800), ("icmp.mip.g", 0x0400),
                   ("icmp.mip.v", 0x0200), ("icmp.mip.rt", 0x0100), ("icmp.mip.u", 0x0080),
                   ("icmp.mip.x", 0x0040)]
# Skippable types that packet-mip.c prints raw (it has sub-dissectors for 131, 133, 134, 137, 139,
# 144, 145, 147, 148, which would expect their own layouts).
TSHARK_RAW_SKIPPABLE = [128, 129, 135, 136, 138, 140, 141, 142, 143, 146, 149, 150, 151, 152, 200, 254, 255]


def colon_hex(data: bytes) -> str:
    return ":".join(f"{b:02x}" for b in data)


def bit(flags: int, mask: int) -> str:
    return "1" if flags & mask else "0"


def ntp_text_matches(shown: str, ident: int) -> bool:
    """tshark's NTP rendering of the Identification, e.g. 'Nov 14, 2023 22:13:20.500000000 UTC'."""
    seconds, fraction = ident >> 32, ident & 0xFFFFFFFF
    unix = seconds - 2208988800 + (0 if seconds & 0x80000000 else 2**32)  # NTP era 0 / era 1
    text = " ".join(shown.split()).removesuffix(" UTC")
    stamp, _, nanos = text.partition(".")
    when = datetime.datetime.strptime(stamp, "%b %d, %Y %H:%M:%S").replace(tzinfo=datetime.UTC)
    return int(when.timestamp()) == unix and abs(int(nanos) - fraction * 10**9 / 2**32) <= 1


def expected_extension_fields(extensions: list) -> dict[str, list[str]]:
    """What packet-mip.c should show for our extensions, field by field, in order."""
    out: dict[str, list[str]] = {k: [] for k in (
        "mip.ext.type", "mip.ext.len", "mip.auth.spi", "mip.auth.auth", "mip.ext.auth.subtype", "mip.nai",
        "mip.extension", "mip.ext.utrq.subtype", "mip.ext.utrq.f", "mip.ext.utrq.r", "mip.ext.utrq.encaptype",
        "mip.ext.utrq.reserved3", "mip.ext.utrp.subtype", "mip.ext.utrp.code", "mip.ext.utrp.f",
        "mip.ext.utrp.keepalive",
    )}
    for e in extensions:
        out["mip.ext.type"].append(str(e.type))
        if isinstance(e, (AuthExtension, GenAuthExtension)):
            out["mip.ext.len"].append(str(4 + len(e.authenticator)))
            out["mip.auth.spi"].append(f"0x{e.spi:08x}")
            out["mip.auth.auth"].append(colon_hex(e.authenticator))
            if isinstance(e, GenAuthExtension):
                out["mip.ext.auth.subtype"].append(str(e.subtype))
        elif isinstance(e, NAIExtension):
            out["mip.ext.len"].append(str(len(e.nai.encode())))
            out["mip.nai"].append(e.nai)
        elif isinstance(e, (ChallengeExtension, UnknownExtension, EncapDeliveryExtension)):
            data = e.encode()[2:]
            out["mip.ext.len"].append(str(len(data)))
            if e.type == 144:  # a not-understood UDP Tunnel Request: tshark still dissects it
                out["mip.ext.utrq.subtype"].append(str(data[0]))
                out["mip.ext.utrq.f"].append(bit(data[2], 0x80))
                out["mip.ext.utrq.r"].append(bit(data[2], 0x40))
                out["mip.ext.utrq.encaptype"].append(str(data[3]))
                out["mip.ext.utrq.reserved3"].append(f"0x{int.from_bytes(data[4:6], 'big'):04x}")
            else:
                out["mip.extension"].append(colon_hex(data))
        elif isinstance(e, UDPTunnelRequest):
            out["mip.ext.len"].append("6")
            out["mip.ext.utrq.subtype"].append("0")
            out["mip.ext.utrq.f"].append(bit(e.force, 1))
            out["mip.ext.utrq.r"].append(bit(e.via_fa, 1))
            out["mip.ext.utrq.encaptype"].append(str(e.encapsulation))
            out["mip.ext.utrq.reserved3"].append("0x0000")
        elif isinstance(e, UDPTunnelReply):
            out["mip.ext.len"].append("6")
            out["mip.ext.utrp.subtype"].append("0")
            out["mip.ext.utrp.code"].append(str(e.code))
            out["mip.ext.utrp.f"].append(bit(e.forced, 1))
            out["mip.ext.utrp.keepalive"].append(str(e.keepalive))
        else:
            raise AssertionError(f"no tshark expectation for {e!r}")
    return out


def check_registration(d: Dissection, msg: RegistrationRequest | RegistrationReply) -> None:
    assert not d.malformed, msg
    assert "434" in d.all("udp.port")
    if isinstance(msg, RegistrationRequest):
        assert d.one("mip.type") == "1"
        assert d.one("mip.flags") == f"0x{msg.flags:02x}"
        for name, mask in RRQ_FLAG_FIELDS:
            assert d.one(name) == bit(msg.flags, mask), name
        assert d.one("mip.coa") == msg.care_of_address
        assert d.all("mip.code") == []
    else:
        assert d.one("mip.type") == "3"
        assert d.one("mip.code") == str(msg.code)
        assert d.all("mip.coa") == []
    assert d.one("mip.life") == str(msg.lifetime)
    assert d.one("mip.homeaddr") == msg.home_address
    assert d.one("mip.haaddr") == msg.home_agent
    assert d.raw_hex("mip.ident") == [f"{msg.identification:016x}"]
    if msg.identification >> 63:
        assert ntp_text_matches(d.one("mip.ident"), msg.identification), d.one("mip.ident")
    for field, values in expected_extension_fields(msg.extensions).items():
        assert d.all(field) == values, (field, msg)


def check_batch(tmp_path, messages: list, frames: list[bytes], check) -> None:
    dissections = run_tshark(write_pcap(tmp_path / "batch.pcap", frames))
    assert len(dissections) == len(messages)
    for d, msg in zip(dissections, messages, strict=True):
        check(d, msg)


def registration_frames(messages: list) -> list[bytes]:
    frames = []
    for n, msg in enumerate(messages):
        if isinstance(msg, RegistrationRequest):
            frames.append(udp_frame(msg.encode(), src=COA, dst=HA, sport=1024 + n, dport=434))
        else:
            frames.append(udp_frame(msg.encode(), src=HA, dst=COA, sport=434, dport=1024 + n))
    return frames


def rrq(flags: int = 0, lifetime: int = 1800, ident: int = NTP_ID, exts: list | None = None,
        home: str = HOME) -> RegistrationRequest:
    return RegistrationRequest(flags, lifetime, home, HA, COA, ident, exts or [])


def nai_mhae(nai: str = "mn@example.com", spi: int = 0x100) -> list:
    return [NAIExtension(nai), AuthExtension(MHAE, spi, bytes(range(16)))]


def test_requests_with_nai_and_mhae(tshark, tmp_path):
    """RFC 5944 §3.3 + §3.5.2, RFC 2794 §2: flags, lifetime, addresses, Identification, NAI, MHAE SPI."""
    messages = [rrq(flags=mask, exts=nai_mhae()) for _, mask in RRQ_FLAG_FIELDS]
    messages += [
        rrq(flags=0, exts=nai_mhae()),
        rrq(flags=0xFF, exts=nai_mhae("user@realm.example.org", 0xFFFFFFFF)),
        rrq(flags=0x2A, lifetime=0, exts=nai_mhae()),  # deregistration
        rrq(flags=0x02, lifetime=0xFFFF, exts=nai_mhae()),  # infinity
        rrq(ident=0, exts=nai_mhae()),
        rrq(ident=2**64 - 1, exts=nai_mhae()),
        rrq(ident=0x0123456789ABCDEF, exts=nai_mhae()),
        rrq(home="0.0.0.0", exts=nai_mhae("a" * 200 + "@example.com")),
        rrq(exts=[AuthExtension(MHAE, 1, bytes(12))]),  # truncated-HMAC sized authenticator
        rrq(exts=[AuthExtension(MHAE, 1, b"")]),
    ]
    check_batch(tmp_path, messages, registration_frames(messages), check_registration)


def test_requests_relayed_by_fa_with_mfae_fhae(tshark, tmp_path):
    """RFC 5944 §3.5.3-3.5.4, §3.6.1.3, RFC 3012 §4-6, RFC 3024 §3.3: MFAE, FHAE, challenge, MN-AAA, encap."""
    auth = bytes(range(0x10, 0x20))
    messages = [
        rrq(exts=nai_mhae() + [AuthExtension(FHAE, 0x300, auth)]),
        rrq(exts=nai_mhae() + [AuthExtension(MFAE, 0x200, auth)]),
        rrq(flags=0x02, exts=nai_mhae() + [EncapDeliveryExtension(), ChallengeExtension(b"\x01\x02\x03\x04"),
                                           AuthExtension(MFAE, 0x200, auth), AuthExtension(FHAE, 0x300, auth)]),
        rrq(exts=[NAIExtension("mn@example.com"), ChallengeExtension(bytes(range(32))),
                  GenAuthExtension(1, 0x100, auth)]),
        rrq(exts=[NAIExtension("mn@example.com"), GenAuthExtension(1, 2, bytes(300))]),
        rrq(exts=[UnknownExtension(t, bytes([t]) * 3) for t in TSHARK_RAW_SKIPPABLE] + nai_mhae()),
    ]
    check_batch(tmp_path, messages, registration_frames(messages), check_registration)


REPLY_CODES = [0, 1, 64, 65, 66, 67, 68, 69, 70, 71, 72, 77, 78, 80, 81, 82, 88, 96, 97, 98, 99,
               104, 105, 106, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 194]


def test_replies_with_codes(tshark, tmp_path):
    """RFC 5944 §3.4 (code table, 194 from App. F; tshark labels 194 Unknown but decodes the value)."""
    messages = [RegistrationReply(code, 600 if code < 2 else 0, HOME, HA, NTP_ID + code,
                                  [AuthExtension(MHAE, 0x100, bytes(16))]) for code in REPLY_CODES]
    messages.append(RegistrationReply(0, 0xFFFF, HOME, HA, 2**64 - 1, [AuthExtension(FHAE, 9, b"\xff" * 16)]))
    messages.append(RegistrationReply(133, 0, HOME, HA, 0x5F000000_12345678, []))
    check_batch(tmp_path, messages, registration_frames(messages), check_registration)


def test_udp_tunnel_request_and_reply(tshark, tmp_path):
    """RFC 3519 §3.1-3.2 (incl. §3.1.3 Reserved 3 != 0 kept as an unknown skippable extension)."""
    messages = []
    for force in (False, True):
        for via_fa in (False, True):
            for encap in (0, 4, 47, 55):
                exts = [NAIExtension("mn@example.com"), UDPTunnelRequest(encap, force, via_fa),
                        AuthExtension(MHAE, 0x100, bytes(16))]
                messages.append(rrq(flags=0x22, exts=exts))
    messages.append(rrq(flags=0x22, exts=[UnknownExtension(144, bytes.fromhex("00 00 80 04 0001")),
                                          AuthExtension(MHAE, 0x100, bytes(16))]))
    for code, keepalive, forced in [(0, 110, True), (0, 0, False), (63, 1, False), (64, 0, False), (255, 0xFFFF, True)]:
        messages.append(RegistrationReply(0, 1800, HOME, HA, NTP_ID,
                                          [UDPTunnelReply(code, keepalive, forced), AuthExtension(MHAE, 1, bytes(16))]))
    check_batch(tmp_path, messages, registration_frames(messages), check_registration)


def _random_extension(rng: random.Random):
    kind = rng.randrange(9)
    auth = rng.randbytes(rng.choice([0, 4, 12, 16, 20, rng.randrange(200)]))
    if kind == 0:
        return AuthExtension(rng.choice([MHAE, MFAE, FHAE]), rng.getrandbits(32), auth)
    if kind == 1:
        return GenAuthExtension(rng.randrange(256), rng.getrandbits(32), rng.randbytes(rng.randrange(400)))
    if kind == 2:
        alphabet = string.ascii_letters + string.digits + ".-_@"
        return NAIExtension("".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 120))))
    if kind == 3:
        return ChallengeExtension(rng.randbytes(rng.randrange(1, 255)))
    if kind == 4:
        return EncapDeliveryExtension()
    if kind == 5:
        return UDPTunnelRequest(rng.randrange(256), rng.random() < 0.5, rng.random() < 0.5)
    if kind == 6:
        return UDPTunnelReply(rng.randrange(256), rng.randrange(65536), rng.random() < 0.5)
    return UnknownExtension(rng.choice(TSHARK_RAW_SKIPPABLE), rng.randbytes(rng.randrange(40)))


def _random_address(rng: random.Random) -> str:
    return socket.inet_ntoa(rng.randbytes(4))


def test_random_registrations(tshark, tmp_path):
    """RFC 5944 §3.3-3.5 and extensions: 80 seeded random requests and replies decoded identically by tshark."""
    rng = random.Random(5944)
    messages = []
    for _ in range(80):
        exts = [_random_extension(rng) for _ in range(rng.randrange(6))]
        ident = rng.getrandbits(64)
        if rng.random() < 0.5:
            messages.append(RegistrationRequest(rng.randrange(256), rng.randrange(65536), _random_address(rng),
                                                _random_address(rng), _random_address(rng), ident, exts))
        else:
            messages.append(RegistrationReply(rng.randrange(256), rng.randrange(65536), _random_address(rng),
                                              _random_address(rng), ident, exts))
    check_batch(tmp_path, messages, registration_frames(messages), check_registration)


# --- ICMP ------------------------------------------------------------------------------------


def check_icmp(d: Dissection, msg: AgentAdvertisement | AgentSolicitation | bytes) -> None:
    assert not d.malformed, msg
    assert d.one("icmp.checksum.status") == "1"  # tshark verified our checksum
    if isinstance(msg, bytes):  # hand-built frame: compare with what we decode from it
        msg = icmp.decode(msg)
    if isinstance(msg, AgentSolicitation):
        assert (d.one("icmp.type"), d.one("icmp.code")) == ("10", "0")
        return
    assert d.one("icmp.type") == "9"
    assert d.one("icmp.code") == str(msg.code)
    assert d.one("icmp.num_addrs") == str(len(msg.routers))
    assert d.one("icmp.addr_entry_size") == "2"
    assert d.one("icmp.lifetime") == str(msg.lifetime)
    assert d.all("icmp.router_address") == [a for a, _ in msg.routers]
    assert d.all("icmp.pref_level") == [str(p) for _, p in msg.routers]
    ext_types, ext_lengths = [], []
    if msg.is_agent:
        ext_types.append("16")
        ext_lengths.append(str(6 + 4 * len(msg.care_of_addresses)))
        assert d.one("icmp.mip.seq") == str(msg.sequence)
        assert d.one("icmp.mip.life") == str(msg.registration_lifetime)
        assert d.one("icmp.mip.flags") == f"0x{msg.flags:04x}"
        for name, mask in ADV_FLAG_FIELDS:
            assert d.one(name) == bit(msg.flags, mask), name
        # no I field in tshark 4.0: the I bit (0x0020) and the real reserved bits show as Reserved
        assert d.one("icmp.mip.reserved") == f"0x{msg.flags & 0x003F:04x}"
        assert d.all("icmp.mip.coa") == msg.care_of_addresses
    else:
        assert d.all("icmp.mip.flags") == []
    if msg.prefix_lengths is not None:
        ext_types.append("19")
        ext_lengths.append(str(len(msg.prefix_lengths)))
        assert d.all("icmp.mip.prefixlength") == [str(p) for p in msg.prefix_lengths]
    if msg.challenge is not None:
        ext_types.append("24")
        ext_lengths.append(str(len(msg.challenge)))
        assert d.one("icmp.mip.challenge") == colon_hex(msg.challenge)
    # padding (type 0) carries no Length, which tshark shows as just the type
    assert [t for t in d.all("icmp.mip.type") if t != "0"] == ext_types
    assert d.all("icmp.mip.length") == ext_lengths


def adv(flags: int = 0x1000, coas: tuple = ("192.0.2.5",), routers: tuple = (), code: int = 16, **kw):
    return AgentAdvertisement(kw.pop("lifetime", 1800), kw.pop("sequence", 7), kw.pop("registration_lifetime", 600),
                              flags, list(coas), list(routers), code, **kw)


def test_advertisements_and_solicitation(tshark, tmp_path):
    """RFC 5944 §2.1-2.2, App. F, RFC 3012 §2: type 9 code 0/16, routers, ext 16 flags + CoAs, 19, 24; type 10."""
    messages: list = [adv(flags=mask | 0x1000) for _, mask in ADV_FLAG_FIELDS]
    messages += [
        adv(flags=icmp.ADV_I | icmp.ADV_F),
        adv(flags=0xFFE0, coas=("192.0.2.5", "192.0.2.6", "198.51.100.1")),  # R B H F M G r T U X I
        adv(flags=0x2000, coas=(), code=0, routers=(("10.0.0.1", 0),)),  # home agent only
        adv(flags=0x9100, routers=(("10.0.0.1", 0), ("10.0.0.2", -5), ("10.0.0.3", 2**31 - 1)),
            prefix_lengths=[24, 16, 32]),
        adv(flags=0x1000, routers=(("10.0.0.1", -(2**31)),), prefix_lengths=[24], challenge=bytes(range(16))),
        adv(flags=0x1000, challenge=b"\xde\xad\xbe\xef", sequence=0xFFFF, registration_lifetime=0xFFFF),
        adv(flags=0x1000, sequence=256, lifetime=0, code=0),
        AgentAdvertisement(1800, routers=[("10.0.0.1", 1)], code=0, is_agent=False),
        AgentSolicitation(),
    ]
    frames = [icmp_frame(m.encode()) for m in messages]
    # RFC 5944 §2.1.3: a hand-padded advertisement (odd length made even), which tshark also knows
    padded = with_icmp_checksum(bytes.fromhex("09 10 0000 01 02 0708 0a000001 00000000"
                                              "10 0a 0001 0258 1000 c0000205 13 01 18 00"))
    messages.append(padded)
    frames.append(icmp_frame(padded))
    check_batch(tmp_path, messages, frames, check_icmp)
