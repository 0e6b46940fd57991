"""`mipd`: run the Mobile IPv4 agent (RFC 5944), or check a configuration without running it.

    mipd check-config FILE          exit 0 "config OK: roles ...", or 1 with the field-named error
    mipd run --config FILE [--foreground] [--log-file F] [--log-level L] [--pid-file P]

Without --foreground the agent detaches (double fork, new session) and the command returns once
the agent is up, with exit status 0, or 1 and the reason when it could not start.

`run` sets the umask to 077 first: every file the agent creates (state database and its -wal and
-shm files, control socket, pid file, log file) is its owner's alone from the moment it exists;
files found with wider modes are narrowed (state files 0600, the log 0640 at most) with a warning.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable

from mipd import __version__
from mipd.runtime.config import DEFAULT_CONFIG, LOG_LEVELS, Config, ConfigError, load_config


def check_config(path: str) -> int:
    try:
        config = load_config(path)
    except ConfigError as e:
        print(f"mipd: {e.located()}", file=sys.stderr)
        return 1
    for text in config.warnings:
        print(f"warning: {text}", file=sys.stderr)
    count = len(config.sas)
    radius = f"; RADIUS servers {', '.join(s.name for s in config.radius.servers)}" if config.radius else ""
    plural = "s" if count != 1 else ""
    print(f"config OK: roles {', '.join(config.roles)}; {count} security association{plural}{radius}")
    return 0


UMASK = 0o077  # bindings and replay state are secret-adjacent: no file of the agent is readable by others


def run(args: argparse.Namespace) -> int:
    os.umask(UMASK)  # before anything is created, and inherited by the detached agent
    try:
        config = load_config(args.config, check_key_permissions=True)
    except ConfigError as e:
        print(f"mipd: {e.located()}", file=sys.stderr)
        return 1
    level = args.log_level or config.log_level
    log_file = os.path.abspath(args.log_file) if args.log_file else config.log_file
    if args.foreground:
        return _serve(config, level, log_file, args.pid_file, None)
    if log_file is None:
        print("mipd: warning: no log file (log.file or --log-file): the detached agent's log is discarded",
              file=sys.stderr)
    return _detach(lambda ready: _serve(config, level, log_file, args.pid_file, ready))


def _serve(config: Config, level: str, log_file: str | None, pid_file: str | None,
           ready: Callable[[str | None], None] | None) -> int:
    from mipd.runtime import daemon, logs  # the runtime, sockets and data plane load only here

    try:
        logs.setup(level, log_file)
    except OSError as e:
        text = f"log file {log_file}: {e.strerror or e}"
        if ready is not None:
            ready(text)
        else:
            print(f"mipd: cannot start: {text}", file=sys.stderr)
        return 1
    pid_path = os.path.abspath(pid_file) if pid_file else None

    def started() -> None:
        if pid_path:
            _write_pid_file(pid_path)
        if ready is not None:
            ready(None)

    try:
        return daemon.run(config, started)
    except daemon.StartupError as e:
        logs.setup(level, log_file).error("cannot start: %s", e)
        if ready is not None:
            ready(str(e))
        else:
            print(f"mipd: cannot start: {e}", file=sys.stderr)
        return 1
    finally:
        if pid_path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(pid_path)


def _write_pid_file(path: str) -> None:
    """The agent's pid in `path`, mode 0600 even when the file was there with another mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as out:
        with contextlib.suppress(PermissionError):  # a file of another user's (we could write it): leave its mode
            os.fchmod(fd, 0o600)
        out.write(f"{os.getpid()}\n")


def _detach(serve: Callable[[Callable[[str | None], None]], int]) -> int:
    """Double fork into a new session; the caller gets the child's readiness (or error) through a pipe."""
    read_end, write_end = os.pipe()
    if os.fork():
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            answer = pipe.read().decode(errors="replace")
        if answer == "ok":
            return 0
        print(f"mipd: cannot start: {answer or 'the agent exited during start-up'}", file=sys.stderr)
        return 1
    os.close(read_end)
    os.setsid()
    if os.fork():
        os._exit(0)
    os.chdir("/")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)

    def ready(error: str | None) -> None:
        with contextlib.suppress(OSError):
            os.write(write_end, b"ok" if error is None else error.encode())
            os.close(write_end)

    code = 1
    try:
        code = serve(ready)
    finally:
        os._exit(code)


def parser() -> argparse.ArgumentParser:
    argparser = argparse.ArgumentParser(prog="mipd", description="Mobile IPv4 agent (RFC 5944): home agent, foreign "
                                "agent, mobile node.")
    argparser.add_argument("--version", action="version", version=f"mipd {__version__}")
    sub = argparser.add_subparsers(dest="command", required=True)
    check_cmd = sub.add_parser("check-config", help="validate a configuration (and its keys file) and exit")
    check_cmd.add_argument("file", nargs="?", default=DEFAULT_CONFIG)
    run_cmd = sub.add_parser("run", help="run the agent")
    run_cmd.add_argument("--config", "-c", default=DEFAULT_CONFIG,
                         help=f"configuration file (default {DEFAULT_CONFIG})")
    run_cmd.add_argument("--foreground", "-f", action="store_true", help="do not detach; log to stderr by default")
    run_cmd.add_argument("--log-file", help="append the log here (overrides log.file)")
    run_cmd.add_argument("--log-level", choices=LOG_LEVELS, help="overrides log.level")
    run_cmd.add_argument("--pid-file", help="write the agent's pid here once it is up; removed when it stops")
    return argparser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "check-config":
        return check_config(args.file)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
