"""Role configurations the state machines take (validated values, no I/O).

The runtime builds these from the YAML config file; the Ansible collection renders that
file from the same model. Defaults follow RFC 5944 where it gives one.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from mipd.protocol.filters import HostSet, RegistrationFilters, addr_int
from mipd.wire.registration import MAX_EXTENSIONS, MAX_MESSAGE_SIZE

ENCAPSULATIONS = ("ipip", "gre", "minimal")
REVERSE_TUNNEL_MODES = ("off", "offered", "mandatory")


def encap_for_flags(flags: int) -> str:
    """The encapsulation a request's M/G bits ask for (§3.3): G -> gre, M -> minimal, else ipip."""
    if flags & 0x08:
        return "gre"
    if flags & 0x10:
        return "minimal"
    return "ipip"


@dataclass(frozen=True, slots=True)
class NaiHost:
    """A mobile node known by its NAI (RFC 2794) and the home address(es) it is configured to hold.

    An SA whose peer is an NAI authenticates a registration only for these addresses (RFC 5944
    §3.8.2.1 a: the authenticator proves who sent the request; this says what that identity may
    claim). Cisco IOS: ``ip mobile host nai NAI static-address ADDR...``.
    """

    nai: str
    home_addresses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Limits:
    """What an unauthenticated sender can make an agent do (RFC 5944 §3.8.2.1: the authenticator
    is checked first, so the work before it must be cheap and bounded), and how often it is told
    no. Rates are per second, each a token bucket whose burst is the same number; 0 turns one off.

    - message_size, extensions: a longer registration message is discarded unread, one with more
      extensions when the limit is reached (mipd.wire.registration: the arithmetic of the default);
    - denial_replies_*: denial replies (§3.7.2.3, §3.8.3) per source address and in all; the rest
      are not sent (like §3.7.2's one per second per mobile node at a foreign agent);
    - denial_logs_*: their log lines; the rest are summed up once a second ("N more like this
      from X"), so a flood cannot fill the disk;
    - source_rate: datagrams per second one source address gets processed while the daemon has a
      backlog (a full batch); the rest are dropped before decoding, so one flooding source cannot
      starve the others; source_block_time: a source that sends twice that within a second is
      dropped by the kernel (a socket filter) for that many seconds (the daemon's settings, not the
      state machines').
    """

    message_size: int = MAX_MESSAGE_SIZE
    extensions: int = MAX_EXTENSIONS
    denial_replies_per_source: float = 10.0
    denial_replies_total: float = 100.0
    denial_logs_per_source: float = 5.0
    denial_logs_total: float = 20.0
    source_rate: float = 2000.0
    source_block_time: float = 10.0


@dataclass(frozen=True, slots=True)
class HomeAgentConfig:
    """RFC 5944 §3.8.1: address, home network prefix(es), served mobile nodes."""

    address: str
    interface: str = "eth0"
    home_networks: tuple[str, ...] = ()  # prefixes on the home link ("10.1.1.0/24")
    virtual_networks: tuple[str, ...] = ()  # home prefixes with no physical link: no proxy ARP
    mobile_hosts: HostSet = HostSet()
    nai_hosts: tuple[NaiHost, ...] = ()  # RFC 2794: which home addresses each NAI may register
    own_addresses: tuple[str, ...] = ()  # this host's other addresses (an FA on the same host): never bound
    max_lifetime: int = 1800  # granted lifetime = min(requested, this), never increased (§3.8.3.2)
    simultaneous_bindings: int = 0  # max per node when S is set; 0 = unsupported -> code 1
    binding_limit: int = 0  # total bindings; 0 = unlimited; beyond -> 130
    reverse_tunnel: bool = True  # RFC 3024: T honoured (else 137)
    reverse_tunnel_mandatory: bool = False  # refuse requests without T (138)
    encapsulations: frozenset[str] = frozenset(ENCAPSULATIONS)  # else 139
    filters: RegistrationFilters = RegistrationFilters()
    advertise: bool = True  # §2.3: advertise on the home link (H bit) so mobile nodes know they are home
    advertisement_interval: float = 5.0
    advertisement_lifetime: int = 15
    advertisement_code: int = 16
    limits: Limits = field(default=Limits(), compare=False)
    broadcasts: frozenset[str] = field(default=frozenset(), compare=False)  # derived
    reserved: frozenset[str] = field(default=frozenset(), compare=False)  # derived: never a home address
    _nai_homes: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)  # derived
    _links: tuple[tuple[int, int], ...] = field(default=(), compare=False, repr=False)  # derived

    def __post_init__(self) -> None:
        bcast = set()
        reserved = {self.address, *self.own_addresses}
        for text in (*self.home_networks, *self.virtual_networks):
            net = ipaddress.IPv4Network(text, strict=False)
            if net.prefixlen < 31:
                bcast.add(str(net.broadcast_address))
                reserved.add(str(net.network_address))
        object.__setattr__(self, "broadcasts", frozenset(bcast))
        object.__setattr__(self, "reserved", frozenset(reserved | bcast))
        object.__setattr__(self, "_nai_homes", {h.nai.lower(): frozenset(h.home_addresses) for h in self.nai_hosts})
        links = [ipaddress.IPv4Network(n, strict=False) for n in self.home_networks]
        object.__setattr__(self, "_links", tuple((int(n.network_address), int(n.netmask)) for n in links))

    def home_prefix_length(self) -> int:
        """The prefix length of the home network the HA's own address is in (24 if none is)."""
        a = addr_int(self.address)
        for (net, mask), text in zip(self._links, self.home_networks, strict=True):
            if a & mask == net:
                return ipaddress.IPv4Network(text, strict=False).prefixlen
        return 24

    def holds(self, identity: str, home_address: str) -> bool:
        """May the SA of `identity` (its peer) authenticate a registration of `home_address`?

        An address SA authenticates exactly its own address; an NAI SA only the addresses that
        NAI is configured to hold (`nai_hosts`; RFC 2794, RFC 5944 §3.8.2.1). Anything else would
        let one node's key register another node's address.
        """
        if identity == home_address:
            return True
        return home_address in self._nai_homes.get(identity.lower(), ())

    def serves(self, home_address: str, nai: str | None) -> bool:
        """Is this a mobile host of ours: in `mobile_hosts`, or an address its NAI is configured to hold?"""
        return self.mobile_hosts.contains(home_address, nai) or (
            nai is not None and home_address in self._nai_homes.get(nai.lower(), ()))

    def on_home_link(self, address: str) -> bool:
        """Is `address` in a home network with a physical link (so §4.6 ARP applies)?"""
        a = addr_int(address)
        return any(a & mask == net for net, mask in self._links)


@dataclass(frozen=True, slots=True)
class ServedInterface:
    """A link the foreign agent serves: its own address there and the care-of addresses it offers."""

    name: str
    address: str
    prefix_length: int = 24
    care_of_addresses: tuple[str, ...] = ()  # default: (address,)


@dataclass(frozen=True, slots=True)
class ForeignAgentConfig:
    """RFC 5944 §2.3 (advertisements) and §3.7 (registrations) settings."""

    interfaces: tuple[ServedInterface, ...]
    advertisement_interval: float = 5.0  # mean; randomised; at most lifetime / 3 (§2.3.2)
    advertisement_lifetime: int = 15  # ICMP lifetime of an advertisement
    advertisement_code: int = 16  # 16: mobility only; 0: also routes common traffic
    advertise_broadcast: bool = False  # §2.1: advertise to 255.255.255.255 instead of 224.0.0.1
    advertise_prefix_lengths: bool = True
    registration_lifetime: int = 1800  # longest lifetime accepted; longer -> 69
    registration_required: bool = False  # R bit
    reverse_tunnel: str = "offered"  # off | offered | mandatory (RFC 3024)
    encapsulations: frozenset[str] = frozenset(ENCAPSULATIONS)
    visitor_limit: int = 0  # 0 = unlimited; at limit: B bit, requests -> 66
    pending_limit: int = 5  # §3.7.1: pending requests per FA; beyond -> 66; 0 = unlimited
    pending_timeout: float = 7.0  # §3.7.1: pending longer -> 78
    challenge: bool = False  # RFC 3012 challenges in advertisements
    # §3.5.4, §3.7.2.2: relay registrations only with an FHAE; with no FA-HA SA for their home agent -> 65
    require_fa_ha_auth: bool = False
    filters: RegistrationFilters = RegistrationFilters()
    limits: Limits = field(default=Limits(), compare=False)


@dataclass(frozen=True, slots=True)
class MobileNodeConfig:
    """RFC 5944 §3.6: what a mobile node knows about its home."""

    home_address: str
    home_agent: str
    home_prefix_length: int = 24
    home_gateway: str | None = None  # default router at home
    nai: str | None = None
    interfaces: tuple[str, ...] = ("eth0",)  # links it may roam on
    colocated: bool = False  # register a colocated care-of address (D bit)
    reverse_tunnel: bool = False  # request T
    encapsulation: str = "ipip"  # preferred: ipip | gre | minimal
    lifetime: int = 1800  # requested lifetime
    reregister_margin: int = 10  # seconds before expiry to re-register
    solicit_interval: float = 1.0  # initial solicitation interval; doubles (§2.4)
    max_retransmit_interval: float = 32.0  # cap on registration backoff (§3.6.3)
    limits: Limits = field(default=Limits(), compare=False)
