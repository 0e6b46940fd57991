"""Authenticator algorithms (RFC 5944 §3.5.1, §5.1; RFC 2002 §3.5.1; RFC 3012 §6).

Three variants are in the field and each SA names one:

- ``hmac-md5`` (RFC 5944 default, RFC 2104): HMAC-MD5(key, protected data), where the protected
  data is the UDP payload up to and including this extension's Type, Length and SPI.
- ``md5-prefix-suffix``: MD5(key || same data || key), keyed MD5 as Solaris mipagent and
  Cisco's ``md5`` mode compute it (SPI included).
- ``rfc2002-md5``: MD5(key || data || key) where the data stops after Type and Length,
  excluding the SPI, as RFC 2002 §3.5.1 literally says.
"""

from __future__ import annotations

from collections.abc import Callable

try:  # CPython's built-in MD5 is several times faster per call than OpenSSL 3's EVP fetch path
    from _md5 import md5 as _md5
except ImportError:  # pragma: no cover - other interpreters
    from hashlib import md5 as _md5

HMAC_MD5 = "hmac-md5"
MD5_PREFIX_SUFFIX = "md5-prefix-suffix"
RFC2002_MD5 = "rfc2002-md5"
ALGORITHMS = (HMAC_MD5, MD5_PREFIX_SUFFIX, RFC2002_MD5)

AUTHENTICATOR_LEN = 16  # all three produce a 128-bit authenticator

_BLOCK = 64  # MD5 block size (RFC 2104 §2)
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))

Mac = Callable[[bytes], bytes]


def mac(algorithm: str, key: bytes) -> Mac:
    """A function computing `algorithm`'s authenticator under `key`, with the key schedule done once.

    HMAC-MD5 keeps the inner and outer pad states (RFC 2104 §4, "precomputed" variant), so each
    message costs two MD5 state copies instead of a fresh HMAC context.
    """
    if algorithm == HMAC_MD5:
        block_key = _md5(key).digest() if len(key) > _BLOCK else key
        block_key = block_key.ljust(_BLOCK, b"\0")
        inner, outer = _md5(block_key.translate(_IPAD)), _md5(block_key.translate(_OPAD))

        def hmac_md5(data: bytes) -> bytes:
            inner_hash = inner.copy()
            inner_hash.update(data)
            outer_hash = outer.copy()
            outer_hash.update(inner_hash.digest())
            return outer_hash.digest()

        return hmac_md5
    if algorithm == MD5_PREFIX_SUFFIX or algorithm == RFC2002_MD5:
        prefix = _md5(key)

        def keyed_md5(data: bytes) -> bytes:
            hasher = prefix.copy()
            hasher.update(data + key)
            return hasher.digest()

        return keyed_md5
    raise ValueError(f"unknown authentication algorithm {algorithm!r}")


def compute(algorithm: str, key: bytes, data: bytes) -> bytes:
    """The authenticator of `data` (already cut to what `algorithm` protects)."""
    return mac(algorithm, key)(data)


def protected_length(algorithm: str, ext_offset: int, header_len: int) -> int:
    """How many bytes of the message the authenticator of the extension at `ext_offset` covers.

    `header_len` is the extension's header up to and including the SPI (6 for the short
    MHAE/MFAE/FHAE format, 8 for the long Generalized Authentication format). RFC 2002 keyed
    MD5 stops after Type and Length (§3.5.1 of RFC 2002).
    """
    if algorithm == RFC2002_MD5:
        return ext_offset + 2
    return ext_offset + header_len
