"""Structure-aware fuzzing of the decoders (issue 9): valid requests, replies, advertisements and
solicitations with bytes changed or flipped, truncated, extended with bytes or extensions, regions
inserted, deleted or repeated, extension lengths altered (tests/mipfuzz.py `mutate`). Every decoder
(registration.decode, decode_extensions from any offset, icmp.decode) raises only WireError or returns
a message that re-encodes consistently (RFC 5944 §1.9-1.11, §2.1, §3.3-3.4; the codec's promise in
mipd/wire/__init__.py). test_wire_robustness.py covers arbitrary bytes and TLV soup; benchmarks/fuzz.py
runs the same mutations a million times.
"""

from __future__ import annotations

import random

import mipfuzz
from hypothesis import given, settings
from hypothesis import strategies as st
from mipd.wire import WireError
from mipd.wire import registration as reg

# Bounded for the suite, reproducible (derandomized, no example database).
FUZZ = settings(max_examples=4000, deadline=None, derandomize=True, database=None)
randoms = st.randoms(use_true_random=False)


@FUZZ
@given(randoms)
def test_mutated_registrations_decode_or_raise_wire_error(rng: random.Random):
    """RFC 5944 §3.3-3.4, §1.9-1.11: a mutated request or reply is a WireError or a message whose
    raw bytes, extension offsets and re-encoding agree with the input."""
    data = mipfuzz.mutate(rng.choice(mipfuzz.sample_registrations(rng)), rng, reg.REQUEST_FIXED_LEN)
    assert mipfuzz.check_registration(data) is None, data.hex()


@FUZZ
@given(randoms, st.integers(0, 200))
def test_mutated_extensions_from_any_offset(rng: random.Random, start: int):
    """RFC 5944 §1.9-1.11: decode_extensions from any start offset raises only WireError, and what
    it returns encodes to extensions that decode to the same list."""
    data = mipfuzz.mutate(rng.choice(mipfuzz.sample_registrations(rng)), rng, reg.REQUEST_FIXED_LEN)
    assert mipfuzz.check_extensions(data, start) is None, (start, data.hex())


@FUZZ
@given(randoms, st.booleans())
def test_mutated_advertisements_and_solicitations(rng: random.Random, fix_checksum: bool):
    """RFC 5944 §2.1-2.2, RFC 1256 §3: mutated agent advertisements and solicitations (checksum
    recomputed or not) are a WireError or a message that decodes again from its own encoding."""
    data = mipfuzz.mutate(rng.choice(mipfuzz.sample_advertisements(rng)), rng, 16)
    if fix_checksum:
        data = mipfuzz.with_icmp_checksum(data)
    assert mipfuzz.check_icmp(data) is None, data.hex()


def test_mutations_reach_both_outcomes():
    """The fuzz is not vacuous: the mutations give decodable messages and WireErrors alike, and
    alter extension lengths (the most productive mutation) often enough."""
    rng = random.Random(9)
    decoded = errors = 0
    for _ in range(2000):
        data = mipfuzz.mutate(rng.choice(mipfuzz.sample_registrations(rng)), rng, reg.REQUEST_FIXED_LEN)
        try:
            reg.decode(data)
            decoded += 1
        except WireError:
            errors += 1
    assert decoded > 400 and errors > 400, (decoded, errors)


def test_checks_report_an_inconsistent_decoder(monkeypatch):
    """The consistency check can fail: a decoder that loses an extension is reported."""
    data = mipfuzz.sample_registrations(random.Random(1))[1]
    real = reg.decode

    def lossy(raw: bytes) -> reg.RegistrationRequest | reg.RegistrationReply:
        msg = real(raw)
        del msg.extensions[0]
        return msg

    monkeypatch.setattr(reg, "decode", lossy)
    assert mipfuzz.check_registration(data) is not None
