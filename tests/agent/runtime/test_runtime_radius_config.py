"""The `radius:` section and the keys file's `radius_secrets` (mipd.runtime.radius_config): field-named
errors that never show a secret, and `mipd check-config` on them."""

from __future__ import annotations

import subprocess

import pytest
import runtime_helpers as h
from mipd.runtime.config import ConfigError, load_config

SECRET = "72616469757320736563726574212121"  # distinctive, so a leak is easy to spot


def write(tmp_path, radius=None, secrets=None):
    cfg = h.config()
    if radius is not None:
        cfg["radius"] = radius
    keys = dict(h.BASE_KEYS)
    if secrets is not None:
        keys["radius_secrets"] = secrets
    return h.write(tmp_path, cfg, keys)


def error(tmp_path, radius=None, secrets=None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(str(write(tmp_path, radius, secrets)))
    text = info.value.located()
    assert SECRET not in text
    return str(info.value)


def test_a_full_section_is_read_with_its_defaults(tmp_path):
    config = load_config(
        str(
            write(
                tmp_path,
                {
                    "servers": [{"address": "127.0.0.1"}, {"address": "127.0.0.2", "port": 1645}],
                    "source_address": "127.0.0.1",
                    "cache_lifetime": 3600,
                    "lookup_rate": 10,
                },
                {"127.0.0.1": SECRET, "127.0.0.2:1645": SECRET + "x"},
            )
        )
    )
    radius = config.radius
    assert radius is not None
    assert [(s.name, s.secret) for s in radius.servers] == [
        ("127.0.0.1:1812", SECRET.encode()),
        ("127.0.0.2:1645", (SECRET + "x").encode()),
    ]
    assert radius.cache.cache_lifetime == 3600 and radius.cache.lookup_rate == 10 and radius.timeout == 2.0
    assert SECRET not in repr(config) and SECRET not in repr(radius)
    assert (
        load_config(
            str(write(tmp_path, {"servers": [{"address": "127.0.0.1"}]}, {"127.0.0.1": SECRET}))
        ).radius.cache.cache_lifetime
        is None
    )  # binding


@pytest.mark.parametrize(
    ("radius", "secrets", "message"),
    [
        ({"servers": []}, {}, "radius.servers: "),
        ({"servers": [{"address": "127.0.0.1"}]}, {}, "radius.servers[0]: no shared secret for 127.0.0.1:1812"),
        ({"servers": [{"address": "127.0.0.1", "port": 0}]}, {"127.0.0.1": SECRET}, "radius.servers[0].port"),
        ({"servers": [{"address": "127.0.0.1"}], "timeout": 0}, {"127.0.0.1": SECRET}, "radius.timeout"),
        (
            {"servers": [{"address": "127.0.0.1"}], "cache_lifetime": "forever"},
            {"127.0.0.1": SECRET},
            "radius.cache_lifetime: must be 'binding'",
        ),
        (
            {"servers": [{"address": "127.0.0.1"}], "cache_lifetime": 30, "refresh_margin": 60},
            {"127.0.0.1": SECRET},
            "radius.refresh_margin",
        ),
        (
            {"servers": [{"address": "127.0.0.1"}], "pending_lookups": 0},
            {"127.0.0.1": SECRET},
            "radius.pending_lookups",
        ),
        ({"servers": [{"address": "127.0.0.1"}], "secret": SECRET}, {"127.0.0.1": SECRET}, "radius: unknown key"),
        ({"servers": [{"address": "127.0.0.1"}, {"address": "127.0.0.1"}]}, {"127.0.0.1": SECRET}, "listed twice"),
        ({"servers": [{"address": "127.0.0.1"}]}, {"127.0.0.1": "short"}, "radius_secrets.127.0.0.1: is 5 bytes"),
        ({"servers": [{"address": "127.0.0.1"}]}, {SECRET: SECRET}, "radius_secrets[0]: the name must be"),
        ({"servers": [{"address": "127.0.0.1"}]}, {"127.0.0.1": 12345678901234567890}, "must be a quoted"),
    ],
)
def test_errors_name_the_field_and_never_the_secret(tmp_path, radius, secrets, message):
    assert message in error(tmp_path, radius, secrets)


def test_radius_needs_a_home_or_foreign_agent(tmp_path):
    cfg = h.config(home_agent=None, foreign_agent=h.FA_SECTION)
    cfg["radius"] = {"servers": [{"address": "127.0.0.1"}]}
    path = h.write(tmp_path, cfg, dict(h.BASE_KEYS, radius_secrets={"127.0.0.1": SECRET}))
    assert load_config(str(path)).radius is not None  # a foreign agent fetches FA-HA SAs
    cfg = h.config(home_agent=None, mobile_node=h.MN_SECTION)
    cfg["radius"] = {"servers": [{"address": "127.0.0.1"}]}
    path = h.write(tmp_path, cfg, dict(h.BASE_KEYS, radius_secrets={"127.0.0.1": SECRET}))
    with pytest.raises(ConfigError, match="only a home or foreign agent fetches SAs"):
        load_config(str(path))


def test_check_config_names_the_servers_never_the_secret(tmp_path):
    path = write(tmp_path, {"servers": [{"address": "127.0.0.1"}]}, {"127.0.0.1": SECRET})
    ok = subprocess.run([h.MIPD, "check-config", str(path)], capture_output=True, text=True)
    assert ok.returncode == 0 and "RADIUS servers 127.0.0.1:1812" in ok.stdout
    bad = write(tmp_path, {"servers": [{"address": "127.0.0.1"}]}, {"127.0.0.1": SECRET[:10]})
    fail = subprocess.run([h.MIPD, "check-config", str(bad)], capture_output=True, text=True)
    assert fail.returncode == 1 and "radius_secrets" in fail.stderr
    assert SECRET not in ok.stdout + ok.stderr + fail.stdout + fail.stderr and SECRET[:10] not in fail.stderr
