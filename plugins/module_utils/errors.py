# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception the data model raises: a wrong value, named by its option path."""

from __future__ import annotations


class ModelError(ValueError):
    """`path` names the option ("config.max_lifetime", "config[0].spi"), `message` what is wrong.

    Messages never contain a key's value: the model's checks for secret fields do not echo them.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def join(path: str, name: str | int) -> str:
    """The path of `name` (a key or a list index) inside `path`."""
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name
