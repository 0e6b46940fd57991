"""A translator for testing the apply hook itself, not a translation: it does not read IOS lines.

The real translator (the collection's IOS parser turning the running configuration into the
collection's model and then into mipd's configuration) plugs in with `--translator`. To test
the hook's plumbing (write the files 0600, `mipd check-config`, start, reload, stop mipd) before
that exists, this one returns the mipd configuration and keys held in the YAML file named by
$IOS_SIM_FIXED_TRANSLATION (`{config: {...}, keys: {...}}`) whenever the running configuration
has `router mobile`, and None (no Mobile IP: mipd stopped) otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from ios_sim.mipd_attach import MipdFiles

ENVIRONMENT = "IOS_SIM_FIXED_TRANSLATION"


def translate(running_config: str, links: dict[str, str | None]) -> MipdFiles | None:
    if "router mobile" not in running_config.splitlines():
        return None
    data = yaml.safe_load(Path(os.environ[ENVIRONMENT]).read_text())
    return MipdFiles(data["config"], data.get("keys") or {})
