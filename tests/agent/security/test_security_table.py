"""The compact SA table (security/table.py): packed records, SAs prepared on first use in a bounded cache,
what a reload changes (added, removed, changed key, changed algorithm), selection by role."""

from __future__ import annotations

import tracemalloc

import pytest
from mipd.security import SecurityAssociation, SecurityAssociations
from mipd.security.table import Difference


def sa(peer: str = "10.1.1.10", spi: int = 300, key: bytes = b"k" * 16, **kw) -> SecurityAssociation:
    return SecurityAssociation(peer=peer, spi=spi, key=key, **kw)


def test_every_field_comes_back_as_given() -> None:
    given = [sa(), sa(spi=301, key=b"\x00" * 256, algorithm="md5-prefix-suffix", replay="nonce", replay_window=3600,
                    fallback=True), sa(peer="mn@example.net", spi=0xFFFFFFFF, key=b"x", algorithm="rfc2002-md5",
                                       replay="none", replay_window=1)]
    table = SecurityAssociations(given)
    assert list(table) == given and len(table) == 3
    assert [table.get(s.peer, s.spi) for s in given] == given
    assert table.get("10.1.1.10", 301).mac(b"data") == given[1].mac(b"data")  # the key schedule is the key's
    assert [table.get(s.peer, s.spi).spi_bytes for s in given] == [s.spi_bytes for s in given]  # what signing sends
    with pytest.raises(ValueError, match=r"^spi: duplicate SA for peer 10.1.1.10 SPI 300$"):
        table.add(sa(key=b"another"))


def test_prepared_on_first_use_and_bounded_first_in_first_out() -> None:
    table = SecurityAssociations([sa(peer=f"10.1.1.{i}") for i in range(10)], prepared_limit=4)
    assert list(table) and not table._prepared  # a listing prepares nothing
    first = table.get("10.1.1.0", 300)
    assert table.get("10.1.1.0", 300) is first  # kept while prepared
    for i in range(1, 5):
        table.get(f"10.1.1.{i}", 300)
    assert len(table._prepared) == 4 and "10.1.1.0" not in table._prepared  # the oldest went
    assert table.get("10.1.1.0", 300) == first  # made again, equal
    assert table.get("10.9.9.9", 300) is None and len(table._prepared) == 4  # no entry for a stranger


def test_a_new_spi_of_a_prepared_peer_is_seen() -> None:
    table = SecurityAssociations([sa()])
    assert [s.spi for s in table.for_peer("10.1.1.10")] == [300]
    table.add(sa(spi=301))
    assert [s.spi for s in table.for_peer("10.1.1.10")] == [300, 301] and table.get("10.1.1.10", 301) is not None


def test_difference_counts_what_a_reload_changes() -> None:
    old = SecurityAssociations([sa(peer="10.1.1.1"), sa(peer="10.1.1.2"), sa(peer="10.1.1.3"), sa(peer="10.1.1.4"),
                                sa(peer="10.1.1.5", spi=300), sa(peer="10.1.1.5", spi=301)])
    new = SecurityAssociations([sa(peer="10.1.1.1"),  # unchanged
                                sa(peer="10.1.1.2", key=b"new key"),  # changed key
                                sa(peer="10.1.1.3", algorithm="md5-prefix-suffix"),  # changed algorithm
                                sa(peer="10.1.1.5", spi=301), sa(peer="10.1.1.5", spi=302),  # 300 removed, 302 added
                                sa(peer="10.1.1.6")])  # added; 10.1.1.4 removed
    assert new.difference(old) == Difference(added=2, removed=2, changed=2, unchanged=2)
    assert old.difference(old) == Difference(0, 0, 0, 6)


def test_take_prepared_keeps_only_unchanged_peers() -> None:
    """A reload's new table takes over the running one's prepared SAs but those of peers whose record changed or
    went (found on the reload's thread by `stale`)."""
    old = SecurityAssociations([sa(peer="10.1.1.1"), sa(peer="10.1.1.2"), sa(peer="10.1.1.3")])
    kept, changed, gone = old.get("10.1.1.1", 300), old.get("10.1.1.2", 300), old.get("10.1.1.3", 300)
    new = SecurityAssociations([sa(peer="10.1.1.1"), sa(peer="10.1.1.2", key=b"rotated"), sa(peer="10.1.1.4")])
    stale = new.stale(old)
    assert sorted(stale) == ["10.1.1.2", "10.1.1.3"]
    assert new.take_prepared(old, stale) == 1
    assert new.get("10.1.1.1", 300) is kept
    assert new.get("10.1.1.2", 300) != changed and new.get("10.1.1.2", 300).key == b"rotated"
    assert new.get("10.1.1.3", 300) is None and gone is not None
    assert old.get("10.1.1.2", 300) == changed  # the old table, its cache taken, still answers from its records


def test_a_prepared_sa_made_after_stale_was_computed_is_still_checked_by_it() -> None:
    """`stale` compares records, not what was cached: an SA the loop prepares in the old table while the reload
    thread worked is left behind too when its peer's record changed."""
    old = SecurityAssociations([sa(peer="10.1.1.1"), sa(peer="10.1.1.2")])
    new = SecurityAssociations([sa(peer="10.1.1.1"), sa(peer="10.1.1.2", key=b"rotated")])
    stale = new.stale(old)
    old.get("10.1.1.2", 300)  # prepared afterwards, on the loop
    new.take_prepared(old, stale)
    assert new.get("10.1.1.2", 300).key == b"rotated"


def test_select_by_peer_and_spi() -> None:
    table = SecurityAssociations([sa(peer="10.1.1.1"), sa(peer="10.1.1.1", spi=301), sa(peer="10.1.1.2")])
    chosen = table.select(lambda peer, spi: spi == 300)
    assert sorted((s.peer, s.spi) for s in chosen) == [("10.1.1.1", 300), ("10.1.1.2", 300)]
    assert len(chosen) == 2 and chosen.get("10.1.1.1", 301) is None
    assert sorted(chosen.peers()) == ["10.1.1.1", "10.1.1.2"]


def test_held_compactly() -> None:
    """The fleet-scale issue's budget is 400 bytes of RSS per SA in the daemon; the table's share is far less."""
    keys = [bytes([i & 255]) * 16 for i in range(20_000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        table = SecurityAssociations()
        for i, key in enumerate(keys):
            table.add(sa(peer=f"10.{16 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}", key=key))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held / len(table) < 250, held / len(table)
