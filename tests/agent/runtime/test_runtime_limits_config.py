"""The `limits` section of the configuration (protocol.config.Limits): defaults, every role gets the
same limits, and every bad value is refused with an error naming its field."""

from __future__ import annotations

import pytest
import runtime_helpers as h
from mipd.protocol.config import Limits
from mipd.runtime.config import ConfigError, load_config


def load(tmp_path, limits: object, **sections: object):
    cfg = h.config(**sections)
    if limits is not None:
        cfg["limits"] = limits
    return load_config(str(h.write(tmp_path, cfg)))


def test_defaults_without_a_limits_section(tmp_path):
    config = load(tmp_path, None)
    assert config.limits == Limits() and config.home_agent.limits == Limits()
    assert (Limits().message_size, Limits().extensions) == (1024, 16)


def test_values_reach_every_role(tmp_path):
    limits = {"message_size": 700, "extensions": 8, "denial_replies": {"per_source": 2, "total": 20},
              "denial_log_lines": {"per_source": 0.5, "total": 0}, "source_rate": 0,
              "source_block_time": 0}
    config = load(tmp_path, limits, foreign_agent=h.FA_SECTION)
    want = Limits(700, 8, 2.0, 20.0, 0.5, 0.0, 0.0, 0.0)
    assert config.limits == want and config.home_agent.limits == want and config.foreign_agent.limits == want
    assert not [w for w in config.warnings if w.startswith("limits")]


def test_a_size_below_the_largest_request_is_allowed_with_a_warning(tmp_path):
    config = load(tmp_path, {"message_size": 300})
    assert config.limits.message_size == 300
    assert any(w.startswith("limits.message_size: 300 bytes refuses") for w in config.warnings)


@pytest.mark.parametrize(("limits", "field", "text"), [
    ({"message_size": 10}, "limits.message_size", "must be an integer 64-65535"),
    ({"message_size": 70000}, "limits.message_size", "must be an integer 64-65535"),
    ({"message_size": "1k"}, "limits.message_size", "must be an integer"),
    ({"extensions": 1}, "limits.extensions", "must be an integer 2-255"),
    ({"denial_replies": {"per_source": -1}}, "limits.denial_replies.per_source", "must be a number >= 0"),
    ({"denial_replies": {"totl": 5}}, "limits.denial_replies", "unknown key 'totl' (did you mean 'total'?)"),
    ({"denial_log_lines": 5}, "limits.denial_log_lines", "must be a mapping"),
    ({"denial_log_lines": {"total": "many"}}, "limits.denial_log_lines.total", "must be a number"),
    ({"source_rate": True}, "limits.source_rate", "must be a number"),
    ({"source_block_time": -1}, "limits.source_block_time", "must be a number >= 0 and <= 86400"),
    ({"bogus": 1}, "limits", "unknown key 'bogus'"),
    ([1, 2], "limits", "must be a mapping"),
])
def test_bad_values_name_the_field(tmp_path, limits, field, text):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, limits)
    assert info.value.path == field and text in info.value.message
    assert info.value.located().startswith(f"{tmp_path / 'mipd.yaml'}: {field}: ")
