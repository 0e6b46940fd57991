"""Helpers of the lab tests: the collection importable as ``ansible_collections.netmobility.mobileip``.

The collection's code imports itself by that name: a temporary ``ansible_collections/netmobility/
mobileip`` symlink to this checkout is put on sys.path, and on ANSIBLE_COLLECTIONS_PATH for the
ansible commands the real-run tests start.
"""

from __future__ import annotations

import labenv

ROOT = labenv.ROOT
COLLECTIONS = labenv.linked_collections("mobileip-lab-collections-")
labenv.importable(COLLECTIONS)
