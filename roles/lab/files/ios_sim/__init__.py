"""ios_sim: an IOS-like router over SSH for the collection's tests and the namespace lab.

It behaves as netmiko's cisco_ios driver and Ansible's network_cli (cisco.ios) expect and as
IOS does (prompts, enable, abbreviations, error carets, pipes, write memory), holds a running
configuration with the Mobile IP subset of IOS, logs every command (keys masked), and can run a
real mipd in its network namespace. Run it with `python -m ios_sim` (README.md).

Importing it makes the collection importable by its name (its translator uses the collection's
model and platforms): the collections root this copy sits in (an installed collection), or a link
to this checkout (removed at exit) when it is not already on the path.
"""

import importlib.util
import sys
from pathlib import Path

COLLECTION_ROOT = Path(__file__).resolve().parents[4]  # roles/lab/files/ios_sim -> the collection


def _collection_importable() -> bool:
    try:
        return importlib.util.find_spec("ansible_collections.netmobility.mobileip") is not None
    except ModuleNotFoundError:
        return False


def _collections_root() -> str:
    """A directory holding ansible_collections/netmobility/mobileip = this collection."""
    if COLLECTION_ROOT.parent.name == "netmobility" and COLLECTION_ROOT.parents[1].name == "ansible_collections":
        return str(COLLECTION_ROOT.parents[2])
    import atexit
    import shutil
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="ios-sim-collections-"))
    atexit.register(shutil.rmtree, top, True)
    (top / "ansible_collections" / "netmobility").mkdir(parents=True)
    (top / "ansible_collections" / "netmobility" / "mobileip").symlink_to(COLLECTION_ROOT)
    return str(top)


if not _collection_importable():  # run as `python -m ios_sim`: the translator needs the collection
    sys.path.insert(0, _collections_root())
