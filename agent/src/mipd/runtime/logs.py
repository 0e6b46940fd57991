"""Logging: one structured key=value line per decision, to stderr or a file.

The state machines return `Log` actions (one per registration decision: node, care-of address,
code, reason; RFC 5944 §3.7.2.3, §3.8.2.3). They carry no key material by contract, and this
module adds none: it formats `fields` as key=value pairs, and only when the level is enabled,
so a disabled level costs one comparison on the hot path. Decision lines do not go through the
logging machinery (tens of microseconds a record): they are formatted here, gathered, and
written with one call when the daemon finishes a batch (`flush`); any other record written
first flushes them, so the log stays in order.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

from mipd.protocol import codes

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
LOGGER = "mipd"
LOG_FILE_MODE = 0o640  # at most: node addresses and decisions, never keys; the owner's group may read it


class _Formatter(logging.Formatter):
    """`2024-01-01T00:00:00.123Z info mipd.home_agent registration node=... code=0`."""

    def format(self, record: logging.LogRecord) -> str:
        t = time.gmtime(record.created)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{int(record.msecs):03d}Z"
        text = f"{stamp} {record.levelname.lower()} {record.name} {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class _Lines:
    """Decision lines waiting to be written to `stream` (the mipd handler's)."""

    __slots__ = ("lines", "stream", "_second", "_prefix")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.stream: TextIO | None = None
        self._second = -1
        self._prefix = ""

    def stamp(self, now: float) -> str:
        """The _Formatter's time format, with the date part formatted once a second."""
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((now - second) * 1000):03d}Z"

    def flush(self) -> None:
        if self.lines:
            text = "".join(self.lines)
            self.lines.clear()
            if self.stream is not None:
                try:
                    self.stream.write(text)
                    self.stream.flush()
                except (OSError, ValueError):
                    pass  # a full disk must not stop the agent; the logging module would also drop it


_pending = _Lines()


class _FlushFirst(logging.Filter):
    """Writes the pending decision lines before any other record, so the log stays in order."""

    def filter(self, record: logging.LogRecord) -> bool:
        _pending.flush()
        return True


def flush() -> None:
    """Write the decision lines gathered since the last call (the daemon calls this after each batch)."""
    _pending.flush()


def setup(level: str = "info", file: str | None = None) -> logging.Logger:
    """Configure the "mipd" logger: `level`, to `file` (appended) or stderr. Idempotent."""
    logger = logging.getLogger(LOGGER)
    _pending.flush()
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    handler: logging.StreamHandler[TextIO]
    if file:  # created 0600 whatever the umask; FileHandler then appends to it
        os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600))
    handler = logging.FileHandler(file) if file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    handler.addFilter(_FlushFirst())
    _pending.stream = handler.stream
    logger.addHandler(handler)
    logger.setLevel(LEVELS.get(level, logging.INFO))
    logger.propagate = False
    if file:
        _narrow_mode(handler.stream, file, logger)
    return logger


def _narrow_mode(stream: TextIO, file: str, logger: logging.Logger) -> None:
    """A log file found with more than LOG_FILE_MODE (made by an older mipd, or another umask) is
    narrowed to it, with a warning; one the agent cannot change is only warned about."""
    mode = stat.S_IMODE(os.fstat(stream.fileno()).st_mode)
    if not mode & ~LOG_FILE_MODE:
        return
    try:
        os.fchmod(stream.fileno(), mode & LOG_FILE_MODE)
        logger.warning("log file %s was mode %04o; now %04o", file, mode, mode & LOG_FILE_MODE)
    except OSError as e:
        logger.warning("log file %s is mode %04o, more than %04o, and cannot be changed: %s", file, mode,
                       LOG_FILE_MODE, e.strerror or e)


def set_level(level: str) -> None:
    logging.getLogger(LOGGER).setLevel(LEVELS.get(level, logging.INFO))


_PLAIN = re.compile(r"[A-Za-z0-9._:/@+*-]+").fullmatch


def quote(value: Any) -> str:
    """A value as it appears after `key=`: bare when it is one plain token, else double-quoted."""
    if type(value) is int:  # the common case (codes, lifetimes): no quoting needed
        return str(value)
    if value is None:
        return "-"
    if value is True or value is False:
        return "true" if value else "false"
    text = value if isinstance(value, str) else str(value)
    if _PLAIN(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def kv(fields: Mapping[str, Any]) -> str:
    return " ".join([f"{k}={quote(v)}" for k, v in fields.items()])


_REASONS: dict[int, str] = {}  # code -> " reason=..." (a decision line names its code; RFC 5944 §3.4, §3.6)


def _reason(code: int) -> str:
    text = _REASONS.get(code)
    if text is None:
        text = _REASONS[code] = f" reason={quote(codes.name(code))}"
    return text


class DecisionLog:
    """Writes the state machines' `Log` actions for one role (logger "mipd.<role>"), gathered until `flush`."""

    __slots__ = ("logger", "name")

    def __init__(self, role: str) -> None:
        self.name = f"{LOGGER}.{role}"
        self.logger = logging.getLogger(self.name)

    def emit(self, event: str, fields: Mapping[str, Any], level: str) -> None:
        if not self.logger.isEnabledFor(LEVELS.get(level, logging.INFO)):
            return
        code = fields.get("code")
        extra = _reason(code) if type(code) is int and "reason" not in fields else ""
        _pending.lines.append(f"{_pending.stamp(time.time())} {level} {self.name} {event} {kv(fields)}{extra}\n")
