#!/usr/bin/env bash
# Run ansible-test against this collection, offline-capable, on Debian 12 / Python 3.11.
#
#   scripts/ansible-test.sh                 sanity (the default), every test, no ignore files
#   scripts/ansible-test.sh sanity --test validate-modules
#   scripts/ansible-test.sh units
#
# ansible-test needs the collection under .../ansible_collections/<namespace>/<name>: this script
# copies the checkout to build/ansible_collections/netmobility/mobileip (fresh each run, without
# .venv, build, caches) and runs ansible-test from there with the project venv's Python.
#
# Offline: ansible-test bootstraps pip into its per-test virtual environments with a get-pip.py it
# downloads from ci-files.testing.ansible.com, which is not reachable here. A stand-in cached at
# the path ansible-test looks for bootstraps pip from the interpreter's own ensurepip instead and
# then installs the pinned sanity requirements from the configured package index (PyPI).
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
PY=$VENV/bin/python
DEST=$ROOT/build/ansible_collections/netmobility/mobileip
PYTHON_VERSION=${ANSIBLE_TEST_PYTHON:-3.11}

[ -x "$VENV/bin/ansible-test" ] || { echo "ansible-test not found in $VENV (run ./mip setup)" >&2; exit 2; }

# 1. The get-pip stand-in, for every pip version this ansible-test may ask for.
pip_version=$("$PY" - <<'PYEOF'
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
print(get_venv_packages(NativePythonConfig(version="3.11", path="/usr/bin/python3"))["pip"])
PYEOF
)
cache=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [ ! -f "$cache" ] || ! grep -q "netmobility.mobileip get-pip stand-in" "$cache"; then
  mkdir -p "$(dirname "$cache")"
  cat >"$cache" <<'PYEOF'
"""netmobility.mobileip get-pip stand-in: bootstrap pip with ensurepip, then pip install the arguments.

ansible-test runs get-pip.py with pip-install arguments (packages and options); the real script
is downloaded from a host that is unreachable here. ensurepip ships a pip wheel with CPython.
"""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
os.environ.pop("PIP_CONFIG_FILE", None)  # ensurepip points it at devnull, hiding /etc/pip.conf
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *args]))
PYEOF
fi

# 2. A fresh copy of the collection where ansible-test wants it (one run at a time: a second run
# would delete the copy under the first one's feet).
mkdir -p "$ROOT/build"
exec 9>"$ROOT/build/.ansible-test.lock"
flock 9
rm -rf "$DEST"
mkdir -p "$DEST"
tar -C "$ROOT" -cf - \
  --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./tests/output \
  --exclude=.pytest_cache --exclude=.ruff_cache --exclude=.hypothesis --exclude=__pycache__ \
  --exclude='*.egg-info' --exclude=./ansible_collections . | tar -C "$DEST" -xf -
# ansible-test lists content with git when it finds a .git at or above the collection root; the
# enclosing checkout ignores build/, so give the copy its own repository (untracked files count).
git -C "$DEST" init -q

# 3. Run it. Sanity covers the collection's Ansible content (plugins, roles, playbooks, meta,
# changelogs, the collection's tests). The bundled agent's Python package (agent/) and its tests
# (tests/agent/), the benchmarks and the project's scripts are not Ansible content: they follow the
# project's ruff rules (./mip test), which differ from ansible-test's pylint/pep8/shebang policy
# (for example `_` as a throw-away name, `#!/usr/bin/env python3`), so they are excluded here
# rather than listed in ignore files.
cmd=${1:-sanity}
[ $# -gt 0 ] && shift
extra=()
if [ "$cmd" = sanity ]; then
  extra=(--exclude agent/ --exclude tests/agent/ --exclude benchmarks/ --exclude scripts/)
fi
cd "$DEST"
export PATH=$VENV/bin:$PATH
exec "$VENV/bin/ansible-test" "$cmd" --python "$PYTHON_VERSION" --requirements --color no "${extra[@]}" "$@"
