"""The streaming keys file reader (runtime/keys_file.py, keys_lines.py) against the whole-document reader.

Thousands of generated keys files, entries in flow and block form with every kind of value YAML 1.1
reads in its own way (octal and hex integers, yes/no/on/off, nulls, quoted numbers, leading zeros,
escapes, block scalars, nested lists, duplicates, unknown fields, comments), must give exactly what
reading the whole document with the YAML loader gives: the same SAs in the same order, the same
roles and secrets, or the same error (field and message). Then the scale case of the fleet-scale
issue: an error at entry 500,000 of a big file is named with its line.
"""

from __future__ import annotations

import random
import secrets
from pathlib import Path

import pytest
from mipd.runtime import keys_file
from mipd.runtime.schema import ConfigError

HEX = "00112233445566778899aabbccddeeff"
VALUES: dict[str, list[str]] = {
    "peer": ["10.1.0.5", "10.1.0.6", "mn@example.net", "'10.1.0.7'", '"mn2@example.net"', "010.1.0.5", "224.0.0.1",
             "0.0.0.0", "255.255.255.255", "240.0.0.1", "yes", "~", "''", "1.5", "10.1.0", "a b@c", "10.1.0.256",
             "null", "[10.1.0.5]"],
    "spi": ["300", "301", "256", "4294967295", "0300", "0x12c", "12", "'300'", "true", "4294967296", "1_000", "-5",
            "300.0", "0", "255", "3:20", "~"],
    "key": [f'"{HEX}"', f"'{HEX}'", HEX, f"a{HEX[1:]}", f'"0x{HEX}"', '"zz"', '"abc"', "123456", "null", '"a\\x41"',
            f'"{HEX}" # hex', "|\n      literal", '""', "yes", f'"{"ab" * 257}"', "on"],
    "key_format": ["hex", "ascii", "bogus", "'ascii'", "no"],
    "algorithm": ["hmac-md5", "md5-prefix-suffix", "rfc2002-md5", "'hmac-md5'", "md4", "no", "~"],
    "replay": ["timestamp", "nonce", "none", "None", "off", '"none"'],
    "replay_window": ["7", "3600", "0", "3601", "07", "yes", "1e2", "'7'"],
    "fallback": ["true", "false", "yes", "Off", "'true'", "1", "NULL", "y"],
    "roles": ["[home_agent]", "[foreign_agent, mobile_node]", "[]", "home_agent", "[bogus]"],
    "colour": ["red"],
}
COMMON = {"key_format": "hex", "algorithm": "hmac-md5", "replay": "timestamp"}


def entry_fields(rng: random.Random, index: int, valid: bool) -> list[tuple[str, str]]:
    """The fields of one entry: a valid one (distinct peer) or one with odd values and fields."""
    if valid:
        fields = [("peer", f"10.9.{index >> 8}.{index & 255}" if rng.random() < 0.8 else f'"n{index}@example.net"'),
                  ("spi", str(rng.choice((256, 300, 70000)))), ("key", f'"{secrets.token_hex(16)}"')]
        fields += [(name, rng.choice(("hex",)) if name == "key_format" else value) for name, value in COMMON.items()
                   if rng.random() < 0.3]
        rng.shuffle(fields)
        return fields
    names = ["peer", "spi", "key"] + rng.sample(list(VALUES), rng.randint(0, 3))
    if rng.random() < 0.1:
        names.append(rng.choice(names))  # a field given twice
    return [(name, rng.choice(VALUES[name])) for name in names if rng.random() < 0.95]


def render(fields: list[tuple[str, str]], rng: random.Random, indent: int) -> list[str]:
    pad = " " * indent
    flow_ok = all("\n" not in value and "#" not in value for _, value in fields)
    if fields and flow_ok and rng.random() < 0.5:
        inner = ", ".join(f"{name}:{' ' * rng.randint(1, 2)}{value}" for name, value in fields)
        return [f"{pad}- {{{inner}}}" + rng.choice(("", "  # flow", " "))]
    if not fields:
        return [f"{pad}- {{}}"]
    lines = []
    for i, (name, value) in enumerate(fields):
        lead = f"{pad}- " if i == 0 else f"{pad}  "
        lines.append(f"{lead}{name}: {value}" + rng.choice(("", "", "   # note")))
        if rng.random() < 0.05:
            lines.append(rng.choice(("", f"{pad}  # a comment", "# at column 0")))
    return lines


def keys_text(rng: random.Random, count: int, bad: int) -> str:
    """A keys file of `count` entries, `bad` of them with odd values and fields."""
    indent = rng.choice((0, 2, 4))
    lines = ["# keys", "security_associations:" + rng.choice(("", "  # the SAs"))]
    odd = set(rng.sample(range(count), min(bad, count)))
    for index in range(count):
        lines += render(entry_fields(rng, index, index not in odd), rng, indent)
    secrets_block = ["radius_secrets:", '  10.0.0.9: "a shared secret of the lab"',
                     '  "10.0.0.8:1812": "another shared secret"']
    if rng.random() < 0.3:
        lines = secrets_block + lines if rng.random() < 0.5 else lines + secrets_block
    if rng.random() < 0.03:
        lines.insert(0, "---")
    return "\n".join(lines) + "\n"


def outcome(read, path: str):
    """What a reader makes of `path`: the SAs as tuples, roles and secrets, or the error's field and message."""
    try:
        result = read(path)
    except ConfigError as e:
        return ("error", e.path, e.message)
    sas = [(sa.peer, sa.spi, sa.key, sa.algorithm, sa.replay, sa.replay_window, sa.fallback) for sa in result.sas]
    return ("ok", sas, result.sa_roles, result.radius_secrets)


def whole(path: str) -> keys_file.KeysFile:
    try:
        return keys_file._whole(path)
    except ConfigError as e:
        raise e.hide_value() from None


@pytest.mark.parametrize("bad", [0, 1])
def test_streaming_reads_what_the_whole_document_reads(tmp_path: Path, bad: int) -> None:
    """With at most one odd entry: the very same SAs, or the very same error."""
    rng = random.Random(f"keys-{bad}")
    path = tmp_path / "keys.yaml"
    kinds: dict[str, int] = {"ok": 0, "error": 0}
    for _ in range(600):
        path.write_text(keys_text(rng, rng.randint(1, 12), bad))
        streamed, expected = outcome(keys_file.read_keys_file, str(path)), outcome(whole, str(path))
        assert streamed == expected, path.read_text()
        kinds[streamed[0]] += 1
    assert kinds == {"ok": 600, "error": 0} if bad == 0 else kinds["error"] > 300 and kinds["ok"] > 5, kinds


def test_with_several_odd_entries_both_refuse_or_read_the_same(tmp_path: Path) -> None:
    """Several problems: the stream names the first in file order, the whole-document reader may name a
    YAML problem further down first; either way the file is refused, and read alike when it is not."""
    rng = random.Random("keys-several")
    path = tmp_path / "keys.yaml"
    for _ in range(300):
        path.write_text(keys_text(rng, rng.randint(2, 12), rng.randint(2, 4)))
        streamed, expected = outcome(keys_file.read_keys_file, str(path)), outcome(whole, str(path))
        assert streamed[0] == expected[0] and (streamed[0] == "error" or streamed == expected), path.read_text()


def test_the_example_keys_file_and_its_forms() -> None:
    example = str(Path(__file__).parents[3] / "agent" / "examples" / "keys.yaml")
    assert outcome(keys_file.read_keys_file, example) == outcome(whole, example)
    assert len(keys_file.read_keys_file(example).sas) >= 4


@pytest.mark.parametrize(("text", "streamed"), [
    (f'security_associations:\n  - {{peer: 10.1.0.5, spi: 300, key: "{HEX}"}}\n', True),
    (f'security_associations:\n- peer: 10.1.0.5\n  spi: 300\n  key: "{HEX}"\n', True),
    (f'security_associations: [{{peer: 10.1.0.5, spi: 300, key: "{HEX}"}}]\n', False),
    (f'security_associations:\n  - &a {{peer: 10.1.0.5, spi: 300, key: "{HEX}"}}\n', True),  # a local anchor
    (f'security_associations:\n  - {{peer: 10.1.0.5, spi: 300, key: &k "{HEX}"}}\n'
     '  - {peer: 10.1.0.6, spi: 300, key: *k}\n', False),  # an alias to another entry
    (f'--- \nsecurity_associations:\n  - {{peer: 10.1.0.5, spi: 300, key: "{HEX}"}}\n', False),
])
def test_layouts_the_stream_does_not_follow_are_read_whole(tmp_path: Path, monkeypatch, text: str,
                                                            streamed: bool) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(text)
    calls: list[str] = []
    real = keys_file._whole
    monkeypatch.setattr(keys_file, "_whole", lambda p: calls.append(p) or real(p))
    sas = keys_file.read_keys_file(str(path)).sas
    assert sas.get("10.1.0.5", 300).key == bytes.fromhex(HEX)
    assert calls == ([] if streamed else [str(path)])


def test_an_error_at_entry_500000_names_the_entry_and_its_line(tmp_path: Path) -> None:
    """The fleet-scale issue's case: a big file, one bad SPI near the end; no value shown."""
    path = tmp_path / "keys.yaml"
    bad_spi = "12345678901234567890"
    with path.open("w") as out:
        out.write("security_associations:\n")
        for start in range(0, 500_000, 10_000):
            out.write("".join(f'  - {{peer: 10.{16 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}, spi: 300, '
                              f'key: "{HEX}"}}\n' for i in range(start, start + 10_000)))
        out.write(f'  - {{peer: 10.200.0.1, spi: {bad_spi}, key: "{HEX}"}}\n')
    with pytest.raises(ConfigError) as err:
        keys_file.read_keys_file(str(path))
    assert err.value.path == "security_associations[500000].spi" and err.value.line == 500_002
    assert err.value.located() == (f"{path} line 500002: security_associations[500000].spi: must be an integer "
                                   "256-4294967295, got a number (value hidden)")
    assert bad_spi not in err.value.located() and HEX not in err.value.located()


@pytest.mark.parametrize(("name", "text", "field"), [
    # a key of 4 MB on one line: refused by its length, never echoed
    ("oversized key", f'security_associations:\n  - {{peer: 10.1.0.5, spi: 300, key: "{"ab" * (2 << 20)}"}}\n',
     "security_associations[0].key"),
    # an alias bomb (each level nine times the one before): PyYAML shares aliases, the entry is still one mapping
    ("alias bomb", "security_associations:\n  - peer: &a [x, x, x, x, x, x, x, x, x]\n"
     + "".join(f"    l{i}: &a{i} [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" for i in range(8)) + f'    key: "{HEX}"\n',
     "security_associations[0]"),
    # another identity's entry given twice under one peer: the second SA for (peer, SPI) is refused
    ("duplicate identity", f'security_associations:\n  - {{peer: 10.1.0.5, spi: 300, key: "{HEX}"}}\n'
     f'  - {{peer: 10.1.0.5, spi: 300, key: "{"cd" * 16}"}}\n', "security_associations[1].spi"),
])
def test_hostile_keys_files_are_refused_naming_the_field(tmp_path: Path, name: str, text: str, field: str) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        keys_file.read_keys_file(str(path))
    assert err.value.path.startswith(field), (name, err.value.located())
    located = err.value.located()
    assert len(located) < 300 and HEX not in located and "cd" * 16 not in located and "abab" not in located
