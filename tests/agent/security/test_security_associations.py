"""Mobility security associations and key parsing (RFC 5944 §1.6, §3.5.1, §5.1, §5.7; RFC 3012 §7)."""

from __future__ import annotations

import pytest
from mipd.security import (
    HMAC_MD5,
    SPI_MIN,
    SecurityAssociation,
    SecurityAssociations,
    parse_key,
)
from mipd.security.associations import SPI_MAX
from security_helpers import SAMPLE_KEYS

KEY = bytes.fromhex("8f3a61d2c4b7e9005a1c77e3d2b04f96")


def sa(**kw) -> SecurityAssociation:
    fields = dict(peer="10.1.1.10", spi=0x100, key=KEY)
    fields.update(kw)
    return SecurityAssociation(**fields)


def key_renderings(key: bytes) -> list[str]:
    """Every way a key could leak into text: hex either case, Python bytes repr, the ASCII itself."""
    forms = [key.hex(), key.hex().upper(), repr(key), str(key), key.hex(" ")]
    if key.isascii():
        forms.append(key.decode())
    return forms


def assert_no_key(text: str, key: bytes) -> None:
    for form in key_renderings(key):
        assert form not in text, f"key leaked as {form!r}"


# --------------------------------------------------------------------------------------------
# Validation


def test_defaults_are_the_rfc_defaults() -> None:
    """RFC 5944 §3.5.1 (HMAC-MD5 default), §5.7 (timestamps mandatory), §5.7.1 (7 s window);
    algorithm fallback is off unless configured."""
    s = sa()
    assert (s.algorithm, s.replay, s.replay_window, s.fallback) == (HMAC_MD5, "timestamp", 7, False)


@pytest.mark.parametrize("spi", [0, 1, 100, 255])
def test_reserved_spi_is_refused(spi: int) -> None:
    """RFC 5944 §1.6 and RFC 3012 §7: SPI values 0 through 255 are reserved and MUST NOT be used."""
    with pytest.raises(ValueError, match=r"^spi\b") as err:
        sa(spi=spi)
    assert_no_key(str(err.value), KEY)


@pytest.mark.parametrize("spi", [-1, 2**32, True, "256", 256.0, None])
def test_spi_outside_32_bits_or_not_an_integer_is_refused(spi: object) -> None:
    """RFC 5944 §3.5.2: the SPI is a 4-byte field."""
    with pytest.raises(ValueError, match=r"^spi\b"):
        sa(spi=spi)


@pytest.mark.parametrize("spi", [SPI_MIN, 256, 0x1234, SPI_MAX, 0xFFFFFFFF])
def test_any_unreserved_spi_is_accepted(spi: int) -> None:
    """RFC 5944 §3.5.1: an implementation MUST be able to associate any SPI value with any algorithm."""
    assert sa(spi=spi).spi == spi


@pytest.mark.parametrize("key", [b"", "a string key", None, bytearray(b"mutable")])
def test_key_must_be_non_empty_bytes(key: object) -> None:
    """RFC 5944 §5.1: keys with arbitrary binary values MUST be supported: a key is bytes, never empty."""
    with pytest.raises(ValueError, match=r"^key\b") as err:
        sa(key=key)
    assert "a string key" not in str(err.value) and "mutable" not in str(err.value)


@pytest.mark.parametrize("key", [b"\x00", b"\x00" * 16, bytes(range(256))])
def test_arbitrary_binary_keys_are_accepted(key: bytes) -> None:
    """RFC 5944 §5.1: keys with arbitrary binary values MUST be supported."""
    assert sa(key=key).key == key


@pytest.mark.parametrize("algorithm", ["sha1", "HMAC-MD5", "md5", ""])
def test_unknown_algorithm_is_refused(algorithm: str) -> None:
    """RFC 5944 §3.5.1: the SPI selects an algorithm the implementation implements."""
    with pytest.raises(ValueError, match=r"^algorithm\b") as err:
        sa(algorithm=algorithm)
    assert_no_key(str(err.value), KEY)


@pytest.mark.parametrize("replay", ["timestamps", "nonces", "", "NONE"])
def test_unknown_replay_method_is_refused(replay: str) -> None:
    """RFC 5944 §5.7: the replay protection style is part of the SA: timestamp, nonce (or none)."""
    with pytest.raises(ValueError, match=r"^replay\b") as err:
        sa(replay=replay)
    assert_no_key(str(err.value), KEY)


@pytest.mark.parametrize("window", [0, -7, 3601, 7.5, True, "7"])
def test_bad_replay_window_is_refused(window: object) -> None:
    """RFC 5944 §5.7.1: the time tolerance is a whole number of seconds (7 by default, SHOULD be
    more than 3); a YAML `yes` must not silently become 1 s."""
    with pytest.raises(ValueError, match=r"^replay_window\b") as err:
        sa(replay_window=window)
    assert_no_key(str(err.value), KEY)


def test_empty_peer_is_refused() -> None:
    """RFC 5944 §1.6: an SA is between a pair of nodes; the peer (address or NAI, RFC 2794) is required."""
    with pytest.raises(ValueError, match=r"^peer\b"):
        sa(peer="")


# --------------------------------------------------------------------------------------------
# Keys never shown


@pytest.mark.parametrize("key", SAMPLE_KEYS, ids=lambda k: k.hex()[:8])
def test_repr_and_str_never_show_the_key(key: bytes) -> None:
    """RFC 5944 §5.3-5.4: the key must stay secret; repr, str, format and containers show a
    fingerprint only."""
    s = sa(key=key, peer="alice@example.net")
    for text in (repr(s), str(s), f"{s}", f"{s!r}", repr([s]), str({"sa": s})):
        assert_no_key(text, key)
        assert "alice@example.net" in text and "spi=256" in text


def test_fingerprints_tell_keys_apart() -> None:
    """RFC 5944 §5.3: operators must be able to tell which key an SA has without seeing it."""
    texts = {repr(sa(key=k)) for k in SAMPLE_KEYS}
    assert len(texts) == len(SAMPLE_KEYS)
    assert repr(sa(key=KEY)) == repr(sa(key=bytes(KEY)))


# --------------------------------------------------------------------------------------------
# The set of SAs


def test_duplicate_peer_and_spi_is_refused() -> None:
    """RFC 5944 §3.5.1: the SPI identifies one security context with a peer: (peer, SPI) is unique."""
    sas = SecurityAssociations([sa()])
    with pytest.raises(ValueError, match=r"^spi\b") as err:
        sas.add(sa(key=b"another key entirely", algorithm="md5-prefix-suffix"))
    assert_no_key(str(err.value), b"another key entirely")
    assert_no_key(str(err.value), KEY)
    assert len(sas) == 1 and sas.get("10.1.1.10", 0x100).key == KEY
    with pytest.raises(ValueError, match=r"^spi\b"):
        SecurityAssociations([sa(), sa()])


def test_several_spis_per_peer_in_the_order_added() -> None:
    """RFC 5944 §1.6: a Mobility Security Association holds several contexts, each named by an
    SPI (key rotation keeps old and new at once); the newest is the last one added."""
    new, old, older = sa(spi=0x300, key=b"k3"), sa(spi=0x100, key=b"k1"), sa(spi=0x200, key=b"k2")
    other_peer_same_spi = sa(peer="10.1.1.11", spi=0x100, key=b"k4")
    sas = SecurityAssociations([new, old, other_peer_same_spi])
    sas.add(older)
    assert sas.for_peer("10.1.1.10") == [new, old, older]
    assert sas.for_peer("10.1.1.11") == [other_peer_same_spi]
    assert sas.get("10.1.1.10", 0x200) == older and sas.get("10.1.1.11", 0x100) == other_peer_same_spi
    assert sas.get("10.1.1.10", 0x400) is None and sas.get("10.9.9.9", 0x100) is None
    assert sas.for_peer("10.9.9.9") == [] and not sas.has_peer("10.9.9.9") and sas.has_peer("10.1.1.11")
    assert len(sas) == 4 and set(sas) == {new, old, older, other_peer_same_spi}


def test_for_peer_cannot_change_the_set() -> None:
    """RFC 5944 §3.5.1: SA lookup by (peer, SPI) and by peer must agree; a caller editing the
    returned list must not create an SA that get() does not know."""
    sas = SecurityAssociations([sa()])
    sas.for_peer("10.1.1.10").append(sa(spi=0x999))
    sas.for_peer("10.9.9.9").append(sa(peer="10.9.9.9"))
    assert sas.for_peer("10.1.1.10") == [sa()] and not sas.has_peer("10.9.9.9")


# --------------------------------------------------------------------------------------------
# parse_key


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("000102030405060708090a0b0c0d0e0f", bytes(range(16))),
        ("0x000102030405060708090A0B0C0D0E0F", bytes(range(16))),
        ("0X8F3A61D2", bytes.fromhex("8f3a61d2")),
        ("00", b"\x00"),
    ],
)
def test_parse_hex_key(text: str, key: bytes) -> None:
    """RFC 5944 §5.1: arbitrary binary keys, written as hex with or without 0x (either case)."""
    assert parse_key(text) == key
    assert parse_key(text, "hex") == key


@pytest.mark.parametrize(
    "text",
    ["deadbeefcafe1", "0xdeadbeefcafe1", "deadbeefcafez0", "0xg00dcafe", "dead beef", "deadbeef\n",
     " deadbeef", "0x", "x0deadbeef", "deadbeef0x", "dead-beef", "٠١٢٣"],
)
def test_parse_hex_key_refuses_odd_or_non_hex_without_echoing(text: str) -> None:
    """RFC 5944 §5.1: a hex key is whole bytes of hex digits; the error never repeats the value."""
    with pytest.raises(ValueError, match="hex") as err:
        parse_key(text)
    if len(text.strip()) > 2:  # "0x" itself is part of the message's own wording
        assert text.strip() not in str(err.value)


@pytest.mark.parametrize("text", ["correct horse battery staple", "0x1234", "s3cr3t!", " padded "])
def test_parse_ascii_key(text: str) -> None:
    """RFC 5944 §5.1: a key may also be configured as an ASCII string, taken byte for byte."""
    assert parse_key(text, "ascii") == text.encode("ascii")


@pytest.mark.parametrize(
    ("text", "form"),
    [("pässwörd-secret", "ascii"), ("", "hex"), ("", "ascii"), ("ab" * 257, "hex"), ("z" * 257, "ascii"),
     ("secret-value", "base64")],
)
def test_parse_key_errors_never_echo_the_value(text: str, form: str) -> None:
    """RFC 5944 §5.1 and §5.3: bad key input is refused and the message never contains the key."""
    with pytest.raises(ValueError) as err:
        parse_key(text, form)
    if text:
        assert text not in str(err.value) and text[:8] not in str(err.value)


def test_parse_key_refuses_non_strings() -> None:
    """RFC 5944 §5.1: configured keys arrive as text (hex or ASCII); anything else is an error."""
    with pytest.raises(ValueError, match="key"):
        parse_key(b"0102")  # type: ignore[arg-type]
