"""The real Mobile IP agent behind the simulated router: a mipd in the router's network namespace.

An IOS router runs Mobile IP in its own image; this router runs the project's mipd next to it
(the simulator is started inside the namespace, so mipd answers on that namespace's UDP 434 and
advertises on its links). Two parts:

- `MipdAttachment`: start, reload and stop one mipd process (by PID, never by name), check a
  configuration with `mipd check-config`, and ask it for its tables with `mipctl --json`;
- `MobileIpApplier`: what the router calls when configuration mode is left (`end`, Ctrl-Z):
  `apply(running_config_text)` translates the IOS Mobile IP configuration into a mipd
  configuration and keys file (0600), checks it, and reloads or starts mipd.

The translation step is a `Translator`, a callable `(running_config_text, links) -> MipdFiles |
None` (`--translator MODULE:FUNCTION`), where `links` maps the router's interface names to the
Linux links they stand for (`--interface Ethernet0/1=fa-visit`; None when not given). The default,
translator.py, goes through the collection's model: its IOS platform parses the lines, its Linux
platform renders mipd's files. With `--translator none` the router keeps its running
configuration, does not touch mipd, and says so in its log: nothing pretends to have applied
anything. Daemon settings (`--mipd-settings`: dataplane, log, state_sync) go under the
translated roles; the paths are the router's own.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

VENV_BIN = Path(sys.executable).parent


@dataclass
class MipdFiles:
    """A translated configuration: mipd's YAML sections and its keys file (security associations).

    The attachment sets the paths (control_socket, state_db, keys_file) to the router's own
    directory, so a translator only describes roles, addresses and associations.
    """

    config: dict[str, Any]
    keys: dict[str, Any] = field(default_factory=dict)


Translator = Callable[[str, dict[str, "str | None"]], "MipdFiles | None"]
DEFAULT_TRANSLATOR = "ios_sim.translator:translate"  # the collection's IOS parser and Linux renderer
# What --mipd-settings may set: mipd's daemon settings; the paths are the router's own (below).
SETTINGS = ("dataplane", "log", "state_sync")


def load_translator(spec: str) -> Translator:
    """`package.module:function` -> the function (a Translator)."""
    module_name, _colon, function = spec.partition(":")
    if not module_name or not function:
        raise ValueError(f"--translator must be MODULE:FUNCTION, not {spec!r}")
    return getattr(importlib.import_module(module_name), function)


def load_settings(path: Path) -> dict[str, Any]:
    """The daemon settings of a `--mipd-settings` YAML file (ValueError naming a key it may not set)."""
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must hold a mapping of {', '.join(SETTINGS)}")
    for key in data:
        if key not in SETTINGS:
            raise ValueError(f"{path}: {key}: not a daemon setting the router passes to mipd "
                             f"(one of {', '.join(SETTINGS)})")
    return data


class MipdUnavailable(Exception):
    """No mipd attached, or it does not answer."""


class MipdAttachment:
    """One mipd process started by this router, and its control socket (through mipctl)."""

    def __init__(self, workdir: Path, log: logging.Logger, mipd: str | None = None,
                 mipctl: str | None = None) -> None:
        self.workdir = workdir
        self.log = log
        self.mipd = mipd or str(VENV_BIN / "mipd")
        self.mipctl = mipctl or str(VENV_BIN / "mipctl")
        self.config_path: Path | None = None
        self.process: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def _run(self, *argv: str, timeout: float = 30.0) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)
        try:
            out, _stderr = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return -1, f"{argv[0]} timed out after {timeout:g} s"
        return proc.returncode or 0, out.decode(errors="replace")

    async def check(self, config_path: Path) -> tuple[bool, str]:
        """`mipd check-config`: (valid, its message)."""
        code, out = await self._run(self.mipd, "check-config", str(config_path))
        return code == 0, out.strip()

    async def start(self, config_path: Path, timeout: float = 15.0) -> None:
        """`mipd run --foreground` in this namespace; returns once its control socket answers."""
        await self.stop()
        self.config_path = config_path
        self.workdir.mkdir(parents=True, exist_ok=True)
        log_file = self.workdir / "mipd.log"
        with open(log_file, "ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                self.mipd, "run", "--config", str(config_path), "--foreground", "--log-file", str(log_file),
                stdout=out, stderr=out)
        self.log.info("mipd started (pid %d) with %s", self.process.pid, config_path)
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if not self.running:
                raise MipdUnavailable(f"mipd exited with status {self.process.returncode} (see {log_file})")
            try:
                await self.query("status")
                return
            except MipdUnavailable:
                await asyncio.sleep(0.1)
        raise MipdUnavailable(f"mipd did not answer within {timeout:g} s (see {log_file})")

    async def reload(self) -> None:
        code, out = await self._run(self.mipctl, "--config", str(self.config_path), "reload")
        if code != 0:
            raise MipdUnavailable(f"mipctl reload failed: {out.strip()}")
        self.log.info("mipd reloaded: %s", out.strip().replace("\n", "; "))

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to our mipd's PID, SIGKILL if it does not stop in `timeout` seconds."""
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        self.log.info("mipd stopped (pid %d, status %s)", self.process.pid, self.process.returncode)

    async def query(self, command: str) -> Any:
        """`mipctl --json COMMAND`'s result (bindings, visitors, status, sas, counters)."""
        if self.config_path is None:
            raise MipdUnavailable("no mipd attached")
        code, out = await self._run(self.mipctl, "--config", str(self.config_path), "--json", command, timeout=10.0)
        try:
            answer = json.loads(out)
        except ValueError:
            raise MipdUnavailable(out.strip() or f"mipctl exited {code}") from None
        if not answer.get("ok"):
            raise MipdUnavailable(str(answer.get("error")))
        return answer["result"]

    def settings(self) -> dict[str, Any]:
        """The attached mipd's configuration file as YAML data ({} when none)."""
        if self.config_path is None or not self.config_path.exists():
            return {}
        return yaml.safe_load(self.config_path.read_text()) or {}


class MobileIpApplier:
    """The router's hook on leaving configuration mode: running config -> mipd (via a Translator)."""

    def __init__(self, attachment: MipdAttachment, translator: Translator | None, log: logging.Logger,
                 links: dict[str, str | None] | None = None, settings: dict[str, Any] | None = None) -> None:
        self.attachment = attachment
        self.translator = translator
        self.log = log
        self.links = links or {}
        self.settings = settings or {}  # daemon settings put under the translated roles
        self.last_status = "not applied yet"

    async def apply(self, running_config: str) -> str:
        """Translate, write (keys 0600), `mipd check-config`, then reload or start mipd; a status line."""
        self.last_status = await self._apply(running_config)
        self.log.info("apply: %s", self.last_status)
        return self.last_status

    async def _apply(self, running_config: str) -> str:
        if self.translator is None:
            return "no translator configured: running configuration kept, mipd not reconfigured"
        try:
            files = self.translator(running_config, dict(self.links))
        except Exception as error:  # the translator's refusal (what IOS accepts and mipd cannot do)
            return f"translation failed, mipd keeps its last configuration: {error}"
        if files is None:
            await self.attachment.stop()
            return "no Mobile IP configuration: mipd stopped"
        config_path = self._write(files)
        valid, message = await self.attachment.check(config_path)
        if not valid:
            return f"mipd check-config refused the translated configuration: {message}"
        try:
            if self.attachment.running and self.attachment.config_path == config_path:
                await self.attachment.reload()
                return "mipd reloaded"
            await self.attachment.start(config_path)
        except MipdUnavailable as error:
            return f"mipd failed: {error}"
        return "mipd started"

    def _write(self, files: MipdFiles) -> Path:
        """mipd.yaml and keys.yaml in the attachment's directory, keys 0600 (umask 077 first)."""
        workdir = self.attachment.workdir
        old_umask = os.umask(0o077)
        try:
            workdir.mkdir(parents=True, exist_ok=True)
            keys_path = workdir / "keys.yaml"
            config = {**self.settings, **files.config}
            config.update(control_socket=str(workdir / "mipd.sock"), state_db=str(workdir / "state.db"),
                          keys_file=str(keys_path))
            _replace(keys_path, yaml.safe_dump(files.keys, sort_keys=False))
            config_path = workdir / "mipd.yaml"
            _replace(config_path, yaml.safe_dump(config, sort_keys=False))
        finally:
            os.umask(old_umask)
        return config_path


def _replace(path: Path, text: str) -> None:
    """Write a file atomically, mode 0600 (a reader never sees half a keys file)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)
