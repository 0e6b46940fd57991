"""ansible-test sanity on the collection, with no ignore file (scripts/ansible-test.sh sets up the
ansible_collections/netmobility/mobileip path and works offline). Slow: deselect with -m "not sanity"."""

from __future__ import annotations

import subprocess

import mobileip_helpers as h
import pytest

pytestmark = pytest.mark.sanity


def test_no_sanity_ignore_files():
    assert not list((h.ROOT / "tests" / "sanity").glob("ignore-*.txt")), "new content must not use ignore entries"


def test_ansible_test_sanity_passes():
    if not (h.VENV_BIN / "ansible-test").exists():
        pytest.skip("ansible-test is not installed in the project venv (./mip setup)")
    r = subprocess.run([str(h.ROOT / "scripts" / "ansible-test.sh"), "sanity"], capture_output=True, text=True,
                       check=False, timeout=3600)
    output = r.stdout + r.stderr
    assert r.returncode == 0, output[-6000:]
    assert 'Running sanity test "validate-modules"' in output and 'Running sanity test "pylint"' in output
    assert "ERROR:" not in output
