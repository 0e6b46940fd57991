"""What the collection writes, the agent's own loader accepts, and means the same thing.

For configurations generated at random (valid and invalid), the collection's model and mipd's
loader (agent/src/mipd/runtime/config.py) must agree: both accept, or both refuse naming the same
field. When both accept, mipd reads the collection's rendering exactly as it reads the raw input.
The model's option names are the agent's, and its defaults are the agent's.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.netmobility.mobileip.plugins.module_utils import model, states
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.linux.document import (
    LinuxDocument,
    linux_names,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_model_validation import BAD_SAS, BAD_VALUES, SA, with_

agent_config = pytest.importorskip("mipd.runtime.config", reason="the agent's loader (mipd.runtime.config) is needed")
keys_lines = pytest.importorskip("mipd.runtime.keys_lines", reason="the agent's keys file reader is needed")
ConfigError = pytest.importorskip("mipd.runtime.schema").ConfigError

SETTINGS = {"dataplane": {"backend": "none", "tun": "mip0"}, "log": {"level": "info"}}
MN_SA = {"peer": "10.1.0.1", "spi": 257, "key": "00112233445566778899aabbccddeeff"}
KEY = "00112233445566778899aabbccddeeff"
# Checks the collection makes that the agent does not (policy, on purpose): a home gateway off the home
# network, keys shorter than 128 bits (RFC 5944 §5.1), a filter rule that repeats a match (it never fires).
STRICTER = {"mobile_node.home_gateway", "security_associations.key", "home_agent.filters.care_of.rules.prefix",
            "home_agent.filters.care_of.rules.nai", "home_agent.filters.roaming.rules.prefix",
            "home_agent.filters.roaming.rules.nai"}


def mipd_load(tmp: Path, main: dict[str, Any] | str, sas: list[dict[str, Any]] | str | None = None) -> Any:
    """The agent's reading of a main file (and keys file), or its ConfigError."""
    main_path, keys_path = tmp / "mipd.yaml", tmp / "keys.yaml"
    main_path.write_text(main if isinstance(main, str) else yaml.safe_dump({**SETTINGS, **main}))
    if isinstance(sas, str):
        keys_path.write_text(sas)
    else:
        keys_path.write_text(yaml.safe_dump({"security_associations": sas or []}))
    os.chmod(keys_path, 0o600)
    try:
        return agent_config.load_config(str(main_path))
    except ConfigError as e:
        return e


def collection_render(resource: str, config: Any, sas: list[dict[str, Any]] | None = None) -> tuple[str, str]:
    """(main file, keys file) the collection writes for `config` of `resource` (ModelError when refused)."""
    res = model.RESOURCES[resource]
    value = states.build(res, "overridden", res.empty, states.want(res, "overridden", config))
    for error in linux_names(resource, value, "config"):  # the Linux platform's own refusal
        raise error
    doc = LinuxDocument()
    doc.settings = copy.deepcopy(SETTINGS)
    if resource == "security_associations":
        doc.set("home_agent", model.HOME_AGENT.normalize(HA_BASE, "home_agent"))
    doc.set(resource, value)
    if sas is not None:
        doc.set("security_associations", states.build(
            model.RESOURCES["security_associations"], "overridden", [],
            states.want(model.RESOURCES["security_associations"], "overridden", sas)))
    return doc.render_main(), doc.render_keys()


def model_path(resource: str, error: ModelError) -> str:
    section = "security_associations" if resource == "security_associations" else resource
    return section + error.path[len("config"):]


def same_verdict(tmp: Path, resource: str, config: Any, sas: list[dict[str, Any]] | None = None) -> Any:
    """Model and agent agree on `config`: both refuse it (returns both errors), or both accept it and
    the agent reads the collection's files as it reads the raw input (returns None)."""
    raw_main = {resource: config} if resource != "security_associations" else {"home_agent": HA_BASE}
    raw_sas = config if resource == "security_associations" else sas
    raw = mipd_load(tmp, raw_main, raw_sas)
    try:
        main, keys = collection_render(resource, config, sas)
    except ModelError as e:
        if not isinstance(raw, ConfigError):
            assert _generic(model_path(resource, e)) in STRICTER, f"the model refuses what the agent accepts: {e}"
        return e, raw
    assert not isinstance(raw, ConfigError), f"the model accepts what the agent refuses: {raw}"
    written = mipd_load(tmp, main, keys)
    assert not isinstance(written, ConfigError), f"the agent refuses the collection's file: {written}\n{main}"
    for role in ("home_agent", "foreign_agent", "mobile_node"):
        assert getattr(written, role) == getattr(raw, role)
    assert [repr(sa) for sa in written.sas] == [repr(sa) for sa in raw.sas]
    return None


def _generic(path: str) -> str:
    """"home_agent.filters.care_of.rules[3].prefix" -> "home_agent.filters.care_of.rules.prefix"."""
    return re.sub(r"\[\d+\]", "", path)


# ---------------------------------------------------------------------- names and defaults


def names(schema: model.Schema) -> set[str]:
    return set(schema.fields)


def test_option_names_are_the_agents():
    assert names(model.HOME_AGENT) | {"filters"} == set(agent_config.HA_KEYS)
    assert names(model.HOME_AGENT.fields["advertisement"].schema) == set(agent_config.HA_ADV_KEYS)
    assert names(model.FOREIGN_AGENT) | {"filters"} == set(agent_config.FA_KEYS)
    assert names(model.FA_ADVERTISEMENT) == set(agent_config.ADV_KEYS)
    assert names(model.SERVED_INTERFACE) == set(agent_config.IFACE_KEYS)
    assert names(model.MOBILE_NODE) == set(agent_config.MN_KEYS)
    assert names(model.RULE_LIST) == set(agent_config.RULES_KEYS)
    assert names(model.RULE) == set(agent_config.RULE_KEYS)
    assert names(model.SECURITY_ASSOCIATION) - {"kind"} == set(keys_lines.SA_KEYS)
    assert set(model.FILTER_OWNER) == {"care_of", "roaming", "home_agents"}


HA_BASE = {"address": "10.1.0.1", "interface": "ha-home", "home_networks": ["10.1.0.0/24"]}
FA_BASE = {"interfaces": [{"name": "fa-visit", "address": "10.2.0.1"}]}
MN_BASE = {"home_address": "10.1.0.10", "home_agent": "10.1.0.1", "interfaces": ["mn-eth0"]}


@pytest.mark.parametrize(("resource", "minimal", "sas"), [
    ("home_agent", HA_BASE, None), ("foreign_agent", FA_BASE, None), ("mobile_node", MN_BASE, [MN_SA])])
def test_defaults_are_the_agents(tmp_path, resource, minimal, sas):
    """The collection writes every default out; the agent reads that as it reads the bare minimum."""
    same_verdict(tmp_path, resource, minimal, sas)


def test_the_agent_accepts_every_rendering_of_its_examples(tmp_path):
    examples = Path(agent_config.__file__).parents[3] / "examples"
    for name in ("ha.yaml", "fa.yaml", "ha-fa.yaml", "mn.yaml"):
        doc = LinuxDocument()
        doc.read_main((examples / name).read_text(), name)
        doc.read_keys((examples / "keys.yaml").read_text(), "keys.yaml")
        doc.settings["keys_file"] = "keys.yaml"
        ours = mipd_load(tmp_path, doc.render_main(), doc.render_keys())
        theirs = agent_config.load_config(str(examples / name))
        assert not isinstance(ours, ConfigError), ours
        for role in ("home_agent", "foreign_agent", "mobile_node"):
            assert getattr(ours, role) == getattr(theirs, role)
        assert [repr(sa) for sa in ours.sas] == [repr(sa) for sa in theirs.sas]


# ---------------------------------------------------------------------- one fault: the same field named


# Interface names the model takes (any platform's) and Linux does not: the Linux platform refuses them.
LINUX_BAD_VALUES = [
    ("home_agent", HA_BASE, "interface", "a/b", "config.interface", "interface name"),
    ("home_agent", HA_BASE, "interface", "x" * 16, "config.interface", "1-15 characters"),
]
BAD_ON_LINUX = BAD_VALUES + LINUX_BAD_VALUES


@pytest.mark.parametrize(("resource", "base", "path", "value", "named", "words"), BAD_ON_LINUX,
                         ids=[f"{r}.{p}={v!r}"[:60] for r, _b, p, v, _n, _w in BAD_ON_LINUX])
def test_one_bad_value_both_refuse_naming_the_same_field(tmp_path, resource, base, path, value, named, words):
    sas = [MN_SA] if resource == "mobile_node" else None
    verdict = same_verdict(tmp_path, resource, with_(base, path, value), sas)
    assert verdict is not None, "accepted"
    ours, theirs = verdict
    if isinstance(theirs, ConfigError):
        assert model_path(resource, ours) == theirs.path


@pytest.mark.parametrize(("change", "named", "words"), BAD_SAS, ids=[str(c)[:50] for c, _n, _w in BAD_SAS])
def test_one_bad_security_association_both_refuse_naming_the_same_field(tmp_path, change, named, words):
    ours, theirs = same_verdict(tmp_path, "security_associations", [dict(SA, **change)])
    if isinstance(theirs, ConfigError):
        assert model_path("security_associations", ours) == theirs.path
    else:
        assert _generic(model_path("security_associations", ours)) in STRICTER


# ---------------------------------------------------------------------- random configurations

octet = st.integers(0, 255)
addresses = st.one_of(st.builds(lambda b, c, d: f"10.{b}.{c}.{d}", octet, octet, st.integers(1, 254)),
                      st.sampled_from(["0.0.0.0", "224.0.0.5", "255.255.255.255", "10.1.0", "not-an-address"]))
prefixes = st.one_of(st.builds(lambda a, n: f"{a}/{n}", addresses, st.integers(0, 33)), st.just("10.1.0.0"))
ifnames = st.one_of(st.from_regex(r"[a-z][a-z0-9-]{0,9}", fullmatch=True), st.sampled_from(["x" * 16, "a/b", "a b"]))
hosts = st.one_of(addresses, prefixes, st.builds(lambda a, b: f"{a}-{b}", addresses, addresses),
                  st.sampled_from(["*@example.net", "mn1@example.net", "bogus"]))
lifetimes = st.one_of(st.integers(1, 65535), st.sampled_from([0, 65536, -1]))
small = st.integers(-1, 300)
seconds = st.one_of(st.floats(0.05, 20, allow_nan=False).map(lambda x: round(x, 2)), st.sampled_from([0, -1, 5000]))
bools = st.booleans()
encaps = st.lists(st.sampled_from(["ipip", "gre", "minimal", "vxlan"]), max_size=3)


def maybe(strategy: Any) -> Any:
    return st.one_of(st.none(), strategy)


def config_of(**fields: Any) -> Any:
    """A dict strategy; None values are left out (an option not given)."""
    return st.fixed_dictionaries({k: maybe(v) for k, v in fields.items()}).map(
        lambda d: {k: v for k, v in d.items() if v is not None})


rules = st.lists(st.one_of(
    st.fixed_dictionaries({"action": st.sampled_from(["permit", "deny", "drop"]), "prefix": prefixes}),
    st.fixed_dictionaries({"action": st.sampled_from(["permit", "deny"]), "nai": st.sampled_from(
        ["*@example.net", "guest?@x"])})), max_size=3)
rule_lists = config_of(default=st.sampled_from(["permit", "deny", "maybe"]), rules=rules)
advertisement = config_of(interval=seconds, lifetime=st.integers(0, 40), code=st.sampled_from([0, 16, 3]))

HA_CONFIGS = st.tuples(config_of(
    home_networks=st.lists(prefixes, max_size=2), virtual_networks=st.lists(prefixes, max_size=2),
    mobile_hosts=st.lists(hosts, max_size=3), max_lifetime=lifetimes, simultaneous_bindings=small,
    binding_limit=small, reverse_tunnel=bools, reverse_tunnel_mandatory=bools, encapsulations=encaps,
    advertisement=advertisement), addresses, ifnames).map(lambda t: {"address": t[1], "interface": t[2], **t[0]})
FA_CONFIGS = config_of(
    interfaces=st.lists(config_of(name=ifnames, address=addresses, prefix_length=st.integers(0, 33),
                                  care_of_addresses=st.lists(addresses, max_size=2)), max_size=2),
    advertisement=advertisement, registration_lifetime=lifetimes, registration_required=bools,
    reverse_tunnel=st.sampled_from(["off", "offered", "mandatory", "sometimes"]), encapsulations=encaps,
    visitor_limit=small, pending_limit=small, pending_timeout=seconds)
MN_CONFIGS = st.tuples(config_of(
    home_prefix_length=st.integers(0, 33), nai=st.sampled_from(["mn@example.net", "no-realm"]),
    colocated=bools, reverse_tunnel=bools, encapsulation=st.sampled_from(["ipip", "gre", "vxlan"]),
    lifetime=lifetimes, reregister_margin=st.integers(0, 70000), solicit_interval=seconds,
    max_retransmit_interval=seconds), st.lists(ifnames, min_size=1, max_size=2)).map(
    lambda t: {**MN_BASE, "interfaces": t[1], **t[0]})
SA_CONFIGS = st.lists(config_of(
    peer=st.one_of(addresses, st.just("mn@example.net")), spi=st.one_of(st.integers(0, 600), st.just(2**32)),
    algorithm=st.sampled_from(["hmac-md5", "md5-prefix-suffix", "rfc2002-md5", "sha1"]),
    key=st.sampled_from([KEY, "0x" + KEY.upper(), "abc", "zz" * 16, "k" * 20]), key_format=st.sampled_from(
        ["hex", "ascii"]), replay=st.sampled_from(["timestamp", "nonce", "none"]),
    replay_window=st.integers(0, 4000), fallback=bools,
    roles=st.lists(st.sampled_from(["home_agent", "foreign_agent", "mobile_node", "router"]), max_size=2)),
    min_size=1, max_size=3).map(
    lambda sas: [{"peer": "10.1.0.10", "spi": 257, "key": KEY, **sa} for sa in sas])
FILTER_CONFIGS = config_of(care_of=rule_lists, roaming=rule_lists)

RANDOM = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])


@RANDOM
@given(config=HA_CONFIGS)
def test_random_home_agents(tmp_path, config):
    same_verdict(tmp_path, "home_agent", config)


@RANDOM
@given(config=FA_CONFIGS)
def test_random_foreign_agents(tmp_path, config):
    same_verdict(tmp_path, "foreign_agent", config)


@RANDOM
@given(config=MN_CONFIGS)
def test_random_mobile_nodes(tmp_path, config):
    same_verdict(tmp_path, "mobile_node", config, [MN_SA])


@RANDOM
@given(config=SA_CONFIGS)
def test_random_security_associations(tmp_path, config):
    same_verdict(tmp_path, "security_associations", config)


@RANDOM
@given(config=FILTER_CONFIGS)
def test_random_filters(tmp_path, config):
    if not config:
        return
    main = {"home_agent": {**HA_BASE, "filters": config}}
    raw = mipd_load(tmp_path, main)
    try:
        res = model.RESOURCES["registration_filters"]
        value = states.build(res, "overridden", res.empty, states.want(res, "overridden", config))
    except ModelError as e:
        if not isinstance(raw, ConfigError):
            assert _generic("home_agent.filters." + e.path[len("config."):]) in STRICTER, \
                f"the model refuses what the agent accepts: {e}"
        return
    assert not isinstance(raw, ConfigError), f"the model accepts what the agent refuses: {raw}"
    doc = LinuxDocument()
    doc.settings = copy.deepcopy(SETTINGS)
    doc.set("home_agent", model.HOME_AGENT.normalize(HA_BASE, "home_agent"))
    doc.set("registration_filters", value)
    written = mipd_load(tmp_path, doc.render_main())
    assert written.home_agent == raw.home_agent
