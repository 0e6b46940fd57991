"""Key material: parsing from configuration, and never showing it (RFC 5944 §5.1).

RFC 5944 §5.1: keys with arbitrary binary values MUST be supported, so a key is bytes; on
input it is given either as hex (the form Cisco recommends for interoperability) or as an
ASCII string.
"""

from __future__ import annotations

import hashlib
import re

KEY_FORMS = ("hex", "ascii")
MAX_KEY_LEN = 256
_HEX = re.compile(r"(?:0[xX])?((?:[0-9a-fA-F]{2})+)")  # whole value: fullmatch, not match + $


def parse_key(value: str, form: str = "hex") -> bytes:
    """Bytes of a key written in `form` ("hex" or "ascii"). Errors never echo the value."""
    if form not in KEY_FORMS:
        raise ValueError(f"key form must be one of {', '.join(KEY_FORMS)}, got {form!r}")
    if not isinstance(value, str) or not value:
        raise ValueError("key must be a non-empty string")
    if form == "hex":
        digits = _HEX.fullmatch(value)
        if digits is None:
            raise ValueError("hex key must be an even number of hex digits (optionally prefixed 0x)")
        key = bytes.fromhex(digits.group(1))
    else:
        try:
            key = value.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError("ascii key contains non-ASCII characters") from None
    if len(key) > MAX_KEY_LEN:
        raise ValueError(f"key is {len(key)} bytes, at most {MAX_KEY_LEN} allowed")
    return key


def fingerprint(key: bytes) -> str:
    """A short non-reversible tag to tell keys apart in output without showing them."""
    return "sha256:" + hashlib.sha256(b"mipd-key-fingerprint\x00" + key).hexdigest()[:12]
