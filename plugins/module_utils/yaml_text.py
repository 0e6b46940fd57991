# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing YAML without PyYAML (managed hosts may not have it), and reading it with PyYAML.

The writer covers what configuration files hold: mappings with string keys, lists, strings,
numbers, booleans and null, in block style with short lists of scalars inline. A string is
written plain only when no YAML 1.1 reader can take it for anything else (a number, a
boolean such as `off`, null, an alias such as `*@realm`); otherwise it is double-quoted.
"""

from __future__ import annotations

import decimal
import json
import math
import re
from typing import Any

try:
    import yaml
except ImportError:  # rendering works without it; reading reports missing_required_lib
    yaml = None

_PLAIN = re.compile(
    r"[A-Za-z_/][A-Za-z0-9_./@+-]*"  # words, paths, NAIs, hmac-md5 (not starting with a digit or indicator)
    r"|\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?(?:-\d{1,3}(?:\.\d{1,3}){3})?"  # addresses, prefixes, ranges
)
_SPECIAL = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}  # YAML 1.1 booleans and null
_INLINE_WIDTH = 100
# Not printable in YAML (or read as a line break inside quotes): escaped in double-quoted scalars.
_UNPRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")


def scalar(value: Any, force_quotes: bool = False) -> str:
    """One scalar as YAML text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):  # never produced by the model's checks
            raise ValueError(f"cannot write {value} as a YAML float")
        text = repr(value)
        if "e" in text:  # YAML 1.1 reads 1e-05 as a string: write the same number in positional notation
            text = format(decimal.Decimal(text), "f")
        return text if "." in text else text + ".0"
    if not isinstance(value, str):
        raise TypeError(f"cannot write {type(value).__name__} as YAML")
    if not force_quotes and _PLAIN.fullmatch(value) and value.lower() not in _SPECIAL:
        return value
    return _UNPRINTABLE.sub(_escape, json.dumps(value, ensure_ascii=False))


def _escape(match: Any) -> str:
    code = ord(match.group())
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def dump(data: dict[str, Any], quoted: tuple[str, ...] = ()) -> str:
    """A mapping as block YAML; values of keys named in `quoted` are always double-quoted."""
    lines: list[str] = []
    _mapping(data, 0, lines, quoted)
    return "".join(line + "\n" for line in lines)


def _mapping(data: dict[str, Any], indent: int, lines: list[str], quoted: tuple[str, ...], first: str = "") -> None:
    pad = " " * indent
    if not data:
        lines.append(f"{first or pad}{{}}")
        return
    for i, (key, value) in enumerate(data.items()):
        lead = first if i == 0 and first else pad
        head = f"{lead}{scalar(key)}:"
        if isinstance(value, dict) and value:
            lines.append(head)
            _mapping(value, indent + 2, lines, quoted)
        elif isinstance(value, list) and value and not _inline(value):
            lines.append(head)
            _sequence(value, indent + 2, lines, quoted)
        else:
            lines.append(f"{head} {_flow(value, key in quoted)}")


def _sequence(items: list[Any], indent: int, lines: list[str], quoted: tuple[str, ...]) -> None:
    pad = " " * indent
    for item in items:
        if isinstance(item, dict) and item:
            _mapping(item, indent + 2, lines, quoted, first=pad + "- ")
        elif isinstance(item, list) and item and not _inline(item):
            lines.append(pad + "-")
            _sequence(item, indent + 2, lines, quoted)
        else:
            lines.append(f"{pad}- {_flow(item, False)}")


def _inline(items: list[Any]) -> bool:
    """Short lists of scalars are written [a, b]."""
    if any(isinstance(item, (dict, list)) for item in items):
        return False
    return len(_flow(items, False)) <= _INLINE_WIDTH


def _flow(value: Any, force_quotes: bool) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_flow(item, False) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k)}: {_flow(x, False)}" for k, x in value.items()) + "}"
    return scalar(value, force_quotes)


def load(text: str) -> Any:
    """The YAML document in `text` (PyYAML's safe loader). ImportError when PyYAML is missing."""
    if yaml is None:
        raise ImportError("PyYAML")
    return yaml.safe_load(text)
