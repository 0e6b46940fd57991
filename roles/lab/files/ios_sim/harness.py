"""Starting a simulated router as a process, for tests and scripts.

    router = RouterProcess(tmp_path / "r1", hostname="R1").start()
    conn = router.netmiko()            # netmiko cisco_ios, logged in with generated credentials
    ...
    router.stop()                       # SIGTERM to its PID; its exit status

Credentials are generated per router (random password and enable secret; a key pair on request)
and written to a 0600 users file in the state directory. With `netns`, the router runs inside
that network namespace (`ip netns exec`, which execs: the PID is the router's), listening on
the given address there.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from ios_sim import cmdlog

PACKAGE_PARENT = Path(__file__).resolve().parents[1]  # roles/lab/files: where `ios_sim` is importable from


class RouterProcess:
    """One `python -m ios_sim` process and its credentials."""

    def __init__(self, state_dir: Path, hostname: str = "R1", *, listen: str = "127.0.0.1:0",
                 netns: str | None = None, extra_args: tuple[str, ...] = (), public_key: str | None = None,
                 privilege: int = 1) -> None:
        self.state_dir = state_dir
        self.hostname = hostname
        self.listen_arg = listen
        self.netns = netns
        self.extra_args = extra_args
        self.username = "admin"
        self.password = secrets.token_urlsafe(12)
        self.enable_secret = secrets.token_urlsafe(12)
        self.users_file = state_dir / "users.yaml"
        self.proc: subprocess.Popen[bytes] | None = None
        self.address = ""
        self.port = 0
        user: dict[str, Any] = {"name": self.username, "password": self.password, "privilege": privilege}
        if public_key:
            user["authorized_keys"] = [public_key]
        self.write_users({"enable_secret": self.enable_secret, "users": [user]})

    def write_users(self, data: dict[str, Any]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.users_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            yaml.safe_dump(data, out)

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "ios_sim", "--hostname", self.hostname, "--listen", self.listen_arg,
                "--state-dir", str(self.state_dir), "--users-file", str(self.users_file), *self.extra_args]
        return ["ip", "netns", "exec", self.netns, *argv] if self.netns else argv

    def start(self, timeout: float = 20.0) -> RouterProcess:
        """Start and wait until it listens (its PID file appears); RuntimeError with its stderr if it exits."""
        (self.state_dir / "ios_sim.pid").unlink(missing_ok=True)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PACKAGE_PARENT),
                                                                        os.environ.get("PYTHONPATH")])))
        self.proc = subprocess.Popen(self.argv(), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ios_sim exited {self.proc.returncode}: {self.proc.stderr.read().decode()}")
            if (self.state_dir / "ios_sim.pid").exists():
                self.address, _colon, port = (self.state_dir / "listen").read_text().strip().rpartition(":")
                self.port = int(port)
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"ios_sim did not start within {timeout:g} s")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM to the router's PID (SIGKILL after `timeout`); its exit status."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        return self.proc.returncode

    def netmiko(self, **options: Any) -> Any:
        """A netmiko cisco_ios connection with this router's credentials (options override them)."""
        from netmiko import ConnectHandler

        params: dict[str, Any] = {"device_type": "cisco_ios", "host": self.address, "port": self.port,
                                  "username": self.username, "password": self.password,
                                  "secret": self.enable_secret, "conn_timeout": 15}
        params.update(options)
        return ConnectHandler(**params)

    def ansible_vars(self, network_cli: bool = False) -> dict[str, Any]:
        """Inventory variables that reach this router as an IOS-like host of the collection: its netmiko
        transport (the default), or ansible.netcommon.network_cli."""
        host: dict[str, Any] = {"ansible_host": self.address, "ansible_port": self.port, "ansible_user": self.username,
                                "ansible_password": self.password, "ansible_network_os": "cisco.ios.ios",
                                "ansible_become": True, "ansible_become_password": self.enable_secret,
                                "ansible_become_method": "netmobility.mobileip.enable"}
        if network_cli:
            host.update(ansible_connection="ansible.netcommon.network_cli",
                        ansible_become_method="ansible.netcommon.enable")
        return host

    def commands(self) -> list[dict[str, Any]]:
        """The session log's entries (cmdlog.py)."""
        return cmdlog.read(self.state_dir / "commands.log")

    def router_log(self) -> str:
        path = self.state_dir / "router.log"
        return path.read_text() if path.exists() else ""
