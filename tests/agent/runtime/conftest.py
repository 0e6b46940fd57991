"""Fixtures for the runtime tests (helpers live in runtime_helpers.py)."""

from __future__ import annotations

import pytest
import runtime_helpers as h


@pytest.fixture
def netns():
    """A fresh network namespace with loopback up, always deleted afterwards."""
    if not h.have_netns():
        pytest.skip("needs root and iproute2 to create network namespaces")
    ns = h.Netns()
    try:
        yield ns
    finally:
        ns.close()
