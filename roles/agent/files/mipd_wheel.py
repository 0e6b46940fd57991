# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the bundled agent's wheel on the controller, once per source version (role agent).

    mipd_wheel.py AGENT_DIR CACHE_DIR [--check]

Prints one JSON object: ``version`` (from AGENT_DIR/pyproject.toml), ``digest`` (sha256 of
pyproject.toml and every file under src/, by relative path and content), ``wheel`` (the wheel's
path in CACHE_DIR/<digest>/), ``built`` (whether this run built it) and ``exists``. The wheel is
built from a copy of AGENT_DIR in a temporary directory (the collection's tree is not touched)
with ``pip wheel --no-deps``; a wheel already in the cache for the same digest is reused, so
the hosts install the same file until the agent's source changes. With --check nothing is built.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP_DIRS = ("__pycache__", "build", "dist")


def source_files(agent_dir: str) -> list[str]:
    """pyproject.toml and the files under src/ (no caches, no build output), sorted."""
    out = ["pyproject.toml"]
    for top, dirs, files in os.walk(os.path.join(agent_dir, "src")):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            if not name.endswith((".pyc", ".pyo")):
                out.append(os.path.relpath(os.path.join(top, name), agent_dir))
    return sorted(out)


def digest_of(agent_dir: str, files: list[str]) -> str:
    h = hashlib.sha256()
    for rel in files:
        h.update(rel.encode() + b"\0")
        with open(os.path.join(agent_dir, rel), "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def version_of(agent_dir: str) -> str:
    with open(os.path.join(agent_dir, "pyproject.toml"), encoding="utf-8") as f:
        m = re.search(r'^version\s*=\s*"([^"]+)"', f.read(), re.M)
    if m is None:
        raise SystemExit(f"no version in {agent_dir}/pyproject.toml")
    return m.group(1)


def build(agent_dir: str, files: list[str], dest: str) -> str:
    """pip wheel of a copy of the sources; the wheel's path in `dest`."""
    with tempfile.TemporaryDirectory(prefix="mipd-wheel-") as tmp:
        src = os.path.join(tmp, "agent")
        for rel in files:
            os.makedirs(os.path.dirname(os.path.join(src, rel)), exist_ok=True)
            shutil.copy2(os.path.join(agent_dir, rel), os.path.join(src, rel))
        out = os.path.join(tmp, "out")
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", out, src],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"pip wheel failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        wheels = [n for n in os.listdir(out) if n.endswith(".whl")]
        if len(wheels) != 1:
            raise SystemExit(f"pip wheel made {wheels}, expected one wheel")
        os.makedirs(dest, exist_ok=True)
        final = os.path.join(dest, wheels[0])
        shutil.move(os.path.join(out, wheels[0]), final + ".tmp")
        os.replace(final + ".tmp", final)
        return final


def main(argv: list[str]) -> None:
    if len(argv) not in (2, 3) or (len(argv) == 3 and argv[2] != "--check"):
        raise SystemExit("usage: mipd_wheel.py AGENT_DIR CACHE_DIR [--check]")
    agent_dir, cache = os.path.abspath(argv[0]), os.path.abspath(os.path.expanduser(argv[1]))
    check = len(argv) == 3
    files = source_files(agent_dir)
    version, digest = version_of(agent_dir), digest_of(agent_dir, files)
    dest = os.path.join(cache, digest[:16])
    wheel = os.path.join(dest, f"mipd-{version}-py3-none-any.whl")
    built = False
    if not check:
        os.makedirs(cache, exist_ok=True)
        with open(os.path.join(cache, ".lock"), "w", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not os.path.exists(wheel):
                made = build(agent_dir, files, dest)
                if made != wheel:
                    raise SystemExit(f"pip wheel made {os.path.basename(made)}, expected {os.path.basename(wheel)}")
                built = True
    print(json.dumps({"version": version, "digest": digest, "wheel": wheel, "built": built,
                      "exists": os.path.exists(wheel)}))


if __name__ == "__main__":
    main(sys.argv[1:])
