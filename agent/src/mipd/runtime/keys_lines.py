"""The lines of a keys file's `security_associations` list, an entry at a time, without a YAML parser.

Two forms are read here, each exactly as YAML 1.1 (PyYAML's SafeLoader) reads it:

    - {peer: 10.1.0.10, spi: 300, key: "00112233..."}        # flow: one line
    - peer: mn@example.net                                   # block: one field per line
      spi: 301
      key: "00112233..."

with field names of an SA, and values that are double-quoted strings without escapes, single-quoted
strings without quotes inside, decimal integers, dotted addresses, words (strings, or true/false/
yes/no/on/off and null as YAML reads them) and NAIs. Anything else (a field given twice, another
scalar form, a nested value, a block scalar...) makes :func:`read_entry` return None, and the entry is
read by the YAML loader instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

SA_KEYS = ("peer", "spi", "algorithm", "key", "key_format", "replay", "replay_window", "fallback", "roles")
_FIELDS = frozenset(SA_KEYS)
_TOKEN = r"""("[^"\\\n]*"|'[^'\n]*'|[A-Za-z0-9][A-Za-z0-9._@+/=-]*)"""
_BLOCK_PAIR = re.compile(r"([a-z_]+): +" + _TOKEN + r"(?: +#.*| *)").fullmatch
_FLOW_PAIR = re.compile(r" *([a-z_]+): +" + _TOKEN + r" *([,}])").match
_AFTER_FLOW = re.compile(r"(?: +#.*| *)").fullmatch
_DOTTED = re.compile(r"[0-9]+(?:\.[0-9]+){2,}").fullmatch  # no YAML 1.1 type has two dots and only digits
_WORDS: dict[str, object] = {  # PyYAML's implicit bool and null resolvers (yaml/resolver.py)
    **dict.fromkeys(("yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
    **dict.fromkeys(("null", "Null", "NULL"), None),
}
_UNREAD = object()


def ignorable(text: str) -> bool:
    """A blank line or a comment."""
    stripped = text.lstrip(" ")
    return not stripped or stripped[0] == "#"


def starts_item(text: str, column: int) -> bool:
    """Whether `text` has a list item's `-` at `column` (followed by a space or nothing)."""
    return text.startswith("- ", column) or len(text) == column + 1 and text[column] == "-"


def entries(body: Iterator[tuple[int, str]], not_streamable: type[Exception]) -> Iterator[tuple[int, list[str]]]:
    """(line number of its `-`, its lines) of each list entry; `not_streamable` when the lines are not
    one list entry after another at one indentation."""
    indent = -1
    start, lines = 0, []
    for lineno, text in body:
        if ignorable(text):
            if lines:
                lines.append(text)  # a block scalar's blank or '#' line is part of its value
            continue
        column = len(text) - len(text.lstrip(" "))
        item = starts_item(text, column)
        if indent < 0:
            if not item:
                raise not_streamable
            indent = column
        if column == indent and item:
            if lines:
                yield start, lines
            start, lines = lineno, [text]
        elif column > indent:
            lines.append(text)
        else:
            raise not_streamable
    if lines:
        yield start, lines


def read_entry(lines: list[str]) -> dict[str, object] | None:
    """The entry's fields as YAML would read them, or None when it uses any other YAML."""
    first = lines[0]
    column = first.index("-") + 1
    rest = first[column:].lstrip(" ")
    if rest.startswith("{"):
        return _flow(rest) if all(ignorable(line) for line in lines[1:]) else None
    fields: dict[str, object] = {}
    match = _BLOCK_PAIR(rest)
    if match is None or not _put(fields, match.group(1), match.group(2)):
        return None
    key_column = len(first) - len(rest)
    pad = " " * key_column
    for line in lines[1:]:
        if ignorable(line):
            continue
        if not line.startswith(pad) or line[key_column] == " ":  # a nested value, or not under the first field
            return None
        match = _BLOCK_PAIR(line, key_column)
        if match is None or not _put(fields, match.group(1), match.group(2)):
            return None
    return fields


def _flow(text: str) -> dict[str, object] | None:
    fields: dict[str, object] = {}
    at = 1
    while True:
        match = _FLOW_PAIR(text, at)
        if match is None or not _put(fields, match.group(1), match.group(2)):
            return None
        at = match.end()
        if match.group(3) == "}":
            return fields if _AFTER_FLOW(text, at) else None


def _put(fields: dict[str, object], name: str, token: str) -> bool:
    if name not in _FIELDS or name in fields:
        return False
    value = _scalar(token)
    if value is _UNREAD:
        return False
    fields[name] = value
    return True


def _scalar(token: str) -> object:
    """The value YAML 1.1 gives a token; _UNREAD when it is not one of the forms read here."""
    first = token[0]
    if first == '"' or first == "'":
        return token[1:-1]
    if token.isdigit():
        return int(token) if first != "0" or token == "0" else _UNREAD  # 0644 is octal in YAML 1.1
    if first.isalpha():
        return _WORDS.get(token, token)
    return token if _DOTTED(token) else _UNREAD
