# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where mobility_info and verify_registration read a host's live Mobile IP state: one seam for both platforms.

A reader answers `gather(commands)` -> {command: result} for the commands of `mipctl --json` (status,
bindings, visitors, pending, registration, counters, sas), in mipctl's shapes, raising
agent_cli.AgentUnreachable or agent_cli.AgentRefused:

- Linux: agent_cli.Mipctl, `mipctl --json` on the host, against the running mipd;
- IOS-like router: platforms/ios/state.IosStateReader over a `show(command) -> output` callable
  (`show ip mobile ...` parsed with the collection's TextFSM templates; what IOS cannot provide is
  listed in state.py).

`reader_for(module, show)` picks one from the module's `platform` option (set by the action plugin);
`opened_reader(module)` also opens the IOS transport (platforms/ios/transport.py) and closes it after.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Union

from ansible_collections.netmobility.mobileip.plugins.module_utils import agent_cli
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.base import IOS, LINUX, PLATFORMS
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios import transport
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios.state import IosStateReader

Reader = Union[agent_cli.Mipctl, IosStateReader]
OPTIONS: dict[str, Any] = {
    **agent_cli.AGENT_OPTIONS,
    "platform": {"type": "str", "default": LINUX, "choices": list(PLATFORMS)},
    "transport": transport.TRANSPORT_OPTION,
}
NO_SHOW = ("IOS-like router: no way to read its state: run the task through the collection's action plugin (it "
           "passes the inventory's connection variables), or give the host ansible_connection: "
           "ansible.netcommon.network_cli")


def reader_for(module: Any, show: Callable[[str], str] | None = None) -> Reader:
    """The reader for the module's platform; on IOS without `show` the module fails with one line."""
    if module.params.get("platform") == IOS:
        if show is None:
            module.fail_json(msg=NO_SHOW)
        return IosStateReader(show)  # type: ignore[arg-type]
    return agent_cli.mipctl_for(module)


@contextmanager
def opened_reader(module: Any) -> Iterator[Reader]:
    """reader_for() with the IOS transport's `show` (netmiko or network_cli), closed when done."""
    connection = transport.connect(module) if module.params.get("platform") == IOS else None
    try:
        yield reader_for(module, connection.show if connection is not None else None)
    finally:
        if connection is not None:
            connection.close()
