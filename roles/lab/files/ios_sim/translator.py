"""The router's default translator: IOS Mobile IP configuration -> the collection's model -> mipd.

One model serves both platforms: the running configuration is parsed by the collection's IOS
platform (plugins/module_utils/platforms/ios, the parse `gathered`/`parsed` use) into one model
value per resource (home_agent, foreign_agent, mobile_node, security_associations,
registration_filters), the IOS interface names are replaced by the Linux links of the router's
namespace (`links`, from `--interface IOS=LINK`), and the Linux platform's document
(plugins/module_utils/platforms/linux/document.py, what the Linux modules write) renders mipd's
configuration and keys file. `MobileIpApplier` (mipd_attach.py) writes them (keys 0600), checks
them with `mipd check-config`, and reloads or starts mipd.

Like IOS printing a warning for a feature it does not run, what the router holds that the model
cannot express or mipd cannot do (`ip mobile home-agent broadcast`, an address-range SA, a served
interface that stands for no Linux link, `ip mobile tunnel ...`) is logged by field and left out;
the rest still runs. What the model refuses (a 64-bit key, a home agent without a home network,
a mobile router without an SA with its home agent) refuses the whole translation with the
field's name: the applier logs it and mipd keeps its last good configuration. Notes and errors
never hold a key.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.netmobility.mobileip.plugins.module_utils import keys, model, yaml_text
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError, join
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios.lines import RunningConfig
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios.platform import KINDS, IosPlatform
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.linux.document import (
    ROLES,
    SA_LIST,
    LinuxDocument,
    linux_names,
)

from ios_sim.mipd_attach import MipdFiles

LOG = logging.getLogger("ios_sim.translator")
FILTERS = "registration_filters"
# Which mipd roles use an SA of each IOS kind (`ip mobile secure KIND`): a host's SA is the home
# agent's (MN-HA), a visitor's the foreign agent's (MN-FA), a home agent's the foreign agent's
# (FA-HA) or the mobile router's (MN-HA), a foreign agent's the home agent's (RFC 5944 §3.5).
SA_ROLES = {"host": ["home_agent"], "foreign-agent": ["home_agent"], "visitor": ["foreign_agent"],
            "home-agent": ["foreign_agent", "mobile_node"]}
# Mobile IP lines in the running configuration; those no table of the IOS platform reads are noted.
_MOBILE_IP_LINE = re.compile(r"^(?:ip mobile |ip irdp)")


class TranslationRefused(ModelError):
    """The model (or mipd's files) cannot hold the router's Mobile IP configuration: names the field."""


@dataclass
class Translation:
    """mipd's files (None: no Mobile IP role configured) and what was left out, by field or line."""

    files: MipdFiles | None
    notes: list[str] = field(default_factory=list)


def translate(running_config: str, links: dict[str, str | None]) -> MipdFiles | None:
    """The router's Translator (mipd_attach.Translator): notes are logged as warnings, a refusal raised."""
    result = translation(running_config, links)
    for note in result.notes:
        LOG.warning("translate: %s", note)
    return result.files


def translation(running_config: str, links: dict[str, str | None]) -> Translation:
    """Parse with the IOS platform, rename interfaces, render with the Linux document (TranslationRefused)."""
    ios = IosPlatform()
    config = RunningConfig(running_config, list(KINDS.values()))
    hide = _hider(ios.secrets(running_config))
    notes: list[str] = []
    values: dict[str, Any] = {}
    try:
        for name, resource in model.RESOURCES.items():
            values[name] = ios.parse(resource, config)
            notes += [f"{name}: {note}: not held by the model, left out" for note in ios.unheld(resource, config)]
        notes += _unread(config)
        if all(values[role] is None for role in ROLES):
            return Translation(None, _unique(notes, hide))
        if "router mobile" not in config.globals:  # IOS runs no Mobile IP without it
            return Translation(None, ["no router mobile: Mobile IP is off (the ip mobile lines are kept)"])
        for role in ROLES:
            values[role] = _renamed(role, values[role], links, notes)
        files = _render(values)
    except ModelError as error:
        raise TranslationRefused(error.path, hide(error.message)) from None
    return Translation(files, _unique(notes, hide))


def _render(values: dict[str, Any]) -> MipdFiles:
    """The model values as mipd's two files, through the Linux platform's document."""
    doc = LinuxDocument()
    for role in ROLES:
        for error in linux_names(role, values[role], role):
            raise error
        doc.set(role, values[role])
    doc.set(FILTERS, values[FILTERS])
    doc.set(SA_LIST, [{**sa, "roles": SA_ROLES[sa["kind"]]} for sa in values[SA_LIST]])
    doc.check()
    return MipdFiles(yaml_text.load(doc.render_main()) or {}, yaml_text.load(doc.render_keys()) or {})


def _renamed(role: str, value: dict[str, Any] | None, links: dict[str, str | None],
             notes: list[str]) -> dict[str, Any] | None:
    """`value` with IOS interface names replaced by the Linux links they stand for.

    The home interface must have one (refused otherwise); a served or roaming interface without
    one is left out with a note (refused when none is left).
    """
    if value is None:
        return None
    value = dict(value)
    if role == "home_agent":
        value["interface"] = _link(value["interface"], links, join(role, "interface"))
        return value
    key = "interfaces"
    kept = []
    for i, entry in enumerate(value[key]):
        name = entry["name"] if isinstance(entry, dict) else entry
        try:
            link = _link(name, links, join(join(role, key), i))
        except ModelError as error:
            notes.append(f"{error}: left out")
            continue
        kept.append({**entry, "name": link} if isinstance(entry, dict) else link)
    if not kept:
        raise ModelError(join(role, key), "no interface stands for a Linux link of this router "
                         "(--interface IOS-NAME=LINK)")
    value[key] = kept
    return value


def _link(name: str, links: dict[str, str | None], path: str) -> str:
    link = links.get(name)
    if not link:
        raise ModelError(path, f"{name} stands for no Linux link of this router (--interface {name}=LINK)")
    return link


def _unread(config: RunningConfig) -> list[str]:
    """Mobile IP lines no table of the IOS platform reads (`ip mobile tunnel ...`, `mobile-network ...`)."""
    kinds = list(KINDS.values())
    notes = [f"{line}: not translated (mipd has no equivalent)" for line in config.globals
             if _MOBILE_IP_LINE.match(line) and not any(kind.read(line) is not None for kind in kinds)]
    for header, body in config.sections.items():
        if header == "ip mobile router":
            mobile = body
        elif header.startswith("interface "):
            mobile = [line for line in body if _MOBILE_IP_LINE.match(line)]
        else:
            continue
        notes += [f"{header}: {line}: not translated (mipd has no equivalent)" for line in mobile
                  if not any(kind.read(line) is not None for kind in kinds)]
    return notes


def _hider(secrets: list[str]) -> Any:
    """A function masking every key of the running configuration in a text (notes, errors)."""
    found = sorted({s for s in secrets if s}, key=len, reverse=True)

    def hide(text: str) -> str:
        for secret in found:
            text = text.replace(secret, keys.MASK)
        return text

    return hide


def _unique(notes: list[str], hide: Any) -> list[str]:
    return list(dict.fromkeys(hide(note) for note in notes))
