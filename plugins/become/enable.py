# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Become method `netmobility.mobileip.enable`: IOS `enable` for the collection's netmiko transport."""

from __future__ import annotations

DOCUMENTATION = r"""
name: enable
author:
  - netmobility.mobileip contributors (@netmobility)
short_description: Enable mode on an IOS-like router reached by the collection's netmiko transport
version_added: 1.0.0
description:
  - Names how an IOS-like router reached with the collection's own netmiko transport gets to privilege level 15 -
    C(enable) with the secret in C(ansible_become_password). The transport (not this plugin) sends C(enable); this
    plugin only lets an inventory say C(ansible_become=true) and C(ansible_become_method=netmobility.mobileip.enable)
    without ansible.netcommon installed.
  - Hosts reached through C(ansible.netcommon.network_cli) use C(ansible.netcommon.enable) instead.
options:
  become_pass:
    description: The enable secret.
    vars:
      - name: ansible_become_password
      - name: ansible_become_pass
      - name: ansible_enable_pass
    env:
      - name: ANSIBLE_BECOME_PASS
notes:
  - The netmobility.mobileip modules run on the controller for IOS-like routers, without become; only the enable
    secret is used, by the transport.
"""

from ansible.plugins.become import BecomeBase


class BecomeModule(BecomeBase):
    """No command to wrap: the transport sends `enable` on the router."""

    name = "netmobility.mobileip.enable"

    def build_become_command(self, cmd: str, shell: object) -> str:
        return cmd
