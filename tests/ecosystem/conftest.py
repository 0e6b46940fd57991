"""What the ecosystem tests share: the collection's artifact, built once per session.

`collection_artifact` runs `ansible-galaxy collection build` on this checkout (galaxy.yml's
build_ignore applies) into a temporary directory and yields the tarball's path; the tests that
install it do so into collections paths of their own. Plain helpers live in ecosystem_support.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ecosystem_support import ROOT, galaxy, tool


@pytest.fixture(scope="session")
def collection_artifact(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The tarball `ansible-galaxy collection build` makes of this checkout."""
    out = tmp_path_factory.mktemp("artifact")
    proc = tool("ansible-galaxy", "collection", "build", "--output-path", str(out), str(ROOT), cwd=out)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    meta = galaxy()
    tarball = out / f"{meta['namespace']}-{meta['name']}-{meta['version']}.tar.gz"
    assert tarball.exists(), proc.stdout
    yield tarball


@pytest.fixture(scope="session")
def installed_collection(collection_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A collections path holding only the artifact, installed with `ansible-galaxy collection install` (run
    outside the checkout: its ansible.cfg would show the checkout's link as installed already)."""
    top = tmp_path_factory.mktemp("installed")
    proc = tool("ansible-galaxy", "collection", "install", str(collection_artifact), "-p", str(top), cwd=top)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (top / "ansible_collections" / "netmobility" / "mobileip" / "MANIFEST.json").exists()
    return top
