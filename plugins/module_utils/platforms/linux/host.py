# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Linux host's mipd files: reading them, writing them safely, and reloading the agent.

Writes are atomic: each new file is written to a temporary file beside it (created 0600 by
mkstemp whatever the umask, then 0644 for the main file; fsync-ed), the whole new configuration
is validated with the agent's own `mipd check-config` when the agent is installed, and only then
renamed over the old one, and the directory fsync-ed. A running agent is then told to reload
(`mipctl reload`), which keeps its bindings. A task that fails once a file was replaced (the
other file's rename, the reload refused) puts the old files back (they were kept as hard links
beside them) before it fails: the host is left as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
import tempfile
from typing import Any

from ansible_collections.netmobility.mobileip.plugins.module_utils import agent_cli, yaml_text
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.linux.document import LinuxDocument

DEFAULT_CONFIG = "/etc/mipd/mipd.yaml"
DEFAULT_KEYS_FILE = "keys.yaml"  # next to the main file (the agent's default)
DEFAULT_CONTROL_SOCKET = "/run/mipd/mipd.sock"
MAIN_MODE = 0o644
KEYS_MODE = 0o600
_YAML_VIA_AGENT = "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout, default=str)"

HOST_OPTIONS = {
    "config_path": {"type": "path", "default": DEFAULT_CONFIG},
    "keys_path": {"type": "path", "no_log": False},
    "agent_bin_dir": {"type": "path"},
    "validate": {"type": "bool", "default": True},
    "reload": {"type": "bool", "default": True},
}


class HostError(Exception):
    """Something on the host went wrong (unreadable file, refused configuration, failed reload)."""


class MissingYaml(ImportError):
    """Neither this Python nor the agent's has PyYAML: the files cannot be read."""


class LinuxHost:
    """The mipd files at `config_path` (and the keys file it names) on this host."""

    def __init__(self, module: Any) -> None:
        p = module.params
        self.module = module
        self.config_path = os.path.abspath(p["config_path"])
        self.config_dir = os.path.dirname(self.config_path)
        self.keys_option = os.path.abspath(p["keys_path"]) if p.get("keys_path") else None
        self.keys_path = self.keys_option or os.path.join(self.config_dir, DEFAULT_KEYS_FILE)
        self.agent_bin_dir = p.get("agent_bin_dir")
        self.validate = p.get("validate", True)
        self.reload = p.get("reload", True)
        self.keys_mode: int | None = None  # of the keys file as found (None: absent)

    # ------------------------------------------------------------------ reading

    def read(self) -> LinuxDocument:
        """The document the files hold now (empty for absent files)."""
        doc = LinuxDocument()
        text = self._read_text(self.config_path)
        if text is not None:
            doc.read_main(text, self.config_path, self._load_yaml)
        named = doc.settings.get("keys_file", DEFAULT_KEYS_FILE)
        if text is None:
            pass  # no main file yet: the keys file is where keys_path (or the default) says
        elif "keys_file" in doc.settings and named is None:
            self.keys_path = None  # keys_file: null -> this host has no SAs
        elif isinstance(named, str):
            found = os.path.normpath(os.path.join(self.config_dir, named))
            if self.keys_option and found != self.keys_option:
                raise ModelError("keys_path", f"{self.keys_option} is not the keys file {self.config_path} names "
                                 f"({found}); leave keys_path unset or change keys_file there")
            self.keys_path = found
        if self.keys_path is not None:
            text = self._read_text(self.keys_path)
            if text is not None:
                self.keys_mode = stat.S_IMODE(os.stat(self.keys_path).st_mode)
                doc.read_keys(text, self.keys_path, self._load_yaml)
        return doc

    def point_at_keys(self, doc: LinuxDocument) -> None:
        """A new main file names a keys_path given as an option when it is not the default one."""
        default = os.path.join(self.config_dir, DEFAULT_KEYS_FILE)
        if self.keys_option and self.keys_option != default and "keys_file" not in doc.settings:
            doc.settings["keys_file"] = self.keys_option

    def _read_text(self, path: str) -> str | None:
        try:
            with open(path, encoding="utf-8") as f:
                return f.read()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as e:
            raise HostError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None

    def _load_yaml(self, text: str) -> Any:
        try:
            return yaml_text.load(text)
        except ImportError:
            pass
        python = agent_cli.agent_python(self.module, self.agent_bin_dir)
        if python is None:
            raise MissingYaml()
        rc, out, err = self.module.run_command([python, "-c", _YAML_VIA_AGENT], data=text, binary_data=True)
        if rc != 0:
            raise ValueError(err.strip().splitlines()[-1] if err.strip() else "not valid YAML")
        return json.loads(out)

    # ------------------------------------------------------------------ writing

    def keys_mode_wrong(self) -> bool:
        return self.keys_mode is not None and self.keys_mode != KEYS_MODE

    def keys_missing(self, after: LinuxDocument) -> bool:
        """The agent refuses a configuration whose keys file does not exist: one is made (empty)."""
        return self.keys_path is not None and after.has_role and not os.path.exists(self.keys_path)

    def write(self, before: LinuxDocument, after: LinuxDocument) -> dict[str, Any]:
        """Write what changed (validated first), then reload a running agent. Returns what was done."""
        done: dict[str, Any] = {"written": [], "validated": False, "reloaded": False, "restart_needed": []}
        main_changed = not after.main_equal(before)
        keys_changed = not after.keys_equal(before) or self.keys_mode_wrong() or self.keys_missing(after)
        if keys_changed and self.keys_path is None:
            raise HostError(f"{self.config_path} sets keys_file: null (no keys file); set it to a path first")
        main_exists = os.path.exists(self.config_path)
        temps: list[str] = []  # temporary files and backups, removed at the end whatever happens
        placed: list[tuple[str, str | None]] = []  # (file replaced, its old version's backup or None: new file)
        try:
            keys_tmp = self._temp(self.keys_path, after.render_keys(), KEYS_MODE, temps) if keys_changed else None
            main_tmp = self._temp(self.config_path, after.render_main(), MAIN_MODE, temps) if main_changed else None
            if self.validate and after.has_role and (main_changed or main_exists):
                done["validated"] = self._check(after, keys_tmp, temps)
            if keys_tmp:
                self._place(keys_tmp, self.keys_path, placed, temps)  # type: ignore[arg-type]
            if main_tmp:
                self._place(main_tmp, self.config_path, placed, temps)
            _sync_directories(path for path, _backup in placed)
            done["written"] = [path for path, _backup in placed]
            if self.reload and after.has_role:
                self._reload(after, done)
        except HostError as e:
            if not placed:
                raise
            self._put_back(placed)
            raise HostError(f"{e}; the previous files were put back, nothing was changed") from None
        except BaseException:
            self._put_back(placed)
            raise
        finally:
            for path in temps:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        return done

    def _place(self, tmp: str, path: str, placed: list[tuple[str, str | None]], temps: list[str]) -> None:
        """Rename `tmp` over `path`, keeping the old file as a backup beside it (a hard link: same inode,
        mode, owner and content; a copy where the filesystem has no hard links)."""
        backup: str | None = None
        if os.path.exists(path):
            backup = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{secrets.token_hex(6)}.old")
            try:
                os.link(path, backup)
            except OSError:
                with open(path, encoding="utf-8") as f:
                    backup = self._temp(path, f.read(), stat.S_IMODE(os.stat(path).st_mode), temps)
            else:
                temps.append(backup)
        try:
            os.replace(tmp, path)
        except OSError as e:  # EBUSY: a file bind-mounted in place (a container's), for one
            raise HostError(f"cannot replace {path}: {e.strerror or e}") from None
        placed.append((path, backup))

    def _put_back(self, placed: list[tuple[str, str | None]]) -> None:
        """The files as they were before `_place`: backups renamed back, new files removed."""
        for path, backup in reversed(placed):
            if backup is not None:
                os.replace(backup, path)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        _sync_directories(path for path, _backup in placed)

    def _temp(self, path: str, text: str, mode: int, temps: list[str]) -> str:
        directory = os.path.dirname(path)
        os.makedirs(directory, mode=0o755, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
        temps.append(tmp)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), mode)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        return tmp

    def _check(self, after: LinuxDocument, keys_tmp: str | None, temps: list[str]) -> bool:
        """`mipd check-config` on the new files (a temporary main file naming the new keys file)."""
        mipd = agent_cli.find_program(self.module, "mipd", self.agent_bin_dir)
        if mipd is None:
            return False
        probe = after.copy()
        if keys_tmp is not None:
            probe.settings["keys_file"] = keys_tmp
        elif self.keys_path is not None:
            probe.settings["keys_file"] = self.keys_path
        main_probe = self._temp(self.config_path, probe.render_main(), MAIN_MODE, temps)
        ok, said = agent_cli.check_config(self.module, mipd, main_probe)
        if not ok:
            said = said.replace(main_probe, self.config_path)
            if keys_tmp is not None:
                said = said.replace(keys_tmp, self.keys_path)  # type: ignore[arg-type]
            raise HostError(f"mipd check-config refused the new configuration, nothing was changed: {said}")
        return True

    def _reload(self, after: LinuxDocument, done: dict[str, Any]) -> None:
        """`mipctl reload` when the agent runs; a change of roles needs a restart instead."""
        socket = self.control_socket(after)
        try:
            running = stat.S_ISSOCK(os.stat(socket).st_mode)
        except OSError:
            running = False
        if not running or not done["written"]:
            return
        mipctl = agent_cli.find_program(self.module, "mipctl", self.agent_bin_dir)
        if mipctl is None:
            self.module.warn(f"mipd seems to run ({socket}) but mipctl was not found: reload it yourself "
                             "(mipctl reload, or SIGHUP); set agent_bin_dir to the agent's bin directory")
            return
        rc, answer = agent_cli.Mipctl(self.module, mipctl, socket=socket).request("reload")
        if rc == agent_cli.EXIT_UNREACHABLE:
            return  # a stale socket: no agent to reload
        if rc == agent_cli.EXIT_STILL_RUNNING:  # not refused: it was validated and is being applied
            done["reloaded"] = True
            self.module.warn(f"mipd is still applying the new configuration (mipctl reload: {answer.get('error')}); "
                             "mipctl status shows its outcome")
            return
        if not answer.get("ok"):
            error = str(answer.get("error"))
            if "roles changed" in error:
                done["restart_needed"] = ["roles"]
                self.module.warn(f"mipd must be restarted to take the new roles: {error}")
                return
            raise HostError(f"mipd refused to reload the new configuration: {error}")
        done["reloaded"] = True
        done["restart_needed"] = list(answer.get("result", {}).get("restart_needed", []))
        if done["restart_needed"]:
            self.module.warn(f"mipd reloaded; a restart is needed for: {', '.join(done['restart_needed'])}")

    def control_socket(self, doc: LinuxDocument) -> str:
        value = doc.settings.get("control_socket")
        if not isinstance(value, str):
            return DEFAULT_CONTROL_SOCKET
        return os.path.normpath(os.path.join(self.config_dir, value))


def _sync_directories(paths: Any) -> None:
    """fsync the directories of `paths`: a rename is durable only once its directory is."""
    for directory in sorted({os.path.dirname(path) for path in paths}):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with contextlib.suppress(OSError):  # a filesystem that cannot sync directories (EINVAL)
                os.fsync(fd)
        finally:
            os.close(fd)
