"""The modes of the router and their command tables (built once per router: interface names and
`| section` support depend on its options)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ios_sim import aaa_commands, config_commands, exec_commands, mobileip_commands
from ios_sim.cli import Mode

if TYPE_CHECKING:
    from ios_sim.router import RouterOptions


def build_modes(options: RouterOptions) -> dict[str, Mode]:
    """user (`>`), exec (`#`), config, and the submodes IOS enters from it."""
    interfaces = options.interfaces
    common = config_commands.mode_commands()
    modes = [
        Mode("user", ">", exec_commands.user_commands()),
        Mode("exec", "#", exec_commands.exec_commands(interfaces)),
        Mode("config", "(config)#", [*common, *config_commands.global_commands(interfaces),
                                     *mobileip_commands.global_commands(interfaces), *aaa_commands.global_commands()],
             configuration=True),
        Mode("config-if", "(config-if)#", [*common, *config_commands.interface_commands(),
                                           *mobileip_commands.interface_commands()], "config", True),
        Mode("config-router", "(config-router)#", common, "config", True),
        Mode("mobile-router", "(mobile-router)#", [*common, *mobileip_commands.mobile_router_commands(interfaces)],
             "config", True),
        Mode("config-std-nacl", "(config-std-nacl)#", [*common, *config_commands.nacl_commands()], "config", True),
    ]
    return {mode.name: mode for mode in modes}
