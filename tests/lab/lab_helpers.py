"""Helpers of the lab tests: the collection importable as ``ansible_collections.netmobility.mobileip``.

The collection's code imports itself by that name: a temporary ``ansible_collections/netmobility/
mobileip`` symlink to this checkout is put on sys.path, and on ANSIBLE_COLLECTIONS_PATH for the
ansible commands the real-run tests start.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _collections_root() -> Path:
    if ROOT.parent.name == "netmobility" and ROOT.parent.parent.name == "ansible_collections":
        return ROOT.parents[2]
    top = Path(tempfile.mkdtemp(prefix="mobileip-lab-collections-"))
    atexit.register(shutil.rmtree, top, True)
    (top / "ansible_collections" / "netmobility").mkdir(parents=True)
    (top / "ansible_collections" / "netmobility" / "mobileip").symlink_to(ROOT)
    return top


COLLECTIONS = _collections_root()
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
