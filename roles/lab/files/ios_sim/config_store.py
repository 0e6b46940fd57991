"""The running configuration as IOS holds it: a tree of lines rendered in IOS order.

IOS keeps its configuration as parsed state and prints it in a fixed order, not in the order it
was typed: global lines by kind (hostname, interfaces, router blocks, `ip mobile ...` lines,
access lists), block children (`interface X` body) one space in, a `!` after each block and
between groups of different kinds, and `end` last. Each item here carries:

- `key`: its identity (a line with the same key replaces it, `no` removes the keys it prefixes);
- `rank`: the kind's place in the IOS order; `sort`: the order among items of one kind
  (addresses numerically, interfaces Loopback/Tunnel first as IOS lists them);
- `group`: items of different groups are separated by `!`; `block`: a header followed by `!`;
- `absent`: lines IOS prints when a child is missing (`no ip address`).

Default values are left out by the renderers that build the text (IOS hides defaults).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

Key = tuple[Any, ...]


def sortable(value: Any) -> tuple[Any, ...]:
    """A sort key: IPv4 addresses numerically, numbers before words, word pieces with digits numeric."""
    if isinstance(value, tuple):
        return tuple(sortable(v) for v in value)
    if isinstance(value, int):
        return (0, value)
    if value is None:
        return (0, -1)
    text = str(value)
    try:
        return (1, int(ipaddress.IPv4Address(text)))
    except ValueError:
        pass
    return (2, tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.findall(r"\d+|\D+", text)))


@dataclass
class Item:
    """One configuration line and, for a block header, the lines under it."""

    text: str
    rank: int = 0
    sort: tuple[Any, ...] = ()
    group: str = ""
    block: bool = False
    children: dict[Key, Item] = field(default_factory=dict)
    absent: dict[Key, tuple[str, int]] = field(default_factory=dict)  # key -> (text, rank) shown when missing

    def ordered(self) -> list[tuple[Key, Item]]:
        return sorted(self.children.items(), key=lambda kv: (kv[1].rank, kv[1].sort))


class ConfigTree:
    """The router's running configuration (shared by all sessions: IOS has one running config)."""

    def __init__(self) -> None:
        self.root = Item("")

    def node(self, path: tuple[Key, ...]) -> Item | None:
        """The item at `path` (a tuple of keys from the top), None when absent."""
        item: Item | None = self.root
        for key in path:
            item = item.children.get(key) if item is not None else None
        return item

    def set(self, path: tuple[Key, ...], key: Key, text: str, rank: int, *, group: str = "",
            block: bool = False, sort: tuple[Any, ...] | None = None) -> Item:
        """Add or replace the line `key` under `path` (a replaced block keeps its children)."""
        parent = self.node(path)
        if parent is None:
            raise KeyError(path)
        existing = parent.children.get(key)
        item = Item(text, rank, sortable(key) if sort is None else sort, group, block)
        if existing is not None:
            item.children, item.absent = existing.children, existing.absent
        parent.children[key] = item
        return item

    def remove(self, path: tuple[Key, ...], prefix: Key) -> int:
        """Remove the lines under `path` whose key starts with `prefix`; how many went."""
        parent = self.node(path)
        if parent is None:
            return 0
        gone = [k for k in parent.children if k[:len(prefix)] == prefix]
        for k in gone:
            del parent.children[k]
        return len(gone)

    def find(self, path: tuple[Key, ...], prefix: Key) -> list[tuple[Key, Item]]:
        parent = self.node(path)
        if parent is None:
            return []
        return [(k, v) for k, v in parent.ordered() if k[:len(prefix)] == prefix]

    def lines(self) -> list[str]:
        """The configuration body as `show running-config` prints it between its header and `end`."""
        out: list[str] = ["!"]
        previous: Item | None = None
        for _key, item in self.root.ordered():
            if previous is not None and not previous.block and previous.group != item.group:
                out.append("!")
            out.append(item.text)
            out.extend(" " + line for line in _children(item))
            if item.block:
                out.append("!")
            previous = item
        if out[-1] != "!":
            out.append("!")
        out.append("end")
        return out

    def text(self) -> str:
        return "\n".join(self.lines()) + "\n"


def _children(item: Item) -> list[str]:
    rows = [(child.rank, child.sort, child.text) for child in item.children.values()]
    rows += [(rank, (), text) for key, (text, rank) in item.absent.items() if key not in item.children]
    return [text for _rank, _sort, text in sorted(rows, key=lambda r: (r[0], r[1]))]


def config_blocks(text: str) -> list[tuple[str, list[str]]]:
    """Configuration text as (top-level line, its indented lines), without `!`, blanks and `end`.

    How IOS reads a startup-config: a line starting with a blank belongs to the block opened by
    the last top-level line; `!` lines are comments.
    """
    blocks: list[tuple[str, list[str]]] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("!"):
            continue
        if line == "end":
            break
        if line[0] == " " and blocks:
            blocks[-1][1].append(line.strip())
        else:
            blocks.append((line.strip(), []))
    return blocks
