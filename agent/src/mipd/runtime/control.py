"""The control socket: a Unix stream socket speaking one JSON object per line.

Request: ``{"command": "bindings"}``. Response: ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": "..."}``. The socket file is mode 0600 and peers are checked with
SO_PEERCRED: only root (or the daemon's own user) is served. Nothing served here ever holds key
material: security associations are shown by peer, SPI, algorithm, replay method and a key
fingerprint (`mipd.security.fingerprint`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

COMMANDS = ("status", "bindings", "visitors", "pending", "registration", "counters", "sas", "drop-sas", "reload")
MAX_REQUEST = 64 * 1024  # bytes of one request line; a real one is under 100
MAX_DEPTH = 8  # nesting of a request's JSON; a real one is 1 or 2 deep
_UCRED = struct.Struct("=iII")  # struct ucred: pid, uid, gid

Handler = Callable[[str, dict[str, Any]], Awaitable[Any]]


class ControlError(Exception):
    """A request the daemon refuses; the message goes back to the client."""


class ControlServer:
    """Serves `handler(command, request)` on the Unix socket at `path`."""

    def __init__(self, path: str, handler: Handler) -> None:
        self.path = path
        self.handler = handler
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        path = self.path
        os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
        if os.path.exists(path):
            listener = _listener(path)
            if listener is not None:
                from mipd.runtime.owners import describe

                raise OSError(f"control socket {path} is in use by a running mipd, {describe(listener)}")
            os.unlink(path)  # stale, from a daemon that did not exit cleanly
        old = os.umask(0o177)  # the socket is created 0600: no window where others may connect
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=path, limit=MAX_REQUEST)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        allowed = _peer_allowed(writer)
        try:
            while True:
                try:
                    line = await reader.readline()
                except (asyncio.LimitOverrunError, ValueError):
                    await _write(writer, {"ok": False, "error": f"request longer than {MAX_REQUEST} bytes"})
                    return
                if not line:
                    return
                if not allowed:  # answered after reading the request, so the client sees the reason
                    await _write(writer, {"ok": False, "error": "permission denied: root only"})
                    return
                request = _decode(line)
                if isinstance(request, str):  # undecodable: answered, and the connection closed
                    await _write(writer, {"ok": False, "error": request})
                    return
                await _write(writer, await self._answer(request))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        command = request.get("command")
        if not isinstance(command, str) or command not in COMMANDS:
            shown = repr(command) if isinstance(command, str) and len(command) <= 40 else "given"
            return {"ok": False, "error": f"unknown command {shown}; one of {', '.join(COMMANDS)}"}
        try:
            return {"ok": True, "result": await self.handler(command, request)}
        except ControlError as e:
            return {"ok": False, "error": str(e)}
        except Exception as e:  # the daemon must keep serving
            return {"ok": False, "error": f"internal error: {type(e).__name__}: {e}"}


def _decode(line: bytes) -> dict[str, Any] | str:
    """The request object in `line`, or why it is refused: not UTF-8 JSON, not an object, nested
    deeper than MAX_DEPTH (json.loads recurses: 30,000 levels would raise RecursionError)."""
    try:
        request = json.loads(line)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return "request is not a JSON object"
    if not isinstance(request, dict):
        return "request is not a JSON object"
    if _too_deep(request, MAX_DEPTH):
        return f"request is nested deeper than {MAX_DEPTH} levels"
    return request


def _too_deep(value: Any, limit: int) -> bool:
    """Is `value` nested more than `limit` containers deep? (iterative: no recursion to exhaust)"""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _peer_allowed(writer: asyncio.StreamWriter) -> bool:
    sock = writer.get_extra_info("socket")
    if sock is None:
        return False
    try:
        _pid, uid, _gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
    except OSError:
        return False
    return uid == 0 or uid == os.geteuid()


async def _write(writer: asyncio.StreamWriter, obj: dict[str, Any]) -> None:
    writer.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")
    await writer.drain()


def _listener(path: str) -> int | None:
    """The pid of the daemon listening on `path` (SO_PEERCRED of a connection; 0 when it cannot be
    told), None when nothing listens."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        try:
            s.connect(path)
        except OSError:
            return None
        try:
            return _UCRED.unpack(s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))[0]
        except OSError:
            return 0


class AnswerTimeout(TimeoutError):
    """The request reached the daemon but no answer came within the timeout (the daemon may still be
    working on it: a reload goes on, and its outcome is logged and shown by `status`)."""


CONNECT_TIMEOUT = 5.0  # a live daemon accepts at once; the answer may take longer (reload)


def request(path: str, command: str, timeout: float = 10.0, **args: Any) -> dict[str, Any]:
    """Send one request to the daemon at `path` and return its response object (blocking).

    `timeout` bounds the wait for the answer once the request is sent (connecting takes at most
    CONNECT_TIMEOUT, or `timeout` when shorter). Raises AnswerTimeout when the request was sent but
    not answered in time, OSError when the daemon cannot be reached, ValueError for a garbled response.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(min(timeout, CONNECT_TIMEOUT))
        s.connect(path)
        s.settimeout(timeout)
        try:
            s.sendall(json.dumps({"command": command, **args}).encode() + b"\n")
        except BrokenPipeError:
            pass  # the daemon answered and closed already: read what it said
        buf = b""
        while not buf.endswith(b"\n"):
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                raise AnswerTimeout(f"no answer within {timeout:g} s") from None
            if not chunk:
                break
            buf += chunk
    response = json.loads(buf)
    if not isinstance(response, dict) or "ok" not in response:
        raise ValueError("malformed response from mipd")
    return response
