"""The router: what all sessions share (one running configuration, the startup-config in NVRAM,
the session log, the attached mipd) and its boot.

As IOS does at boot, the router builds its default configuration (hostname, its interfaces with
`no ip address`), then reads the startup-config (a file in the state directory, mode 0600: it
holds Mobile IP keys) line by line through the configuration grammar, reporting lines it refuses
in its log. `write memory` / `copy running-config startup-config` replace that file atomically.
After boot and whenever a session leaves configuration mode with a changed configuration, the
Mobile IP configuration is handed to the applier (mipd_attach.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ios_sim.cmdlog import CommandLog
from ios_sim.config_store import ConfigTree
from ios_sim.mipd_attach import MipdAttachment, MipdUnavailable, MobileIpApplier, Translator
from ios_sim.modes import build_modes
from ios_sim.session import Session

DEFAULT_INTERFACES = ("Ethernet0/0", "Ethernet0/1")


@dataclass
class RouterOptions:
    """How the simulated router looks and behaves (command line of `python -m ios_sim`)."""

    hostname: str
    state_dir: Path
    interfaces: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(DEFAULT_INTERFACES))
    enable_secret: str | None = None
    enable_tries: int = 3  # IOS prompts three times before "% Bad secrets"
    pipe_section: bool = True  # False: `| section` is invalid input, as on IOS 12.2
    ios_version: str = "12.4(25d)"
    newline: str = "\n"
    translator: Translator | None = None
    mipd_config: Path | None = None  # start this mipd configuration at boot (no translation)
    mipd_settings: dict[str, Any] = field(default_factory=dict)  # daemon settings for the translated config
    # configuration lines these match (whole line, stripped) are invalid input, as on a release without them
    refuse: tuple[re.Pattern[str], ...] = ()
    # configuration lines these match are accepted and not kept (a release that ignores them)
    ignore: tuple[re.Pattern[str], ...] = ()


class Router:
    """One simulated IOS router."""

    def __init__(self, options: RouterOptions, log: logging.Logger | None = None) -> None:
        self.options = options
        self.log = log or logging.getLogger("ios_sim")
        self.modes = build_modes(options)
        self.config = ConfigTree()
        self.started = time.monotonic()
        self.startup_path = options.state_dir / "startup-config"
        self.cmdlog = CommandLog(options.state_dir / "commands.log")
        self.attachment = MipdAttachment(options.state_dir / "mipd", self.log)
        self.applier = MobileIpApplier(self.attachment, options.translator, self.log, options.interfaces,
                                       options.mipd_settings)
        self.sessions = 0
        self._applied: str | None = None
        self._apply_lock = asyncio.Lock()

    @property
    def hostname(self) -> str:
        item = self.config.node((("hostname",),))
        return item.text.split()[1] if item is not None else "Router"

    def next_session(self) -> int:
        self.sessions += 1
        return self.sessions

    # ------------------------------------------------------------ boot and NVRAM

    async def boot(self) -> None:
        """Default configuration (`version 12.4`, hostname, interfaces), then the startup-config, then
        the first apply (or the given mipd)."""
        loader = Session(self, _NullTerminal(), "boot", 15, 0, log=False)
        release = ".".join(self.options.ios_version.split(".")[:2]).split("(", maxsplit=1)[0]  # 12.4(25d) -> 12.4
        defaults = [f"version {release}", f"hostname {self.options.hostname}"]
        for name in self.options.interfaces:
            defaults.append(f"interface {name}")
        await loader.load("\n".join(defaults))
        if self.startup_path.exists():
            errors = await loader.load(self.startup_path.read_text())
            for line in errors:
                self.log.warning("startup-config line refused: %s", line)
        if self.options.mipd_config is not None:
            try:
                await self.attachment.start(self.options.mipd_config)
            except MipdUnavailable as error:  # the router still boots, as IOS does with a broken feature
                self.log.error("mipd from --mipd-config: %s", error)
        await self.apply_if_changed()

    def save(self) -> None:
        """`write memory`: the running configuration becomes the startup-config (atomic, 0600)."""
        tmp = self.startup_path.with_name("startup-config.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.config.text())
        os.replace(tmp, self.startup_path)

    def startup_text(self) -> str | None:
        return self.startup_path.read_text() if self.startup_path.exists() else None

    def erase_startup(self) -> None:
        self.startup_path.unlink(missing_ok=True)

    async def merge(self, session: Session, text: str) -> list[str]:
        """`copy startup-config running-config`: the text's lines run on top of the running config."""
        merger = Session(self, _NullTerminal(), session.user, 15, session.number, log=False)
        errors = await merger.load(text)
        await self.apply_if_changed()
        return errors

    # ------------------------------------------------------------ the Mobile IP hook

    async def config_exited(self, session: Session) -> None:
        """A session left configuration mode (IOS logs %SYS-5-CONFIG_I): apply what changed."""
        self.log.info("configured by %s on vty session %d", session.user, session.number)
        await self.apply_if_changed()

    async def apply_if_changed(self) -> None:
        async with self._apply_lock:
            text = self.config.text()
            if text == self._applied:
                return
            self._applied = text
            await self.applier.apply(text)

    async def shutdown(self) -> None:
        await self.attachment.stop()
        self.cmdlog.close()


class _NullTerminal:
    """The terminal of the boot loader: output goes nowhere, there is no input."""

    newline = "\n"

    def write(self, text: str) -> None:
        pass

    async def readline(self, echo: bool = True, initial: str = "") -> str | None:
        return None

    async def readkey(self) -> str | None:
        return None
