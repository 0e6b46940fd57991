"""Mobility security associations carried in RADIUS: the Cisco ``mobileip`` AV-pair form.

An AAA server that holds a mobile node's SA (RFC 5944 §3.5, §5.1) returns it in Cisco-AVPair
(vendor 9, attribute 1) values, one per SPI (several during a key rotation), as Cisco IOS home
agents read them (``aaa authorization ipmobile``, ``ip mobile host ... aaa load-sa``)::

    mobileip:spi#0=spi 256 key hex 00112233445566778899aabbccddeeff algorithm hmac-md5 replay timestamp within 7
    mobileip:spi#1=spi 257 key hex ... algorithm md5 mode prefix-suffix replay timestamp within 7

Words: ``spi N`` (256-4294967295, RFC 5944 §1.6), ``key hex HEX`` or ``key ascii TEXT``,
``algorithm hmac-md5`` (RFC 5944 §5.1, the default) or ``algorithm md5 [mode prefix-suffix]``
(keyed MD5, key || data || key), ``replay timestamp [within SECONDS]`` (§5.7.1; the window
defaults to 7 s). The parser is strict: an unknown word, a missing or repeated one, a duplicate
``spi#N`` or SPI refuses the whole reply. Errors name the AV-pair and the word, never the key
(nor any other word of the value: a key could sit in the wrong place).
"""

from __future__ import annotations

import re

from mipd.security.algorithms import HMAC_MD5, MD5_PREFIX_SUFFIX
from mipd.security.associations import DEFAULT_REPLAY_WINDOW, SPI_MAX, SPI_MIN, SecurityAssociation
from mipd.security.keys import parse_key

PREFIX = "mobileip:spi#"
_HEAD = re.compile(r"mobileip:spi#(\d{1,3})=(.*)", re.DOTALL)
_ALGORITHMS = {
    ("hmac-md5", None): HMAC_MD5,
    ("md5", None): MD5_PREFIX_SUFFIX,
    ("md5", "prefix-suffix"): MD5_PREFIX_SUFFIX,
}
_WORDS = {"spi": 1, "key": 2, "algorithm": 1, "mode": 1, "replay": 1, "within": 1}  # word -> values after it


class AvPairError(ValueError):
    """An SA AV-pair that does not parse; the message never holds key material."""


def is_sa_avpair(value: str) -> bool:
    """Does this Cisco-AVPair value claim to carry a mobile IP SA (so it must parse)?"""
    return value.startswith(PREFIX)


def parse_sa_avpairs(peer: str, values: list[str]) -> list[SecurityAssociation]:
    """The SAs with `peer` in these Cisco-AVPair values (others, not ``mobileip:spi#``, are ignored).

    Raises AvPairError when one of them is malformed or none carries an SA.
    """
    sas: list[SecurityAssociation] = []
    indexes: set[int] = set()
    for value in values:
        if not is_sa_avpair(value):
            continue
        head = _HEAD.fullmatch(value)
        if head is None:
            raise AvPairError("mobileip:spi#N: N must be a number of 1-3 digits followed by '='")
        index = int(head.group(1))
        if index in indexes:
            raise AvPairError(f"spi#{index}: given twice")
        indexes.add(index)
        sa = _parse_one(peer, f"spi#{index}", head.group(2).split())
        if any(other.spi == sa.spi for other in sas):
            raise AvPairError(f"spi#{index}: SPI {sa.spi} is given twice")
        sas.append(sa)
    if not sas:
        raise AvPairError("no mobileip:spi#N Cisco-AVPair in the Access-Accept")
    return sas


def _parse_one(peer: str, where: str, words: list[str]) -> SecurityAssociation:
    fields: dict[str, list[str]] = {}
    i = 0
    while i < len(words):
        word = words[i].lower()
        take = _WORDS.get(word)
        if take is None:
            raise AvPairError(f"{where}: unexpected word #{i + 1} (expected one of {', '.join(_WORDS)})")
        if word in fields:
            raise AvPairError(f"{where}: '{word}' is given twice")
        if i + take >= len(words):
            raise AvPairError(f"{where}: '{word}' needs {take} value(s)")
        fields[word] = words[i + 1 : i + 1 + take]
        i += 1 + take
    for required in ("spi", "key"):
        if required not in fields:
            raise AvPairError(f"{where}: '{required}' is missing")
    spi_text = fields["spi"][0]
    if not spi_text.isdigit() or not SPI_MIN <= int(spi_text) <= SPI_MAX:
        raise AvPairError(f"{where}: spi must be a number {SPI_MIN}-{SPI_MAX} (0-255 are reserved, RFC 5944 §1.6)")
    form, key_text = fields["key"]
    if form.lower() not in ("hex", "ascii"):
        raise AvPairError(f"{where}: key must be 'key hex DIGITS' or 'key ascii TEXT'")
    try:
        key = parse_key(key_text, form.lower())
    except ValueError as e:
        raise AvPairError(f"{where}: {e}") from None  # parse_key never echoes the value
    algorithm = fields.get("algorithm", ["hmac-md5"])[0].lower()
    mode = fields["mode"][0].lower() if "mode" in fields else None
    chosen = _ALGORITHMS.get((algorithm, mode))
    if chosen is None:
        raise AvPairError(f"{where}: algorithm must be 'hmac-md5' or 'md5 [mode prefix-suffix]'")
    window = DEFAULT_REPLAY_WINDOW
    if "replay" in fields and fields["replay"][0].lower() != "timestamp":
        raise AvPairError(f"{where}: replay must be 'timestamp' (RFC 5944 §5.7.1)")
    if "within" in fields:
        if "replay" not in fields:
            raise AvPairError(f"{where}: 'within' belongs to 'replay timestamp within SECONDS'")
        text = fields["within"][0]
        if not text.isdigit() or not 0 < int(text) <= 3600:
            raise AvPairError(f"{where}: replay window must be 1-3600 seconds")
        window = int(text)
    return SecurityAssociation(peer, int(spi_text), key, chosen, "timestamp", window)
