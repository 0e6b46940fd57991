"""Install ansible.netcommon, ansible.utils and cisco.ios for the network_cli tests, from PyPI.

There is no Galaxy here; the `ansible` package on PyPI bundles these collections. Installing all
of it is big, so this downloads its wheel once with pip and extracts only the three collections
into build/network_collections (an ANSIBLE_COLLECTIONS_PATH). network_cli also needs
ansible-pylibssh (requirements-dev.txt).

    python scripts/network_collections.py [--spec 'ansible>=12,<13'] [--dest DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS = ("ansible_collections/ansible/netcommon/", "ansible_collections/ansible/utils/",
               "ansible_collections/cisco/ios/")


def install(spec: str, dest: Path) -> list[str]:
    """Extract the collections from the `ansible` wheel matching `spec` into `dest`; their directories."""
    with tempfile.TemporaryDirectory() as download:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d",
                        download, spec], check=True, stdout=subprocess.DEVNULL)
        wheel = next(Path(download).glob("ansible-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            members = [name for name in archive.namelist() if name.startswith(COLLECTIONS)]
            archive.extractall(dest, members)
    return [str(dest / c) for c in COLLECTIONS]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--spec", default="ansible>=12,<13", help="the ansible release to take them from")
    p.add_argument("--dest", type=Path, default=ROOT / "build" / "network_collections")
    args = p.parse_args()
    for directory in install(args.spec, args.dest):
        print(directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
