"""What the ecosystem tests share besides fixtures: the venv's tools run with a clean Ansible
environment, and a copy of what antsibull-changelog reads. (A module of its own, not conftest:
several test folders have a conftest.py and `from conftest import` would find whichever was first.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import labenv
import yaml

ROOT = labenv.ROOT
VENV_BIN = labenv.VENV_BIN

VENV_BIN = labenv.VENV_BIN


def ansible_env(home: Path, collections: Path | None = None) -> dict[str, str]:
    """An environment for the ansible tools: the venv first on PATH, no colour, and (when given)
    `collections` as the only collections path, so the checkout's own link is not used."""
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{VENV_BIN}:{env.get('PATH', '')}",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_LOCAL_TEMP": str(home / "ansible-tmp"),
            "ANSIBLE_HOME": str(home / "ansible-home"),
        }
    )
    if collections is not None:
        env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    return env


def tool(
    name: str, *args: str, cwd: Path, collections: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The venv's command-line tool `name` with `args`, in `cwd`, with `ansible_env`; its output as text."""
    return subprocess.run(
        [str(VENV_BIN / name), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=ansible_env(cwd, collections),
        timeout=timeout,
        check=False,
    )


def copy_for_release(dest: Path) -> Path:
    """What antsibull-changelog reads: galaxy.yml, changelogs/ and the content it lists new plugins from."""
    for name in ("galaxy.yml", "meta"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, dest / name)
    for name in ("changelogs", "plugins", "roles", "playbooks"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", ".plugin-cache.yaml"))
    return dest


def galaxy() -> dict:
    return yaml.safe_load((ROOT / "galaxy.yml").read_text())
