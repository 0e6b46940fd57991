"""Who may log in, and the enable secret: a YAML file the caller generates (mode 0600).

    enable_secret: "..."          # optional; without it `enable` answers "% No password set"
    users:
      - name: admin
        password: "..."           # password login (optional)
        authorized_keys:          # public-key login (optional): OpenSSH public key lines
          - ssh-ed25519 AAAA... comment
        privilege: 1              # 1: login at `host>` (default); 15: at `host#`, as
                                  # `username X privilege 15` does on IOS

The file holds secrets, so it must not be readable by group or others (the router refuses it
otherwise, as sshd refuses a private key file anyone can read).
"""

from __future__ import annotations

import hmac
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
import yaml


class UsersFileError(Exception):
    """The users file is unusable; the message names the field, never a secret."""


@dataclass
class User:
    name: str
    password: str | None = None
    authorized_keys: list[str] = field(default_factory=list)
    privilege: int = 1

    def password_ok(self, password: str) -> bool:
        return self.password is not None and hmac.compare_digest(password.encode(), self.password.encode())

    def keys(self) -> asyncssh.SSHAuthorizedKeys | None:
        return asyncssh.import_authorized_keys("\n".join(self.authorized_keys)) if self.authorized_keys else None


@dataclass
class Users:
    users: dict[str, User]
    enable_secret: str | None = None


def load_users(path: Path) -> Users:
    """Read and check the users file (mode, shape); UsersFileError naming what is wrong."""
    mode = os.stat(path).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsersFileError(f"{path}: mode {stat.S_IMODE(mode):04o}; it holds secrets, make it 0600")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise UsersFileError(f"{path}: expected a mapping with users (and enable_secret)")
    secret = data.get("enable_secret")
    if secret is not None and not isinstance(secret, str):
        raise UsersFileError(f"{path}: enable_secret must be a string")
    users: dict[str, User] = {}
    for index, entry in enumerate(data.get("users") or []):
        where = f"{path}: users[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise UsersFileError(f"{where}.name is required")
        password, keys = entry.get("password"), entry.get("authorized_keys") or []
        if password is not None and not isinstance(password, str):
            raise UsersFileError(f"{where}.password must be a string")
        if password is None and not keys:
            raise UsersFileError(f"{where}: give a password or authorized_keys")
        privilege = entry.get("privilege", 1)
        if privilege not in (1, 15):
            raise UsersFileError(f"{where}.privilege must be 1 or 15")
        user = User(entry["name"], password, [str(k) for k in keys], privilege)
        try:
            user.keys()
        except (ValueError, asyncssh.KeyImportError) as error:
            raise UsersFileError(f"{where}.authorized_keys: {error}") from None
        users[user.name] = user
    if not users:
        raise UsersFileError(f"{path}: no users")
    return Users(users, secret)
