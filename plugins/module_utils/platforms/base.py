# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The interface every platform implements, and which platform a host is.

The resource-module states (merged, replaced, overridden, deleted, gathered, rendered, parsed),
check and diff mode and key masking live once, in resource_module.py. A platform supplies the
device side, in its own terms:

    read(resource)                     -> found     what the device holds now (IOS: running-config
                                                    text; Linux: the two mipd files, loaded)
    parse(resource, found)             -> value     a model value from `found` or from the text
                                                    given as running_config (`parsed`)
    unheld(resource, found)            -> [str]     what the device holds that the model cannot
                                                    express (refused before a change, warned on read)
    secrets(text)                      -> [str]     every key in a configuration text as written (the
                                                    running_config option is echoed: all of them are hidden)
    render(resource, value)            -> text      `rendered`; keys masked
    unsupported(resource, value)       -> [ModelError]  fields of a value this platform cannot hold,
                                                    each naming its option path (refused before anything
                                                    is read or sent)
    dropped(resource)                  -> names     options accepted and silently not held (`kind` on Linux)
    commands(resource, before, after)  -> Commands  the change, as commands to send and as shown
    change(resource, found, have, after) -> Change  commands, the value the device will hold, diff header
    stage(change, check_mode)          -> dict      make `change` what the next read sees (Linux: kept in
                                                    memory; IOS: its lines sent, not in check mode)
    write_staged()                     -> dict      apply what was staged (Linux: the files written and
                                                    reloaded; IOS: saved); what was done
    write(change)                      -> dict      one resource: stage, then write_staged
    finish(changed, check_mode)        -> dict      at the end of every run that read the device: what
                                                    else the run did (IOS: save_when=always), and close

linux (platforms/linux/): the mipd configuration and keys files on the host the module runs on;
commands are change lines ("home_agent.max_lifetime: 1800 -> 600"), write replaces the files
atomically and reloads the agent.
ios (platforms/ios/): `ip mobile ...` lines of an IOS-like router, one table per resource (the line
kinds: a regex reading a line, a template writing it, the model fields it carries); commands are IOS
configuration commands. read and write go through a connection (`IosConnection`) the action plugin
provides; without one only `rendered` and `parsed` work.

Keys: `Commands` keeps what is sent (may hold key material: never returned, logged or shown) apart
from what is shown (keys masked); results, diffs and errors only ever see the shown side.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError
from ansible_collections.netmobility.mobileip.plugins.module_utils.model import Resource

LINUX = "linux"
IOS = "ios"
PLATFORMS = (LINUX, IOS)
# ansible_network_os values meaning an IOS-like router; every other host is a Linux host.
IOS_NETWORK_OS = ("ios", "cisco.ios.ios", "netmobility.mobileip.ios")


class PlatformError(Exception):
    """The device side failed (unreadable file, no transport, refused command): one clear line."""


class Commands:
    """The commands of a change: what is sent to the device, and what is shown.

    `shown` (keys masked) is what results, diffs and logs get. The sent side is only for `write`:
    it is not a list, has no repr of its content, and `sent()` is the one way to read it.
    """

    __slots__ = ("_sent", "shown")

    def __init__(self) -> None:
        self.shown: list[str] = []
        self._sent: list[str] = []

    def add(self, shown: str, sent: str | None = None) -> None:
        """One command; `sent` when it differs from what is shown (it holds a key)."""
        self.shown.append(shown)
        self._sent.append(shown if sent is None else sent)

    def extend(self, other: Commands) -> None:
        self.shown.extend(other.shown)
        self._sent.extend(other._sent)

    def sent(self) -> list[str]:
        """The commands as the device must get them (may hold keys: never return or log them)."""
        return list(self._sent)

    def __bool__(self) -> bool:
        return bool(self.shown)

    def __len__(self) -> int:
        return len(self.shown)

    def __repr__(self) -> str:
        return f"Commands({self.shown!r})"


class Change:
    """What a state does to the device, before it is applied.

    after: the resource's value once applied (what the device will hold).
    commands: the change (empty: nothing to do).
    target: what the diff is about (a file, a router's running-config).
    warnings: for the user (never secrets).
    plan: the platform's own data for `write`.
    """

    __slots__ = ("after", "commands", "target", "warnings", "plan")

    def __init__(self, after: Any, commands: Commands, target: str, warnings: list[str] | None = None,
                 plan: Any = None) -> None:
        self.after = after
        self.commands = commands
        self.target = target
        self.warnings = warnings or []
        self.plan = plan


class Platform:
    """Base class: see the module docstring."""

    name = ""
    # module options this platform reads (merged into every config module's argument spec)
    options: dict[str, dict[str, Any]] = {}

    def read(self, resource: Resource) -> Any:
        raise NotImplementedError

    def parse(self, resource: Resource, found: Any) -> Any:
        raise NotImplementedError

    def unheld(self, resource: Resource, found: Any) -> list[str]:
        return []

    def secrets(self, text: str) -> list[str]:
        """Every key in configuration `text`, as written (to hide the text's echo, whatever the resource)."""
        return []

    def render(self, resource: Resource, value: Any) -> str:
        raise NotImplementedError

    def unsupported(self, resource: Resource, value: Any) -> list[ModelError]:
        return []

    def dropped(self, resource: Resource) -> tuple[str, ...]:
        return ()

    def commands(self, resource: Resource, before: Any, after: Any) -> Commands:
        raise NotImplementedError

    def change(self, resource: Resource, found: Any, have: Any, after: Any) -> Change:
        raise NotImplementedError

    def stage(self, change: Change, check_mode: bool) -> None:
        """Make `change` what the next read of this run sees (several resources in one run:
        netmobility.mobileip.mobility_config)."""
        raise NotImplementedError

    def write_staged(self) -> dict[str, Any]:
        """Apply what was staged (never in check mode); what was done (merged into the result)."""
        raise NotImplementedError

    def write(self, change: Change) -> dict[str, Any]:
        """Apply one resource's change: the same path as several."""
        self.stage(change, False)
        return self.write_staged()

    def finish(self, changed: bool, check_mode: bool) -> dict[str, Any]:
        return {}


def refuse(errors: list[ModelError]) -> None:
    """Raise the platform's refusals as one ModelError (each names its option)."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ModelError("", "; ".join(str(e) for e in errors))


def platform_of(network_os: object) -> str:
    """The platform of a host from its ansible_network_os (unset: Linux)."""
    return IOS if isinstance(network_os, str) and network_os.lower() in IOS_NETWORK_OS else LINUX
