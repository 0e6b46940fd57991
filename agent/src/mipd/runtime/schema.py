"""Typed reading of YAML values with errors that name the field path.

Every error says where (``home_agent.filters.care_of.rules[0].prefix``) and what was expected.
The offending value travels in the error apart from the message (`ConfigError.value`) and is
shown only while the error is not hidden (`hide_value`): the keys file's errors are all hidden
(config.read_keys: a value there that is not where it belongs may well be a key placed in the
wrong field), and so are those of any field under a key-like name (`key_like`); the error then
gives the value's kind and "value hidden". Unknown keys are refused, with a close match
suggested, so a typo never silently falls back to a default; an unknown key's name is shown only
when it looks like a field name.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
_MISSING: Any = object()
IFNAMSIZ = 16  # Linux interface names are at most 15 bytes (include/uapi/linux/if.h)
PATH_MAX = 4096  # include/uapi/linux/limits.h
VALUE = "{value}"  # where a message shows the offending value
KEY_WORDS = frozenset(("key", "secret", "psk", "password", "passphrase"))  # a field named with one holds a secret
# An unknown key's name is echoed only when it looks like a field name (letters and _ -, not a pasted key).
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z_-]{0,39}").fullmatch


class ConfigError(ValueError):
    """A configuration value that is wrong: `path` names the field, `message` what is wrong.

    `value` (when given) is the offending value, rendered where the message says `{value}`:
    with `describe`, or as its kind and "value hidden" once `hide_value` was called.
    """

    def __init__(self, path: str, message: str, file: str | None = None, value: Any = _MISSING,
                 hidden_as: str | None = None) -> None:
        super().__init__(path, message)
        self.path = path
        self.template = message
        self.value = value
        self.hidden_as = hidden_as  # what stands for the value once hidden (default: its kind, "value hidden")
        self.hidden = False
        self.file = file  # the file the field is in, when known
        self.line: int | None = None  # the line the entry starts on, when known (keys file entries)

    def hide_value(self) -> ConfigError:
        """Never show the value (it may be key material); returns self."""
        self.hidden = True
        return self

    @property
    def message(self) -> str:
        if self.value is _MISSING:
            return self.template
        if self.hidden:
            shown = self.hidden_as or describe_hidden(self.value)
        else:
            shown = describe(self.value)
        return self.template.replace(VALUE, shown)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def located(self) -> str:
        """"FILE: path: message", "FILE line N: path: message" when the line is known (just the error
        when the file is unknown)."""
        if not self.file:
            return str(self)
        return f"{self.file} line {self.line}: {self}" if self.line else f"{self.file}: {self}"


def join(path: str, name: str | int) -> str:
    """The path of `name` (a key or a list index) inside `path`."""
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


def describe(value: object) -> str:
    """A short rendering of a (non-secret) value for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe_hidden(value: object) -> str:
    """The kind of `value` without the value: "a string (value hidden)"."""
    if value is None or isinstance(value, (bool, dict, list)):
        return describe(value)  # no secret in null, true/false, "a mapping", "a list"
    if isinstance(value, str):
        return "a string (value hidden)"
    if isinstance(value, (int, float)):
        return "a number (value hidden)"
    return "a value (hidden)"


def key_like(name: str) -> bool:
    """Is `name` a field name that says it holds a secret ("key", "pre_shared_key"; not "keys_file")?"""
    return not KEY_WORDS.isdisjoint(name.lower().replace("-", "_").split("_"))


def is_int(value: object) -> bool:
    """An int that is not a bool (YAML `yes` must not become 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


# ------------------------------------------------------------------ scalar readers


def integer(value: object, path: str, lo: int, hi: int | None = None) -> int:
    if not is_int(value) or value < lo or (hi is not None and value > hi):  # type: ignore[operator]
        bound = f"{lo}-{hi}" if hi is not None else f">= {lo}"
        raise ConfigError(path, f"must be an integer {bound}, got {VALUE}", value=value)
    return value  # type: ignore[return-value]


def number(value: object, path: str, lo: float, hi: float | None = None, lo_open: bool = False) -> float:
    """An int or float in [lo, hi] ((lo, hi] when `lo_open`)."""
    ok = (is_int(value) or isinstance(value, float)) and math.isfinite(value)  # type: ignore[arg-type]
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = (v > lo if lo_open else v >= lo) and (hi is None or v <= hi)
    if not ok:
        low = f"> {lo:g}" if lo_open else f">= {lo:g}"
        bound = f"{low} and <= {hi:g}" if hi is not None else low
        raise ConfigError(path, f"must be a number {bound}, got {VALUE}", value=value)
    return float(value)  # type: ignore[arg-type]


def boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(path, f"must be true or false, got {VALUE}", value=value)
    return value


def string(value: object, path: str, max_len: int = 4096) -> str:
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise ConfigError(path, f"must be a non-empty string of at most {max_len} characters, got {VALUE}", value=value)
    return value


def file_path(value: object, path: str) -> str:
    """A file name: a non-empty string without NUL bytes (the kernel takes paths as C strings), at most
    PATH_MAX (4096) characters."""
    value = string(value, path, PATH_MAX)
    if "\0" in value:
        raise ConfigError(path, f"must be a file path without NUL bytes, got {VALUE}", value=value)
    return value


def choice(value: object, path: str, options: Iterable[str]) -> str:
    options = tuple(options)
    if not isinstance(value, str) or value not in options:
        raise ConfigError(path, f"must be one of {', '.join(options)}, got {VALUE}", value=value)
    return value


def ipv4(value: object, path: str) -> str:
    """A unicast IPv4 host address, normalised ("10.1.0.1")."""
    try:
        if not isinstance(value, str):
            raise ValueError
        addr = ipaddress.IPv4Address(value)
    except ValueError:
        raise ConfigError(path, f"must be an IPv4 address, got {VALUE}", value=value) from None
    if addr.is_unspecified or addr.is_multicast or addr == ipaddress.IPv4Address("255.255.255.255"):
        raise ConfigError(path, f"must be a unicast address, got {VALUE}", value=value)
    return str(addr)


_DOTTED_QUAD = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
                          r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])").fullmatch


def plain_unicast_ipv4(value: str) -> bool:
    """The quick test of what `ipv4` accepts as it is (no leading zeros, not unspecified, multicast or
    broadcast); False says only "ask `ipv4`" (a keys file reads a million addresses)."""
    if not _DOTTED_QUAD(value):
        return False
    return not 224 <= int(value[:value.index(".")]) <= 239 and value not in ("0.0.0.0", "255.255.255.255")


def prefix(value: object, path: str) -> str:
    """An IPv4 prefix "a.b.c.d/len" (host bits allowed), normalised to its network form."""
    try:
        if not isinstance(value, str) or "/" not in value:
            raise ValueError
        net = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise ConfigError(path, f"must be an IPv4 prefix like 10.1.0.0/24, got {VALUE}", value=value) from None
    return str(net)


def ifname(value: object, path: str) -> str:
    """A Linux interface name (dev_valid_name: 1-15 bytes, no '/', ':', NUL or whitespace, not . or ..)."""
    ok = isinstance(value, str) and 0 < len(value.encode()) < IFNAMSIZ and value not in (".", "..")
    if ok and any(c in "/:\0" or c.isspace() for c in value):  # type: ignore[union-attr]
        ok = False
    if not ok:
        raise ConfigError(path, f"must be an interface name (1-15 characters, no '/', ':' or spaces), got {VALUE}",
                          value=value)
    return value  # type: ignore[return-value]


def nai(value: object, path: str) -> str:
    """A Network Access Identifier user@realm (RFC 2794 §2, at most 255 bytes)."""
    ok = isinstance(value, str) and "@" in value and 0 < len(value.encode()) <= 255
    if ok and any(c.isspace() for c in value):  # type: ignore[union-attr]
        ok = False
    if not ok:
        raise ConfigError(path, f"must be an NAI like mn@example.net (at most 255 bytes), got {VALUE}", value=value)
    return value  # type: ignore[return-value]


def items(value: object, path: str, read: Callable[[object, str], T], min_items: int = 0,
          unique: bool = True) -> tuple[T, ...]:
    """A YAML list read item by item with `read(item, path[i])`."""
    if not isinstance(value, list):
        raise ConfigError(path, f"must be a list, got {VALUE}", value=value)
    if len(value) < min_items:
        raise ConfigError(path, f"needs at least {min_items} item{'s' if min_items > 1 else ''}")
    out: list[T] = []
    for i, item in enumerate(value):
        v = read(item, join(path, i))
        if unique and v in out:
            raise ConfigError(join(path, i), f"{VALUE} is listed twice", value=v)
        out.append(v)
    return tuple(out)


# ------------------------------------------------------------------ mappings


class Section:
    """A YAML mapping at `path` whose keys must all be in `keys`; typed getters with defaults."""

    __slots__ = ("data", "path")

    def __init__(self, value: object, path: str, keys: Iterable[str]) -> None:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ConfigError(path, f"must be a mapping, got {VALUE}", value=value)
        allowed = tuple(keys)
        for key in value:
            if key not in allowed:
                raise unknown_key(path, key, allowed)
        self.data: dict[str, Any] = value
        self.path = path

    def at(self, name: str) -> str:
        return join(self.path, name)

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def raw(self, name: str, default: Any = _MISSING) -> Any:
        """The value of `name`; `default` when absent or null; an error when required (no default)."""
        value = self.data.get(name)
        if value is None:
            if default is _MISSING:
                raise ConfigError(self.at(name), "is required")
            return default
        return value

    def get(self, name: str, read: Callable[..., T], default: Any = _MISSING, *args: Any) -> T:
        """`read(value, path, *args)` of `name`, or `default` (returned as is) when absent."""
        value = self.raw(name, default)
        if value is default and default is not _MISSING:
            return default
        try:
            return read(value, self.at(name), *args)
        except ConfigError as e:
            if key_like(name):
                e.hide_value()
            raise

    def section(self, name: str, keys: Iterable[str]) -> Section:
        return Section(self.data.get(name), self.at(name), keys)


def unknown_key(path: str, key: object, allowed: tuple[str, ...]) -> ConfigError:
    """"unknown key 'x' (did you mean 'y'?)": never the key's value; the key's own name only when it
    looks like a field name (a line of YAML that is a pasted key reads as a key without a value)."""
    close = difflib.get_close_matches(str(key), allowed, n=1) if isinstance(key, str) else []
    hint = f"did you mean {close[0]!r}?" if close else f"expected one of: {', '.join(allowed)}"
    error = ConfigError(path, f"unknown key {VALUE} ({hint})", value=key, hidden_as="(name hidden)")
    if not (isinstance(key, str) and _FIELD_NAME(key)):
        error.hide_value()
    return error
