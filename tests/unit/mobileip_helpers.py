"""Shared helpers for the collection's unit tests (imported as `mobileip_helpers`).

The collection's code imports itself as `ansible_collections.netmobility.mobileip...`: a
temporary `ansible_collections/netmobility/mobileip` symlink to this checkout is put on
sys.path (and on PYTHONPATH / ANSIBLE_COLLECTIONS_PATH for the module and CLI subprocesses).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import labenv

ROOT = labenv.ROOT
VENV_BIN = labenv.VENV_BIN
COLLECTIONS = labenv.linked_collections("mobileip-collections-")
labenv.importable(COLLECTIONS)


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of a module or CLI subprocess: the collection importable and found by Ansible.

    The project venv's bin directory is not added to PATH, so a module finds the agent's mipd and
    mipctl only when a test gives agent_bin_dir (as on a host where the agent lives in a venv).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = str(COLLECTIONS)
    env["ANSIBLE_COLLECTIONS_PATH"] = str(COLLECTIONS)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if Path(p) != VENV_BIN)
    env.update(extra)
    return env


class ModuleRun:
    """One module run: exit status, parsed result, and the raw output (to search for leaks)."""

    def __init__(self, rc: int, result: dict[str, Any], stdout: str, stderr: str) -> None:
        self.rc = rc
        self.result = result
        self.stdout = stdout
        self.stderr = stderr

    @property
    def failed(self) -> bool:
        return bool(self.result.get("failed"))

    @property
    def warnings(self) -> list[str]:
        """The warnings' texts (ansible-core 2.19 returns them as structured events)."""
        return [w["event"]["msg"] if isinstance(w, dict) else w for w in self.result.get("warnings", [])]

    def __getitem__(self, key: str) -> Any:
        return self.result[key]


def run_module(name: str, args: dict[str, Any], check: bool = False, diff: bool = False,
               env: dict[str, str] | None = None, tmp: Path | None = None, prefix: tuple[str, ...] = ()) -> ModuleRun:
    """Run plugins/modules/<name>.py as Ansible would on the host: a subprocess with a JSON args file
    (`prefix`: a command the module's Python is run by, such as `unshare -m sh -c '...; exec "$@"' sh`)."""
    payload = {"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check, "_ansible_diff": diff}}
    fd, path = tempfile.mkstemp(prefix=f"{name}-", suffix=".json", dir=tmp)
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f)
    module = COLLECTIONS / "ansible_collections" / "netmobility" / "mobileip" / "plugins" / "modules" / f"{name}.py"
    try:
        proc = subprocess.run([*prefix, sys.executable, str(module), path], capture_output=True, text=True, timeout=120,
                              check=False, env=env or subprocess_env())
    finally:
        os.unlink(path)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"{name} printed no JSON (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}") from None
    return ModuleRun(proc.returncode, result, proc.stdout, proc.stderr)
