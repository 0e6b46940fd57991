"""Fixtures for the integration tests: the netns Mobile IP lab of mobilelab.py with real daemons.

`mobile_lab` (module-scoped) builds the topology and starts HA, FA1, FA2 and the MN (at home)
once per module; `lab` hands it to one test, restarting any daemon a previous test stopped or
killed and stopping the test's traffic afterwards. Every namespace, process and file is removed
when the module ends, also after failures.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mobilelab import Lab, require_lab_tools


@pytest.fixture(scope="module")
def mobile_lab() -> Iterator[Lab]:
    require_lab_tools()
    lab = Lab()
    try:
        lab.attach_mn("home")
        lab.start_daemons()
        lab.wait_registered("home")
        yield lab
    finally:
        lab.close()


@pytest.fixture
def lab(mobile_lab: Lab) -> Iterator[Lab]:
    mobile_lab.start_daemons()  # only those a previous test stopped
    try:
        yield mobile_lab
    finally:
        mobile_lab.stop_flows()
