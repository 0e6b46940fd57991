"""ios_sim: an IOS-like router over SSH for the collection's tests and the namespace lab.

It behaves as netmiko's cisco_ios driver and Ansible's network_cli (cisco.ios) expect and as
IOS does (prompts, enable, abbreviations, error carets, pipes, write memory), holds a running
configuration with the Mobile IP subset of IOS, logs every command (keys masked), and can run a
real mipd in its network namespace. Run it with `python -m ios_sim` (README.md).

Importing it makes the collection importable by its name (its translator uses the collection's
model and platforms): a link to this checkout when it is not already on the path.
"""

import importlib.util


def _collection_importable() -> bool:
    try:
        return importlib.util.find_spec("ansible_collections.netmobility.mobileip") is not None
    except ModuleNotFoundError:
        return False


if not _collection_importable():  # run as `python -m ios_sim`: link this checkout as the collection (the translator)
    import labenv

    labenv.importable(labenv.linked_collections("ios-sim-collections-"))
