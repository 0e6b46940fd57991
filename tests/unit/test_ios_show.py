"""The TextFSM templates for `show ip mobile ...` (platforms/ios/show_templates.py) against every fixture.

Fixtures (tests/unit/fixtures/ios/show, named TEMPLATE_VARIANT.txt): one per variant of the reference
notes (reconstructed IOS 12.2-12.4 layouts, 12.3T NAI entries, inbound/outbound SPIs, address ranges)
and one per output of the IOS-like router of the tests (captured over netmiko from the router with a
real mipd, as tests/unit/test_ios_state_sim.py runs it). Each parses to what expected.yaml says; no
template reads anything from another command's output; the same output with CR LF line ends, blank
lines, lines a later release adds, a banner, paging remnants and ANSI escapes parses the same; keys
that `show ip mobile secure` prints are never in a parsed row, only their fingerprints.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from ansible_collections.netmobility.mobileip.plugins.module_utils.keys import fingerprint
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios import show_templates

pytest.importorskip("textfsm")

FIXTURES = Path(__file__).parent / "fixtures" / "ios" / "show"
EXPECTED = yaml.safe_load((FIXTURES / "expected.yaml").read_text())
OUTPUTS = sorted(p.name for p in FIXTURES.glob("*.txt"))
MORE = " --More-- " + "\b" * 10 + " " * 10 + "\b" * 10  # what IOS leaves when a page is turned


def template_of(fixture: str) -> str:
    return fixture.split("_", 1)[0]


def parsed(fixture: str, text: str | None = None) -> list[dict[str, object]]:
    text = (FIXTURES / fixture).read_text() if text is None else text
    return [{k: v for k, v in row.items() if v} for row in show_templates.parse(template_of(fixture), text)]


def test_every_template_has_fixtures_from_the_references_and_the_simulator():
    for name in show_templates.TEMPLATES:
        variants = [f for f in OUTPUTS if template_of(f) == name]
        assert any("_sim_" in f for f in variants) and any("_sim_" not in f for f in variants), name
    assert sorted(EXPECTED) == OUTPUTS


@pytest.mark.parametrize("fixture", OUTPUTS)
def test_fixture_parses_as_expected(fixture):
    assert parsed(fixture) == EXPECTED[fixture]


@pytest.mark.parametrize("fixture", OUTPUTS)
@pytest.mark.parametrize("template", sorted(set(show_templates.TEMPLATES) - {"pending"}))
def test_no_template_reads_another_commands_output(fixture, template):
    if show_templates.TEMPLATES[template] is not show_templates.TEMPLATES[template_of(fixture)]:
        assert show_templates.parse(template, (FIXTURES / fixture).read_text()) == []


def _noisy(text: str) -> str:
    """The output as a terminal may deliver it: a banner, CR LF, a blank line and a later release's line after
    every line, a page turned in the middle, colour escapes around the first word."""
    lines = text.splitlines()
    out = ["Load for five secs: 2%/0%; one minute: 1%; five minutes: 1%"]
    for number, line in enumerate(lines):
        if number == len(lines) // 2:
            line = MORE + line
        if number == 0:
            line = re.sub(r"^(\S+)", "\x1b[1m\\1\x1b[0m", line)
        out += [line, "", "    Radius Disconnect Enabled"]
    return "\r\n".join(out) + "\r\n"


@pytest.mark.parametrize("fixture", OUTPUTS)
def test_tolerant_of_terminals_and_later_releases(fixture):
    assert parsed(fixture, _noisy((FIXTURES / fixture).read_text())) == EXPECTED[fixture]


def test_clean_removes_paging_and_escapes_only():
    assert show_templates.clean(f"a:\r\n{MORE}    b 1\r\n\x1b[7mc\x1b[0m") == "a:\n    b 1\nc"


@pytest.mark.parametrize("fixture", [f for f in OUTPUTS if template_of(f) == "secure"])
def test_keys_are_never_parsed_only_fingerprinted(fixture):
    text = (FIXTURES / fixture).read_text()
    keys = re.findall(r"^\s+Key (\S+)\s*$", text, re.M)
    rows = show_templates.parse("secure", text)
    assert keys and len(rows) == len(keys)
    for row, key in zip(rows, keys, strict=True):
        assert "key" not in row and key not in repr(row) and key.upper() not in repr(row)
        assert row["key_fingerprint"] == fingerprint(key, "hex")  # the agent's fingerprint of the same key


def test_a_short_or_ascii_key_is_fingerprinted_too():
    text = "Security Associations (algorithm,mode,replay protection,key):\n10.0.0.1\n" \
           "    SPI 100,  HMAC-MD5, Timestamp +/- 7,\n    Key 0011223344556677\n" \
           "    SPI 101,  HMAC-MD5, Timestamp +/- 7,\n    Key not-hex-secret\n"
    rows = show_templates.parse("secure", text)
    assert [r["spi"] for r in rows] == ["100", "101"]
    assert all(r["key_fingerprint"].startswith("sha256:") for r in rows)
    assert "0011223344556677" not in repr(rows) and "not-hex-secret" not in repr(rows)


def test_traffic_counter_pairs():
    assert show_templates.counter_pairs("Register 8, Deregister 0 requests") == [
        ("register requests", 8), ("deregister requests", 0)]
    assert show_templates.counter_pairs("Gratuitous 3, Proxy 0 ARPs sent") == [
        ("gratuitous arps sent", 3), ("proxy arps sent", 0)]
    assert show_templates.counter_pairs("Authentication failed MN 1, FA 0") == [
        ("authentication failed mn", 1), ("fa", 0)]
    assert show_templates.counter_pairs("Binding info reply received 0 drop 2, sent 0") == [
        ("binding info reply received", 0), ("drop", 2), ("sent", 0)]
