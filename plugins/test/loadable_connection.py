# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test `loadable_connection`: whether this controller can load a connection plugin (docs: the .yml beside it)."""

from __future__ import annotations

from typing import Any, Callable

from ansible.plugins.loader import connection_loader


def loadable_connection(name: Any) -> bool:
    """True when `name` (a connection plugin's name or FQCN) can be loaded here; an unset one is the default."""
    if name is None or name == "":
        return True
    return bool(connection_loader.has_plugin(str(name)))


class TestModule:
    """The collection's Jinja tests."""

    @staticmethod
    def tests() -> dict[str, Callable[..., bool]]:
        return {"loadable_connection": loadable_connection}
