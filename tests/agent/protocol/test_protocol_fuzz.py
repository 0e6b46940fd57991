"""Fuzzing the HA, FA and MN state machines (issue 9): hypothesis drives each through sequences of
valid signed messages, wrong keys and SPIs, other nodes' keys, mutated and replayed bytes, timers,
time jumps and configuration reloads (tests/mipfuzz.py builds them and keeps the ground truth).
Nothing may raise out of the machine and, after every step:

- HA: no binding without a request signed with an SA for that node; no request accepted twice
  (RFC 5944 §3.8.2.1, §5.7);
- FA: no visitor without an accepting reply from the home agent, signed with the FA-HA key when
  one is configured (§3.7.3.1);
- MN: registered only after an accepting reply with a valid MHAE (§3.6.2.1);
- none of them counts an internal error (their safety net catching an exception).

benchmarks/fuzz.py runs the same worlds for a million inputs. Below them: each bug the fuzzing
found, as a regression test with the input that found it.
"""

from __future__ import annotations

import random

import mipfuzz
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from mipd.protocol import actions as A
from mipd.protocol import codes
from mipd.protocol.config import HomeAgentConfig
from mipd.protocol.filters import HostSet
from mipd.protocol.home_agent import HomeAgent
from mipd.security import SecurityAssociation, SecurityAssociations, sign, verify
from mipd.security.replay import ntp_timestamp
from mipd.wire import registration as reg
from mipd.wire.extensions import MHAE, AuthExtension, NAIExtension

# Bounded for the suite (a few seconds each on 2 cores), reproducible (derandomized, no database).
STATEFUL = settings(max_examples=300, stateful_step_count=50, deadline=None, derandomize=True, database=None)


def world_machine(world: type[mipfuzz.World]) -> type[RuleBasedStateMachine]:
    """A hypothesis state machine whose one rule is a step of `world` (its kind and a seed)."""

    class Fuzz(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.world = world(random.Random(0))

        @rule(kind=st.sampled_from(world.KINDS), seed=st.integers(0, 2**32 - 1))  # KINDS repeats = weights
        def step(self, kind: str, seed: int) -> None:
            self.world.step(kind, random.Random(seed))

        @invariant()
        def holds(self) -> None:
            assert self.world.violations() == []

    Fuzz.__name__ = f"Fuzz{world.__name__}"
    return Fuzz


TestHomeAgentFuzz = world_machine(mipfuzz.HAWorld).TestCase
TestHomeAgentFuzz.settings = STATEFUL
TestForeignAgentFuzz = world_machine(mipfuzz.FAWorld).TestCase
TestForeignAgentFuzz.settings = STATEFUL
TestMobileNodeFuzz = world_machine(mipfuzz.MNWorld).TestCase
TestMobileNodeFuzz.settings = STATEFUL


def test_worlds_reach_the_interesting_states():
    """The fuzz is not vacuous: with the seeds the suite uses, each world gets past the checks
    to bindings, visitors and registrations (else the invariants would hold trivially)."""
    reached = {"ha": 0, "fa": 0, "mn": 0}
    for seed in range(6):
        rng = random.Random(seed)
        worlds = {"ha": mipfuzz.HAWorld(rng), "fa": mipfuzz.FAWorld(rng), "mn": mipfuzz.MNWorld(rng)}
        for _ in range(150):
            for world in worlds.values():
                world.step(rng.choice(world.KINDS), rng)
                assert world.violations() == []
            reached["ha"] += bool(worlds["ha"].machine.bindings())
            reached["fa"] += bool(worlds["fa"].machine.visitors())
            reached["mn"] += worlds["mn"].machine.status(worlds["mn"].now).registered
    assert all(count > 20 for count in reached.values()), reached


def test_ha_invariant_catches_an_unsigned_binding():
    """The HA invariant can fail: a binding the world never signed for is reported."""
    world = mipfuzz.HAWorld(random.Random(1))
    sa = world.sas[mipfuzz.HOME_TS][-1]
    data, source = world._request(random.Random(2), mipfuzz.HA_NODES[0], mipfuzz.HOME_TS, sa)
    world.machine.on_packet(A.Packet(data, source, mipfuzz.HA), world.now)  # behind the world's back
    assert any("without a request signed" in v for v in world.violations()) == bool(world.machine.bindings())


# ------------------------------------------------------------------------------ bugs fuzzing found

NOW = mipfuzz.NOW


# benchmarks/fuzz.py, ha, episode seed 1000004, input 39 (the HA's SA for carol@example.net is SPI 258
# with another key): a request for 10.1.0.12 with carol's NAI, an MHAE that does not verify, a
# challenge and an FHAE.
NAI_BAD_MHAE = bytes.fromhex(
    "0100001e0a01000c0a0100010a030001eef45051b8d4f52683116361726f6c406578616d706c652e6e6574201400000102"
    "506f7585aea989bd5174f18771d4935184083d5ffb258122dedf221400000190cf3eab31d6c6c4f7954d8f3bcbecedc4"
)


def test_nai_node_with_a_bad_authenticator_gets_131_not_an_internal_error():
    """Found by fuzzing: a request carrying an NAI whose SA is filed under the NAI, for a home
    address with no SA of its own, with a wrong authenticator or an unknown SPI, made _deny look for
    the reply's SA under the home address only: IndexError, caught by on_packet's safety net, no
    reply. RFC 5944 §3.8.2.1 a / §3.8.3.1: deny with 131, the reply signed with an SA the node holds
    (its NAI's, RFC 2794 §2), and nothing bound."""
    nai_sa = SecurityAssociation(mipfuzz.CAROL, 258, bytes(range(16)))
    config = HomeAgentConfig(mipfuzz.HA, "home0", (mipfuzz.HOME_NET,),
                             mobile_hosts=HostSet((mipfuzz.HOME_NET, "*@example.net")))
    fixed = reg.RegistrationRequest(0, 600, mipfuzz.HOME_NAI, mipfuzz.HA, mipfuzz.FA, ntp_timestamp(NOW))
    body = fixed.encode_fixed() + NAIExtension(mipfuzz.CAROL).encode()
    wrong_key = sign(SecurityAssociation(mipfuzz.CAROL, 258, b"not-the-key"), body, MHAE)
    unknown_spi = sign(SecurityAssociation(mipfuzz.CAROL, 999, nai_sa.key), body, MHAE)
    for data in (NAI_BAD_MHAE, wrong_key, unknown_spi):
        ha = HomeAgent(config, SecurityAssociations([nai_sa]), random.Random(1))
        out = ha.on_packet(A.Packet(data, mipfuzz.FA, mipfuzz.HA), NOW)
        assert ha.counters["discard.internal_error"] == 0, out
        [send] = [a for a in out if isinstance(a, A.SendUDP)]
        rep = reg.decode_reply(send.payload)
        assert rep.code == codes.HA_MN_AUTH
        [mhae] = [e for e in rep.extensions if isinstance(e, AuthExtension) and e.type == MHAE]
        assert verify(nai_sa, rep.raw, mhae) is not None
        assert ha.bindings() == []
