# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a module run on the controller reaches an IOS-like router: netmiko, or the host's network_cli.

Both give an `IosConnection` (platform.py): `show(command)` (an exec command's output), `configure(lines,
shown)` (configuration lines, in configuration mode; a line the router refuses stops the rest and fails
with the router's message and the lines applied before it) and `save()` (`write memory`).

- netmiko (the default): netmiko's `cisco_ios` driver, from the inventory's usual variables, which the
  action plugin passes in the module's `transport` option (secrets there are no_log): ansible_host,
  ansible_port, ansible_user, ansible_password or ansible_ssh_private_key_file, the enable secret from
  ansible_become_password; ansible_connect_timeout and ansible_command_timeout (default 30 s each).
- network_cli: a host whose inventory says `ansible_connection: ansible.netcommon.network_cli` (with
  ansible.netcommon and cisco.ios installed) is reached through that persistent connection (its socket:
  `module._socket_path`), which logs in and enables (ansible_become_method ansible.netcommon.enable).

Every failure (unreachable, timeout, authentication, enable secret, privilege level, refused line)
is a `PlatformError` of one line, without a password or key: keys only ever travel in the sent
lines, and messages quote the shown (masked) ones.

`connect(module)` picks the transport (None without one). `open_connection(module)` is the same, connected,
for modules that only read (mobility_info, verify_registration on IOS): give the module the `transport`
option (TRANSPORT_OPTION, doc fragment netmobility.mobileip.mipd.ios), let the action plugin run it on the
controller for IOS hosts (platform_dispatch.py), then

    router = open_connection(module)     # PlatformError (one line) if it cannot be reached
    try:
        text = router.show("show ip mobile binding")
    finally:
        router.close()
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.base import PlatformError

REFUSED = re.compile(r"^% ?(Invalid input detected.*|Incomplete command.*|Ambiguous command.*|Bad mask.*|"
                     r"Error.*|.*not found.*)$", re.M)
DEFAULT_TIMEOUT = 30
NO_TRANSPORT = ("no way to the router: run the task through the collection's action plugin (it passes the "
                "inventory's connection variables), or use state=rendered or state=parsed")
# The module option the action plugin fills from the inventory (never written in tasks).
TRANSPORT_OPTION: dict[str, Any] = {
    "type": "dict",
    "options": {
        "host": {"type": "str"},
        "port": {"type": "int", "default": 22},
        "username": {"type": "str"},
        "password": {"type": "str", "no_log": True},
        "private_key_file": {"type": "path"},
        "enable_secret": {"type": "str", "no_log": True},
        "connect_timeout": {"type": "int", "default": DEFAULT_TIMEOUT},
        "command_timeout": {"type": "int", "default": DEFAULT_TIMEOUT},
    },
}
# The options a module has on an IOS-like router (IosPlatform.options): here, with the transport's, so that
# a module's argument spec does not import the IOS platform code (a Linux host's module run never uses it).
IOS_OPTIONS: dict[str, Any] = {
    "save_when": {"type": "str", "default": "changed", "choices": ["never", "changed", "always"]},
    "transport": TRANSPORT_OPTION,
}


class NetmikoConnection:
    """An IOS-like router over netmiko's cisco_ios driver, at privilege level 15."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.where = _where(params)
        self.timeout = params.get("command_timeout") or DEFAULT_TIMEOUT
        self._session: Any = None

    def open(self) -> None:
        """Log in and enable now (otherwise the first command does)."""
        self._connect()

    def _connect(self) -> Any:
        if self._session is not None:
            return self._session
        try:
            from netmiko import ConnectHandler
            from netmiko.exceptions import NetmikoAuthenticationException, NetmikoTimeoutException
        except ImportError:
            raise PlatformError("the netmiko transport needs the Python package netmiko on the controller "
                                "(pip install netmiko), or give the host ansible_connection: "
                                "ansible.netcommon.network_cli") from None
        p = self.params
        missing = [var for key, var in (("host", "ansible_host"), ("username", "ansible_user")) if not p.get(key)]
        if missing:
            raise PlatformError(f"IOS-like router {self.where}: no {' and no '.join(missing)} in the inventory")
        connect_timeout = p.get("connect_timeout") or DEFAULT_TIMEOUT
        options: dict[str, Any] = {
            "device_type": "cisco_ios", "host": p["host"], "port": p.get("port") or 22, "username": p["username"],
            "conn_timeout": connect_timeout, "auth_timeout": connect_timeout, "banner_timeout": connect_timeout,
            "fast_cli": True,
        }
        if p.get("password"):
            options["password"] = p["password"]
        if p.get("private_key_file"):
            options.update(use_keys=True, key_file=p["private_key_file"])
        else:
            options.update(use_keys=False, allow_agent=False)
        if p.get("enable_secret"):
            options["secret"] = p["enable_secret"]
        try:
            session = ConnectHandler(**options)
        except NetmikoAuthenticationException:
            raise _auth_failed(self.where, p["username"]) from None
        except NetmikoTimeoutException as e:
            cause = _socket_error(e.__context__)
            if not isinstance(cause, OSError) or isinstance(cause, TimeoutError):  # no SSH banner, a timeout
                raise _no_answer(self.where, f"within {connect_timeout} s") from None
            raise _cannot_connect(self.where, _reason(cause)) from None
        except (OSError, EOFError) as e:
            raise _cannot_connect(self.where, _reason(e)) from None
        except Exception as e:  # netmiko raises plain exceptions (ValueError...) for prompts it does not know
            raise PlatformError(f"IOS-like router {self.where}: the session failed: {type(e).__name__}") from None
        self._session = session
        self._enable()
        return session

    def _enable(self) -> None:
        session = self._session
        try:
            if not session.check_enable_mode():
                if not self.params.get("enable_secret"):
                    raise PlatformError(f"IOS-like router {self.where}: the login is not at privilege level 15 "
                                        "and no enable secret is given (ansible_become: true, "
                                        "ansible_become_password)")
                self._send_enable(session)
        except PlatformError:
            self.close()
            raise
        except Exception:  # netmiko: ValueError("Failed to enter enable mode...") and read timeouts
            self.close()
            raise _enable_failed(self.where) from None
        level = _privilege_level(self._session.send_command("show privilege"))
        if level != 15:
            self.close()
            raise _below_15(self.where, level, "after enable")

    def _send_enable(self, session: Any) -> None:
        """`enable`, the secret at `Password:`, then the prompt: a second `Password:` is a wrong secret, told at
        once (netmiko's own enable waits out its read timeouts first: about 20 s)."""
        timeout = self.params.get("connect_timeout") or DEFAULT_TIMEOUT
        session.write_channel("enable" + session.RETURN)
        output = session.read_until_pattern(r"[Pp]assword:\s*$|#\s*$", read_timeout=timeout)
        if re.search(r"[Pp]assword:\s*$", output):
            session.write_channel(self.params["enable_secret"] + session.RETURN)
            output = session.read_until_pattern(r"[Pp]assword:\s*$|% Bad secrets|[>#]\s*$", read_timeout=timeout)
        if not re.search(r"#\s*$", output):
            raise _enable_failed(self.where)

    def show(self, command: str) -> str:
        session = self._connect()
        try:
            return session.send_command(command, read_timeout=self.timeout)
        except Exception as e:
            raise PlatformError(f"IOS-like router {self.where}: '{command}' failed: {_reason(e)}") from None

    def configure(self, lines: list[str], shown: list[str]) -> None:
        session = self._connect()
        applied: list[str] = []
        try:
            session.config_mode()
            for line, seen in zip(lines, shown):
                output = session.send_config_set([line], enter_config_mode=False, exit_config_mode=False,
                                                 read_timeout=self.timeout)
                refused = REFUSED.search(output)
                if refused:
                    raise _refused(self.where, seen, refused.group(0), applied)
                applied.append(seen)
        except PlatformError:
            self._leave_config_mode()
            raise
        except Exception as e:
            self._leave_config_mode()
            raise PlatformError(f"IOS-like router {self.where}: configuration failed: {_reason(e)}; applied "
                                f"before: {_listed(applied)}") from None
        self._leave_config_mode()

    def _leave_config_mode(self) -> None:
        try:
            self._session.exit_config_mode()
        except Exception:  # the session is gone: nothing else to leave
            pass

    def save(self) -> None:
        output = self.show("write memory")
        if "[OK]" not in output:
            raise PlatformError(f"IOS-like router {self.where}: write memory did not answer [OK]: "
                                f"{output.strip().splitlines()[-1] if output.strip() else 'no answer'}")

    def close(self) -> None:
        if self._session is not None:
            try:
                self._session.disconnect()
            except Exception:  # already closed by the router
                pass
            self._session = None


class NetworkCliConnection:
    """An IOS-like router through the host's ansible.netcommon.network_cli persistent connection."""

    def __init__(self, socket_path: str, params: dict[str, Any] | None = None) -> None:
        from ansible.module_utils.connection import Connection

        self.connection = Connection(socket_path)
        self.params = params or {}
        self.where = _where(self.params) if self.params.get("host") else "over network_cli"
        self._privileged = False

    def _get(self, command: str, **kwargs: Any) -> str:
        from ansible.module_utils.connection import ConnectionError as NetworkConnectionError

        self.open()
        try:
            return self.connection.get(command=command, **kwargs)
        except NetworkConnectionError as e:
            raise self._failure(str(e)) from None

    def _failure(self, text: str) -> PlatformError:
        """network_cli's (pylibssh's, the persistent connection's) error as the netmiko transport says it."""
        if re.search(r"authenticat|access denied", text, re.I):
            return _auth_failed(self.where, self.params.get("username") or "(ansible_user)")
        if re.search(r"elevate privilege|enable mode", text, re.I):  # cisco.ios's terminal plugin
            if "answer is not valid" in text:  # asked for the secret again
                return _enable_failed(self.where)
            return PlatformError(f"IOS-like router {self.where}: enable failed: {_first_line(text)}")
        if re.search(r"socket path .* does not exist|timed? ?out", text, re.I):  # ansible-connection gave up
            return _no_answer(self.where, "before network_cli gave up")
        refused = re.search(r"ssh connect failed: (.+)", text)
        if refused:
            return _cannot_connect(self.where, _first_line(refused.group(1)))
        return PlatformError(f"IOS-like router {self.where}: {_first_line(text)}")

    def _check_privilege(self) -> None:
        """network_cli logs in (and enables when ansible_become is set) on the first command; without enable a
        login below level 15 would read an empty configuration and be refused `configure terminal`."""
        level = _privilege_level(self._get("show privilege"))
        if level != 15:
            raise _below_15(self.where, level, "(ansible_become, ansible_become_method ansible.netcommon.enable)")

    def open(self) -> None:
        """Log in (and enable) now, and check the privilege level: network_cli does it on its first command."""
        if not self._privileged:
            self._privileged = True  # before the check: it is a command too
            self._check_privilege()

    def show(self, command: str) -> str:
        return self._get(command)

    def configure(self, lines: list[str], shown: list[str]) -> None:
        from ansible.module_utils.connection import ConnectionError as NetworkConnectionError

        applied: list[str] = []
        self._get("configure terminal")
        try:
            for line, seen in zip(lines, shown):
                try:
                    self.connection.get(command=line)
                except NetworkConnectionError as e:
                    refused = REFUSED.search(str(e))
                    raise _refused(self.where, seen, refused.group(0) if refused else _first_line(str(e)),
                                   applied) from None
                applied.append(seen)
        finally:
            self._get("end")

    def save(self) -> None:
        output = self._get("write memory")
        if "[OK]" not in output:
            raise PlatformError(f"IOS-like router {self.where}: write memory did not answer [OK]")

    def close(self) -> None:
        """The persistent connection outlives the module (Ansible closes it)."""


def connect(module: Any) -> NetmikoConnection | NetworkCliConnection | None:
    """The module's way to its router: network_cli when the task runs over it, else netmiko with the
    `transport` option the action plugin filled; None when neither (only rendered and parsed work)."""
    socket_path = getattr(module, "_socket_path", None)
    params = module.params.get("transport")
    if socket_path:
        return NetworkCliConnection(socket_path, params)
    if params and params.get("host"):
        return NetmikoConnection(params)
    return None


def open_connection(module: Any) -> NetmikoConnection | NetworkCliConnection:
    """A connected router for `module`, with `show(command) -> str` and `close()` (see the module docstring);
    PlatformError of one line when there is no way to it or it cannot be reached."""
    connection = connect(module)
    if connection is None:
        raise PlatformError(NO_TRANSPORT)
    connection.open()
    return connection


def _where(params: dict[str, Any]) -> str:
    return f"{params.get('host')}:{params.get('port') or 22}"


# The failures both transports report, in the same words (one line, no secret).
def _auth_failed(where: str, username: str) -> PlatformError:
    return PlatformError(f"IOS-like router {where}: authentication failed for user {username} (ansible_user, "
                         "ansible_password or ansible_ssh_private_key_file)")


def _enable_failed(where: str) -> PlatformError:
    return PlatformError(f"IOS-like router {where}: enable failed: wrong enable secret (ansible_become_password)")


def _cannot_connect(where: str, reason: str) -> PlatformError:
    return PlatformError(f"IOS-like router {where}: cannot connect: {reason}")


def _no_answer(where: str, when: str) -> PlatformError:
    return PlatformError(f"IOS-like router {where}: no answer {when} (ansible_connect_timeout)")


def _below_15(where: str, level: int | None, hint: str) -> PlatformError:
    return PlatformError(f"IOS-like router {where}: at privilege level {level} {hint}; 15 is needed to read and "
                         "change the configuration")


def _privilege_level(show_privilege: str) -> int | None:
    match = re.search(r"privilege level is (\d+)", show_privilege)
    return int(match.group(1)) if match else None


def _refused(where: str, line: str, message: str, applied: list[str]) -> PlatformError:
    return PlatformError(f"IOS-like router {where} refused '{line}': {message.strip()}; applied before it: "
                         f"{_listed(applied)}")


def _listed(lines: list[str]) -> str:
    return "; ".join(f"'{line}'" for line in lines) if lines else "nothing"


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "failed"


def _socket_error(error: BaseException | None) -> BaseException | None:
    """The socket error under netmiko's "TCP connection to device failed" (paramiko keeps one per address)."""
    errors = getattr(error, "errors", None)
    if isinstance(errors, dict) and errors:
        return next(iter(errors.values()))
    return error


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or _first_line(str(error)) or type(error).__name__
