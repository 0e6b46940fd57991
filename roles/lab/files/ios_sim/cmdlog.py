"""The session log: every command typed in every session, one JSON line each, keys masked.

Tests read it to prove what a client sent (check mode must send no configuration line); the lab
reads it to see what a playbook did. Fields: `time` (UTC, ISO 8601 with milliseconds),
`session` (a number per SSH session), `user`, `mode` (the mode the command was typed in: user,
exec, config, config-if, ...), `command` (as typed, secrets replaced by `*****`), `result`
(`ok` or the first line of the device's error). Passwords typed at a `Password:` prompt are
never logged. The file is created 0600 (it names users and shows the configuration's shape).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

MASK = "*****"


class CommandLog:
    """Append-only JSON-lines file (one write per command, flushed: a test reads it right after)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = os.fdopen(fd, "a", encoding="utf-8")

    def record(self, session: int, user: str, mode: str, command: str, result: str = "ok") -> None:
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
        entry = {"time": stamp, "session": session, "user": user, "mode": mode, "command": command,
                 "result": result}
        with self._lock:
            self._file.write(json.dumps(entry) + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read(path: Path) -> list[dict[str, object]]:
    """The entries of a session log (for tests and tools)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
