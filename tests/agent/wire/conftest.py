"""Fixtures for the wire codec tests (helpers live in wire_helpers.py)."""

from __future__ import annotations

import pytest
from wire_helpers import TSHARK


@pytest.fixture
def tshark() -> str:
    """Path of the tshark binary; the test is skipped (with the reason) when it is missing."""
    if TSHARK is None:
        pytest.skip("tshark not installed (Debian package 'tshark'): the independent-decoder oracle is skipped")
    return TSHARK
