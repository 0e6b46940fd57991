# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agent's command-line tools on a Linux host: `mipd check-config` and `mipctl --json`.

mipctl prints {"ok": true, "result": ...} or {"ok": false, "error": "..."}; exit status 0 done,
1 refused (e.g. a command for a role the host does not have), 3 mipd cannot be reached.
Nothing either tool prints contains key material.
"""

from __future__ import annotations

import json
import os
from typing import Any

EXIT_UNREACHABLE = 3
EXIT_STILL_RUNNING = 4  # mipctl: the request was delivered but not answered in time (a reload goes on)


def find_program(module: Any, name: str, agent_bin_dir: str | None) -> str | None:
    """`name` in `agent_bin_dir` (the agent's virtualenv bin), else on PATH; None when absent."""
    if agent_bin_dir:
        path = os.path.join(agent_bin_dir, name)
        return path if os.access(path, os.X_OK) else None
    return module.get_bin_path(name)


def agent_python(module: Any, agent_bin_dir: str | None) -> str | None:
    """The Python the agent runs with (it has PyYAML): the interpreter named by mipd's #! line."""
    mipd = find_program(module, "mipd", agent_bin_dir)
    if mipd is None:
        return None
    try:
        with open(mipd, "rb") as f:
            first = f.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    python = first[2:].decode(errors="replace").strip().split(" ")[0]
    return python if os.access(python, os.X_OK) else None


def check_config(module: Any, mipd: str, path: str) -> tuple[bool, str]:
    """Run `mipd check-config path`: (accepted, what it said)."""
    rc, out, err = module.run_command([mipd, "check-config", path])
    return rc == 0, (err.strip() or out.strip())


class Mipctl:
    """Runs `mipctl --json` against one daemon."""

    def __init__(self, module: Any, program: str, socket: str | None = None, config: str | None = None) -> None:
        self.module = module
        self.program = program
        self.socket = socket
        self.config = config

    def request(self, command: str) -> tuple[int, dict[str, Any]]:
        """(exit status, the daemon's answer); a garbled answer is reported as refused."""
        argv = [self.program, "--json"]
        if self.socket:
            argv += ["--socket", self.socket]
        elif self.config:
            argv += ["--config", self.config]
        rc, out, err = self.module.run_command(argv + [command])
        try:
            answer = json.loads(out)
            if not isinstance(answer, dict):
                raise ValueError(out)
        except ValueError:
            answer = {"ok": False, "error": err.strip() or out.strip() or f"mipctl exited with status {rc}"}
        return rc, answer

    def gather(self, commands: tuple[str, ...]) -> dict[str, Any]:
        """{command: result} for each command; raises AgentUnreachable / AgentRefused."""
        info: dict[str, Any] = {}
        for command in commands:
            rc, answer = self.request(command)
            if rc == EXIT_UNREACHABLE:
                raise AgentUnreachable(answer.get("error") or "mipd cannot be reached")
            if not answer.get("ok"):
                raise AgentRefused(f"mipctl {command}: {answer.get('error')}")
            info[command] = answer.get("result")
        return info


class AgentUnreachable(Exception):
    """mipd is not running (or its control socket is elsewhere)."""


class AgentRefused(Exception):
    """mipd answered with an error."""


def role_commands(roles: list[str]) -> tuple[str, ...]:
    """The commands that apply to a daemon with `roles` (from its status)."""
    out = []
    if "home_agent" in roles:
        out.append("bindings")
    if "foreign_agent" in roles:
        out += ["visitors", "pending"]
    if "mobile_node" in roles:
        out.append("registration")
    return tuple(out)


AGENT_OPTIONS = {
    "config_path": {"type": "path", "default": "/etc/mipd/mipd.yaml"},
    "control_socket": {"type": "path"},
    "agent_bin_dir": {"type": "path"},
}


def mipctl_for(module: Any) -> Mipctl:
    """A Mipctl for the module's agent options; fails the module when mipctl is not installed."""
    p = module.params
    program = find_program(module, "mipctl", p["agent_bin_dir"])
    if program is None:
        where = p["agent_bin_dir"] or "the PATH"
        module.fail_json(msg=f"mipctl not found in {where}: install the agent (it comes with mipd), or set "
                         "agent_bin_dir to the bin directory of its virtualenv")
    config = p["config_path"] if os.path.exists(p["config_path"]) else None
    return Mipctl(module, program, socket=p["control_socket"], config=config)  # type: ignore[arg-type]
