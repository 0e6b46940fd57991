"""Reading one YAML document strictly: duplicate keys refused, syntax errors without file excerpts.

PyYAML's own messages quote the offending line; a keys file line holds a key, so errors here
give only the position and the kind of problem, and for a secret file (the keys file) not even
the token PyYAML names in its problem ("duplicate key 'x'", "the tag '!x'"): it may be a key.
"""

from __future__ import annotations

import time
from typing import Any

import yaml

from mipd.runtime.schema import ConfigError

# libyaml's parser when PyYAML was built with it (tens of times faster on a keys file with thousands of SAs)
_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
RELEASE_CHUNK = 2000  # list items freed at a time by `release` (about 2 ms of deallocation)


class _StrictLoader(_Base):  # type: ignore[misc, valid-type]
    """SafeLoader that refuses a key given twice in one mapping (a silent override otherwise)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)):
                continue  # an unhashable key is refused by the schema later
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {str(key)!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _StrictLoader.construct_mapping)


def load(path: str, what: str, secret: bool = False) -> Any:
    """The document in `path`; ConfigError(`what`, ...) when unreadable or not YAML.

    `secret`: the file holds keys; a YAML problem's text is cut before the token it quotes.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(what, f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ConfigError(what, f"{path} is not UTF-8 text") from None
    try:
        return parse_text(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = e.problem or e.context or "invalid YAML"
        if secret:
            problem = _without_tokens(problem)
        raise ConfigError(what, f"{path}: YAML error{where}: {problem}") from None
    except yaml.YAMLError as e:
        raise ConfigError(what, f"{path}: YAML error: {type(e).__name__}") from None


def _without_tokens(problem: str) -> str:
    """PyYAML's problem text up to the first quoted token: "duplicate key (value hidden)"."""
    cut = min((i for i in (problem.find("'"), problem.find('"')) if i >= 0), default=-1)
    return problem if cut < 0 else problem[:cut].rstrip() + " (value hidden)"


def parse_text(text: str) -> Any:
    """yaml.load(text, _StrictLoader) (a SafeLoader subclass), then the node tree freed in chunks;
    yaml.YAMLError when `text` is not one YAML document."""
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()
    if isinstance(node, yaml.MappingNode):  # a top-level mapping of long lists: a keys file
        for _key, value in node.value:
            if isinstance(value, yaml.SequenceNode):
                release(value.value)
    return data


def release(items: list[Any]) -> None:
    """Empty `items` a chunk at a time, letting other threads run in between.

    Freeing what a keys file of tens of thousands of SAs parses into takes 100-150 ms in one
    piece, holding the GIL: on the daemon's reload thread that would stall the event loop.
    """
    while items:
        del items[-RELEASE_CHUNK:]
        time.sleep(0)  # releases the GIL
