"""Fixtures of the data-plane tests (helpers in dataplane_helpers.py).

``netns`` gives a `Namespaces` whose finalizer removes every namespace and process the test
created, also when it fails; ``topology`` builds the CN - R - HA / FA - MN network in it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from dataplane_helpers import Namespaces, Topology, build_topology, purge_stale_namespaces


@pytest.fixture(scope="session")
def _stale_namespaces_purged() -> None:
    """Namespaces of an earlier, killed run of these tests go first."""
    if os.geteuid() == 0:
        purge_stale_namespaces()


@pytest.fixture
def netns(_stale_namespaces_purged: None) -> Iterator[Namespaces]:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    ns = Namespaces()
    try:
        yield ns
    finally:
        ns.cleanup()


@pytest.fixture
def topology(netns: Namespaces) -> Topology:
    return build_topology(netns)
