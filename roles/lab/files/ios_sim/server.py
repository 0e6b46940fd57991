"""The SSH server (asyncssh): logins, one CLI session per shell channel, clean stop.

Like IOS's SSH server it accepts password and public-key logins for the configured users,
a PTY and a shell (netmiko and network_cli both ask for both), and also an exec request
(`ssh R1 show version`: the command runs at the user's privilege and the channel closes).
A failed login is refused by SSH itself (the client reports an authentication failure).

The process writes `ios_sim.pid` (and `listen`: the address and port it listens on, useful
with port 0) into the state directory once it accepts connections, and on SIGTERM or SIGINT
closes the sessions, stops its mipd (by PID) and removes the PID file.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import asyncssh

from ios_sim.router import Router
from ios_sim.session import Session, SessionClosed
from ios_sim.terminal import SshTerminal
from ios_sim.users import Users

HOST_KEY_NAME = "ssh_host_ed25519_key"


class _SshServer(asyncssh.SSHServer):
    """Authentication against the users file."""

    def __init__(self, users: Users, log: logging.Logger) -> None:
        self.users = users
        self.log = log
        self.conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn

    def begin_auth(self, username: str) -> bool:
        user = self.users.users.get(username)
        keys = user.keys() if user is not None else None
        if keys is not None and self.conn is not None:
            self.conn.set_authorized_keys(keys)
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        user = self.users.users.get(username)
        accepted = user is not None and user.password_ok(password)
        if not accepted:
            self.log.warning("login failed for %r from %s", username, self._peer())
        return accepted

    def public_key_auth_supported(self) -> bool:
        return True

    def _peer(self) -> str:
        peer = self.conn.get_extra_info("peername") if self.conn is not None else None
        return f"{peer[0]}:{peer[1]}" if peer else "?"


class SshRouter:
    """The router behind an SSH listener."""

    def __init__(self, router: Router, users: Users, listen: tuple[str, int], host_key: Path) -> None:
        self.router = router
        self.users = users
        self.listen = listen
        self.host_key = host_key
        self.server: asyncssh.SSHAcceptor | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def _load_host_key(self) -> asyncssh.SSHKey:
        """The router's host key, generated on first start (0600), kept across restarts like IOS's."""
        if self.host_key.exists():
            return asyncssh.read_private_key(str(self.host_key))
        key = asyncssh.generate_private_key("ssh-ed25519")
        fd = os.open(self.host_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key.export_private_key())
        return key

    async def start(self) -> tuple[str, int]:
        log = self.router.log
        self.server = await asyncssh.create_server(
            lambda: _SshServer(self.users, log), self.listen[0], self.listen[1],
            server_host_keys=[self._load_host_key()], process_factory=self._process, encoding="utf-8", errors="replace",
            line_editor=False, allow_scp=False, agent_forwarding=False, x11_forwarding=False)
        address = self.server.sockets[0].getsockname()
        return address[0], address[1]

    async def _process(self, process: asyncssh.SSHServerProcess[str]) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        username = process.get_extra_info("username")
        user = self.users.users[username]
        peer = process.get_extra_info("peername")
        number = self.router.next_session()
        terminal = SshTerminal(process, self.router.options.newline)
        session = Session(self.router, terminal, username, user.privilege, number)
        self.router.log.info("session %d: %s logged in from %s", number, username, peer[0] if peer else "?")
        try:
            if process.command:
                for line in process.command.split(";"):
                    await session.execute(line.strip())
            else:
                await session.run()
        except SessionClosed:
            pass
        except Exception:
            self.router.log.exception("session %d failed", number)
        finally:
            self.router.log.info("session %d: %s logged out", number, username)
            if task is not None:
                self.tasks.discard(task)
            process.exit(0)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # sessions gone before mipd and the log close
        await self.router.shutdown()


async def serve(router: Router, users: Users, listen: tuple[str, int], host_key: Path) -> None:
    """Boot the router, listen, write the PID file, run until SIGTERM/SIGINT, then stop cleanly."""
    state_dir = router.options.state_dir
    pid_file, listen_file = state_dir / "ios_sim.pid", state_dir / "listen"
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await router.boot()
    ssh = SshRouter(router, users, listen, host_key)
    address, port = await ssh.start()
    listen_file.write_text(f"{address}:{port}\n")
    pid_file.write_text(f"{os.getpid()}\n")
    router.log.info("%s listening on %s:%d (pid %d)", router.hostname, address, port, os.getpid())
    try:
        await stop.wait()
    finally:
        router.log.info("stopping")
        await ssh.stop()
        pid_file.unlink(missing_ok=True)
        listen_file.unlink(missing_ok=True)
