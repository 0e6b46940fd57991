"""Layer 2: security associations, authenticators and replay protection (RFC 5944 §3.5, §5).

Imports only `mipd.wire`. Keys are bytes and never appear in repr, logs or errors.
"""

from mipd.security.algorithms import ALGORITHMS, HMAC_MD5, MD5_PREFIX_SUFFIX, RFC2002_MD5
from mipd.security.associations import (
    REPLAY_METHODS,
    SPI_MIN,
    SecurityAssociation,
    sign,
    sign_mn_aaa,
    verify,
)
from mipd.security.keys import fingerprint, parse_key
from mipd.security.replay import ReplayState, next_request_id
from mipd.security.table import SecurityAssociations

__all__ = [
    "ALGORITHMS", "HMAC_MD5", "MD5_PREFIX_SUFFIX", "REPLAY_METHODS", "RFC2002_MD5", "SPI_MIN",
    "ReplayState", "SecurityAssociation", "SecurityAssociations", "fingerprint", "next_request_id",
    "parse_key", "sign", "sign_mn_aaa", "verify",
]
