"""The Cisco mobileip SA AV-pair parser (mipd.security.avpair): the forms IOS reads, strictness, no key in errors."""

from __future__ import annotations

import pytest
from mipd.security import HMAC_MD5, MD5_PREFIX_SUFFIX
from mipd.security.avpair import AvPairError, parse_sa_avpairs

KEY = "6d69706420726164697573206b657921"  # distinctive, so a leak is easy to spot
PEER = "10.1.0.10"


def test_the_cisco_forms_and_a_rotation():
    sas = parse_sa_avpairs(
        PEER,
        [
            "shell:priv-lvl=15",  # another Cisco-AVPair: ignored
            f"mobileip:spi#0=spi 256 key hex {KEY} algorithm hmac-md5 replay timestamp within 7",
            f"mobileip:spi#1=spi 257 key hex {KEY.upper()} algorithm md5 mode prefix-suffix replay timestamp within 10",
            "mobileip:spi#2=spi 258 key ascii secret-ascii-key algorithm md5",
        ],
    )
    assert [(sa.peer, sa.spi, sa.algorithm, sa.replay_window) for sa in sas] == [
        (PEER, 256, HMAC_MD5, 7),
        (PEER, 257, MD5_PREFIX_SUFFIX, 10),
        (PEER, 258, MD5_PREFIX_SUFFIX, 7),
    ]
    assert sas[0].key == bytes.fromhex(KEY) and sas[2].key == b"secret-ascii-key"


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (f"mobileip:spi#0=spi 255 key hex {KEY}", "spi must be a number 256-"),
        (f"mobileip:spi#0=spi 256 key hex {KEY}0", "even number of hex digits"),
        (f"mobileip:spi#0=spi 256 key hex {KEY} algorithm sha1", "algorithm must be"),
        (f"mobileip:spi#0=spi 256 key hex {KEY} algorithm md5 mode suffix", "algorithm must be"),
        (f"mobileip:spi#0=spi 256 key hex {KEY} replay nonce", "replay must be 'timestamp'"),
        (f"mobileip:spi#0=spi 256 key hex {KEY} replay timestamp within 0", "replay window"),
        (f"mobileip:spi#0=spi 256 key hex {KEY} spi 257", "'spi' is given twice"),
        (f"mobileip:spi#0=spi 256 {KEY}", "unexpected word #3"),
        ("mobileip:spi#0=spi 256", "'key' is missing"),
        (f"mobileip:spi#0=spi 256 key hex {KEY} algorithm", "needs 1 value"),
        (f"mobileip:spi#x=spi 256 key hex {KEY}", "N must be a number"),
        (f"mobileip:spi#0=key ascii {KEY} spi {KEY}", "spi must be a number"),
    ],
)
def test_malformed_values_are_refused_naming_the_word_never_the_key(value, error):
    with pytest.raises(AvPairError) as e:
        parse_sa_avpairs(PEER, [value])
    assert error in str(e.value)
    assert KEY not in str(e.value).lower() and KEY[:8] not in str(e.value).lower()


def test_duplicates_and_absence_are_refused():
    good = f"mobileip:spi#0=spi 256 key hex {KEY}"
    with pytest.raises(AvPairError, match="given twice"):
        parse_sa_avpairs(PEER, [good, good])
    with pytest.raises(AvPairError, match="SPI 256 is given twice"):
        parse_sa_avpairs(PEER, [good, good.replace("#0", "#1")])
    with pytest.raises(AvPairError, match="no mobileip:spi#N"):
        parse_sa_avpairs(PEER, ["shell:priv-lvl=15"])
