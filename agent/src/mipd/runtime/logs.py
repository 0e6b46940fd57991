"""Logging: one structured key=value line per decision, to stderr or a file.

The state machines return `Log` actions (one per registration decision: node, care-of address,
code, reason; RFC 5944 §3.7.2.3, §3.8.2.3). They carry no key material by contract, and this
module adds none: it formats `fields` as key=value pairs, and only when the level is enabled,
so a disabled level costs one comparison on the hot path.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from typing import Any

from mipd.protocol import codes

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
LOGGER = "mipd"


class _Formatter(logging.Formatter):
    """`2024-01-01T00:00:00.123Z info mipd.home_agent registration node=... code=0`."""

    def format(self, record: logging.LogRecord) -> str:
        t = time.gmtime(record.created)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{int(record.msecs):03d}Z"
        text = f"{stamp} {record.levelname.lower()} {record.name} {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def setup(level: str = "info", file: str | None = None) -> logging.Logger:
    """Configure the "mipd" logger: `level`, to `file` (appended) or stderr. Idempotent."""
    logger = logging.getLogger(LOGGER)
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    handler: logging.Handler = logging.FileHandler(file) if file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    logger.addHandler(handler)
    logger.setLevel(LEVELS.get(level, logging.INFO))
    logger.propagate = False
    return logger


def set_level(level: str) -> None:
    logging.getLogger(LOGGER).setLevel(LEVELS.get(level, logging.INFO))


def quote(value: Any) -> str:
    """A value as it appears after `key=`: bare when it is one plain token, else double-quoted."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text and all(c.isalnum() or c in "._:/@-+*" for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def kv(fields: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={quote(v)}" for k, v in fields.items())


class DecisionLog:
    """Writes the state machines' `Log` actions for one role (logger "mipd.<role>")."""

    __slots__ = ("logger",)

    def __init__(self, role: str) -> None:
        self.logger = logging.getLogger(f"{LOGGER}.{role}")

    def emit(self, event: str, fields: Mapping[str, Any], level: str) -> None:
        lvl = LEVELS.get(level, logging.INFO)
        if not self.logger.isEnabledFor(lvl):
            return
        code = fields.get("code")
        extra = ""
        if isinstance(code, int) and "reason" not in fields:
            extra = f" reason={quote(codes.name(code))}"
        self.logger.log(lvl, "%s %s%s", event, kv(fields), extra)
