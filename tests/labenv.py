"""What the collection's tests share: the collection importable by its name, and lab preconditions.

The collection's code imports itself as ``ansible_collections.netmobility.mobileip``. Tests that
only import it use a symlink to this checkout (`linked_collections`); tests that run playbooks
installing the agent use a frozen copy (`frozen_collections`): the agent role installs a wheel of
the agent's sources and reinstalls (and restarts mipd) when they change, so edits in the working
tree during a run would show up as changes where a test expects none.

Imported as ``labenv`` (pytest.ini puts tests/ on sys.path; scripts outside pytest add it).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
_COPY_IGNORES = shutil.ignore_patterns(".git", ".venv", "build", ".hypothesis", ".pytest_cache", ".ruff_cache",
                                       "__pycache__", "*.egg-info", "output")


def _collection_dir(prefix: str) -> tuple[Path, Path]:
    top = Path(tempfile.mkdtemp(prefix=prefix))
    (top / "ansible_collections" / "netmobility").mkdir(parents=True)
    return top, top / "ansible_collections" / "netmobility" / "mobileip"


def linked_collections(prefix: str) -> Path:
    """A collections root whose netmobility.mobileip is this checkout (a symlink, removed at exit), or
    the checkout's own root when it already sits in one (ansible-test's copy)."""
    if ROOT.parent.name == "netmobility" and ROOT.parent.parent.name == "ansible_collections":
        return ROOT.parents[2]
    top, collection = _collection_dir(prefix)
    atexit.register(shutil.rmtree, top, True)
    collection.symlink_to(ROOT)
    return top


def frozen_collections(prefix: str) -> Path:
    """A collections root holding a copy of this checkout as netmobility.mobileip. The caller removes it."""
    top, collection = _collection_dir(prefix)
    shutil.copytree(ROOT, collection, symlinks=True, ignore=_COPY_IGNORES)
    return top


def importable(collections: Path) -> None:
    """Put a collections root on sys.path (once)."""
    if str(collections) not in sys.path:
        sys.path.insert(0, str(collections))


def lab_unavailable(*tools: str) -> str | None:
    """Why the namespace lab with sshd cannot be driven by ansible-playbook here (and `tools` are
    missing), or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not (VENV_BIN / "ansible-playbook").exists():
        return "ansible-core is not installed"
    if not Path("/usr/sbin/sshd").exists():
        return "openssh-server is not installed"
    for tool in tools:
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = subprocess.run(["/usr/bin/python3", "-c", "import yaml, venv, ensurepip"], capture_output=True, check=False)
    if probe.returncode != 0:
        return "the lab hosts' /usr/bin/python3 lacks python3-yaml or python3-venv"
    return None


def free_network(base: str, low: int, high: int) -> str:
    """A `base`.N.0/24 (low <= N <= high, starting at a place picked by the process id) that no address
    or route of the root namespace uses: a lab's management network that collides with nothing."""
    used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=False).stdout
    used += subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=False).stdout
    span = high - low + 1
    start = os.getpid() % span
    for i in range(span):
        n = low + (start + i) % span
        if f"{base}.{n}." not in used:
            return f"{base}.{n}.0/24"
    raise RuntimeError(f"no free {base}.N.0/24 ({low} <= N <= {high}) for a lab's management network")
