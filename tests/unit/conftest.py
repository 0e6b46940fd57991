"""Fixtures for the collection's unit tests (helpers live in mobileip_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import mobileip_helpers as h
import pytest


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """Module options pointing at a temporary /etc/mipd (main file; the keys file is next to it)."""
    return {"config_path": str(tmp_path / "etc" / "mipd" / "mipd.yaml")}


@pytest.fixture
def mipd_bin() -> str:
    """The bin directory holding the project's own mipd and mipctl."""
    if not (h.VENV_BIN / "mipd").exists():
        pytest.skip("mipd is not installed in the project venv (./mip setup)")
    return str(h.VENV_BIN)
