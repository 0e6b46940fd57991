"""Aligned plain-text tables and key/value blocks for mipctl's human-readable output."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(cell(v) for v in value) or "-"
    return str(value)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]], empty: str = "(none)") -> str:
    """`rows` under `columns` [(key, heading)], columns padded to their widest cell."""
    if not rows:
        return empty
    grid = [[heading for _, heading in columns]] + [[cell(r.get(key)) for key, _ in columns] for r in rows]
    widths = [max(len(line[i]) for line in grid) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in grid)


def block(pairs: Sequence[tuple[str, Any]]) -> str:
    """"key:  value" lines with the values aligned."""
    width = max((len(k) for k, _ in pairs), default=0)
    return "\n".join(f"{(k + ':').ljust(width + 1)}  {cell(v)}" for k, v in pairs)
