"""ruff over the collection's plugins and these tests (./mip's ruff run covers agent/, tests/, benchmarks/
and scripts/; this covers plugins/ too, with the per-file settings in ruff.toml)."""

from __future__ import annotations

import subprocess

import mobileip_helpers as h
import pytest


def test_ruff_clean():
    ruff = h.VENV_BIN / "ruff"
    if not ruff.exists():
        pytest.skip("ruff is not installed in the project venv (./mip setup)")
    r = subprocess.run([str(ruff), "check", "plugins", "tests/unit"], cwd=h.ROOT, capture_output=True, text=True,
                       check=False, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
