# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Key material: checking it, comparing it, and never showing it (RFC 5944 §5.1).

Same forms and fingerprint as the agent (mipd.security.keys), so a fingerprint the collection
reports matches the one `mipctl` prints. Errors never echo a key.
"""

from __future__ import annotations

import hashlib
import re

from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError

KEY_FORMATS = ("hex", "ascii")
MIN_KEY_BYTES = 16  # RFC 5944 §5.1: HMAC-MD5 with 128-bit keys; shorter keys are refused
MAX_KEY_BYTES = 256  # the agent's limit
MASK = "********"
_HEX = re.compile(r"(?:0[xX])?((?:[0-9a-fA-F]{2})+)")


def key_bytes(value: object, key_format: str, path: str) -> bytes:
    """The bytes of a key written in `key_format`; ModelError naming `path` (never the value)."""
    if not isinstance(value, str) or not value:
        raise ModelError(path, "must be a non-empty string")
    if key_format == "hex":
        digits = _HEX.fullmatch(value)
        if digits is None:
            raise ModelError(path, "a hex key must be an even number of hex digits (optionally prefixed 0x)")
        key = bytes.fromhex(digits.group(1))
    else:
        try:
            key = value.encode("ascii")
        except UnicodeEncodeError:
            raise ModelError(path, "an ascii key must contain only ASCII characters") from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise ModelError(path, f"is {len(key)} bytes; {MIN_KEY_BYTES}-{MAX_KEY_BYTES} bytes are needed "
                         f"(RFC 5944 §5.1: 128-bit keys, e.g. 32 hex digits)")
    return key


def canonical_key(value: str, key_format: str, path: str) -> str:
    """The key as it is written to files: hex lower-case without 0x; ascii as given."""
    key = key_bytes(value, key_format, path)
    return key.hex() if key_format == "hex" else value


def fingerprint(value: str, key_format: str) -> str:
    """A short non-reversible tag of a key, equal to the agent's (mipd.security.keys.fingerprint)."""
    return key_fingerprint(key_bytes(value, key_format, "key"))


def key_fingerprint(key: bytes) -> str:
    """The fingerprint of a key's bytes, of any length (a router may hold a key the model refuses)."""
    return "sha256:" + hashlib.sha256(b"mipd-key-fingerprint\x00" + key).hexdigest()[:12]
