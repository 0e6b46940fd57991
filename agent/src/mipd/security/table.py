"""The SAs an agent or node holds, compact enough for a million (RFC 5944 §3.5, §5.1).

An SA is keyed by (peer, SPI); a peer may hold several SPIs at once (key rotation, newest last).
Each peer's SAs are kept as one packed record (SPI, algorithm, replay method and window, fallback,
key: about 170 bytes per SA with the dictionary's share), not as objects: a home agent with
1,000,000 mobile node keys holds them in under 200 MB. A :class:`SecurityAssociation` with its key
schedule done (what authenticating needs) is made on first use of a peer and kept in a bounded
first-in-first-out cache (`prepared_limit` peers), so the registration path pays the key schedule
once per peer, not once per message. Once the cache is full, only one miss in `ADMIT_EVERY` takes the
place of its oldest entry; the others are prepared for that message only. With more peers than the cache
holds, registrations from a fleet miss it nearly every time whatever it keeps, and a cache that replaced
an entry on each miss only made garbage: the evicted entry's objects, cold, freed, and the new one's,
which outlive the young generations and make the collections longer and more frequent (measured with
300,000 peers: ~7 us of collections per registration of a moved node before, ~1.4 us after, with the
binding table's lists changed in place). A peer set that fits is cached as before.

A table is not changed once a role holds it: a reload reads a new one and swaps it in whole,
taking over the prepared SAs of peers whose record did not change (:meth:`take_prepared`).
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from mipd.security import algorithms
from mipd.security.associations import REPLAY_METHODS, SecurityAssociation

PREPARED_LIMIT = 65_536  # peers whose prepared SAs are cached (about 1 KB each)
ADMIT_EVERY = 16  # a full cache takes one missed peer in this many in place of its oldest entry

_HEADER = struct.Struct(">IBBHBH")  # spi, algorithm, replay method, replay window, fallback, key length
_ALGORITHM_CODES = {name: i for i, name in enumerate(algorithms.ALGORITHMS)}
_REPLAY_CODES = {name: i for i, name in enumerate(REPLAY_METHODS)}


@dataclass(frozen=True, slots=True)
class Difference:
    """What a new table changes against an old one, counted by SA (peer, SPI)."""

    added: int
    removed: int
    changed: int  # same (peer, SPI), another key, algorithm, replay setting or fallback
    unchanged: int


def pack(sa: SecurityAssociation) -> bytes:
    """One SA as its packed record entry."""
    return pack_fields(sa.spi, sa.key, sa.algorithm, sa.replay, sa.replay_window, sa.fallback)


def pack_fields(spi: int, key: bytes, algorithm: str, replay: str, replay_window: int, fallback: bool) -> bytes:
    """A validated SA's fields as its packed record entry (the keys file reader's path: no object made)."""
    return _HEADER.pack(spi, _ALGORITHM_CODES[algorithm], _REPLAY_CODES[replay], replay_window, fallback,
                        len(key)) + key


def _entries(record: bytes) -> Iterator[tuple[int, int, int]]:
    """(SPI, start of the entry, end of the entry) of each SA in a peer's record, in the order added."""
    at, size = 0, len(record)
    while at < size:
        spi, _alg, _replay, _window, _fallback, key_len = _HEADER.unpack_from(record, at)
        end = at + _HEADER.size + key_len
        yield spi, at, end
        at = end


def _holds(record: bytes, spi: int) -> bool:
    return any(entry_spi == spi for entry_spi, _, _ in _entries(record))


def _single(record: bytes, header: tuple[int, ...] | None = None) -> bool:
    """Does a peer's record hold one SA (nearly always)? `header`: its first entry's, when already unpacked."""
    key_len = (_HEADER.unpack_from(record) if header is None else header)[5]
    return _HEADER.size + key_len == len(record)


def _count(record: bytes) -> int:
    """How many SAs a peer's record holds."""
    if _single(record):
        return 1
    return sum(1 for _ in _entries(record))


def _unpack(peer: str, record: bytes, at: int) -> SecurityAssociation:
    header = _HEADER.unpack_from(record, at)
    start = at + _HEADER.size
    return _made(peer, header, record[start:start + header[5]])


def _made(peer: str, header: tuple[int, int, int, int, int, int], key: bytes) -> SecurityAssociation:
    """The SA of an entry's unpacked `header` and its `key`."""
    spi, alg, replay, window, fallback, _key_len = header
    return SecurityAssociation.from_table(peer, spi, key, algorithms.ALGORITHMS[alg], REPLAY_METHODS[replay], window,
                                          bool(fallback))


class SecurityAssociations:
    """The SAs an agent or node holds, looked up by (peer, SPI)."""

    __slots__ = ("_records", "_count", "_prepared", "prepared_limit", "_misses")

    def __init__(self, sas: Iterable[SecurityAssociation] = (), prepared_limit: int = PREPARED_LIMIT) -> None:
        self._records: dict[str, bytes] = {}
        self._count = 0
        # an OrderedDict: popping its oldest entry is O(1); a dict's first entry after many deletions is found
        # by scanning the deleted slots before it (measured: 16 us per eviction with 300,000 peers)
        self._prepared: OrderedDict[str, tuple[SecurityAssociation, ...]] = OrderedDict()
        self.prepared_limit = prepared_limit
        self._misses = 0  # misses while the cache was full (every ADMIT_EVERY-th is cached)
        for sa in sas:
            self.add(sa)

    def add(self, sa: SecurityAssociation) -> None:
        """Add `sa` (while the table is being built); a second SA with the same (peer, SPI) is refused."""
        self.add_packed(sa.peer, sa.spi, pack(sa))

    def add_packed(self, peer: str, spi: int, entry: bytes) -> None:
        """Add one packed SA entry (:func:`pack_fields`) of `peer`: fields already validated (:func:`pack` of an
        SA, or the keys file reader's checked fields), as an SA is made from them without checking again."""
        record = self._records.get(peer)
        if record is None:
            self._records[peer] = entry
        elif _holds(record, spi):
            raise ValueError(f"spi: duplicate SA for peer {peer} SPI {spi}")
        else:
            self._records[peer] = record + entry
            self._prepared.pop(peer, None)
        self._count += 1

    def get(self, peer: str, spi: int) -> SecurityAssociation | None:
        for sa in self._prepare(peer):
            if sa.spi == spi:
                return sa
        return None

    def for_peer(self, peer: str) -> list[SecurityAssociation]:
        """Every SA with `peer`, in the order added (the last one is the newest); a copy."""
        return list(self._prepare(peer))

    def has_peer(self, peer: str) -> bool:
        return peer in self._records

    def peers(self) -> Iterator[str]:
        """Every peer that has an SA (no SA is prepared for it)."""
        return iter(self._records)

    def select(self, keep: Callable[[str, int], bool]) -> SecurityAssociations:
        """A new table of the SAs for which `keep(peer, spi)` is true."""
        table = SecurityAssociations(prepared_limit=self.prepared_limit)
        for peer, record in self._records.items():
            for spi, start, end in _entries(record):
                if keep(peer, spi):
                    table.add_packed(peer, spi, record[start:end])
        return table

    def difference(self, old: SecurityAssociations) -> Difference:
        """What this table changes against `old` (a reload's report)."""
        added = removed = changed = unchanged = 0
        for peer, record in self._records.items():
            before = old._records.get(peer)
            if before == record:
                unchanged += _count(record)
                continue
            old_entries = {} if before is None else {s: before[a:b] for s, a, b in _entries(before)}
            for spi, start, end in _entries(record):
                entry = old_entries.pop(spi, None)
                if entry is None:
                    added += 1
                elif entry == record[start:end]:
                    unchanged += 1
                else:
                    changed += 1
            removed += len(old_entries)
        for peer, record in old._records.items():
            if peer not in self._records:
                removed += _count(record)
        return Difference(added, removed, changed, unchanged)

    def stale(self, old: SecurityAssociations) -> list[str]:
        """The peers of `old` whose record this table does not hold as it is (changed or gone): their prepared
        SAs in `old`'s cache must not be taken over (:meth:`take_prepared`). It reads records only, which do not
        change once a table is built, so it may run on another thread than the one using `old` (a reload's)."""
        records = self._records
        return [peer for peer, record in old._records.items() if records.get(peer) != record]

    def take_prepared(self, old: SecurityAssociations, stale: Iterable[str]) -> int:
        """Take over `old`'s prepared SAs (`old` is left an empty cache) but those of the `stale` peers
        (:meth:`stale` against `old`); how many peers. On the thread that uses both tables: it costs as many
        steps as there are stale peers. Comparing each cached peer's records there instead paused a reload's
        swap about 120 ms with 1,000,000 SAs and the cache full (65,536 peers)."""
        prepared, old._prepared = old._prepared, OrderedDict()
        for peer in stale:
            prepared.pop(peer, None)
        while len(prepared) > self.prepared_limit:
            prepared.popitem(last=False)
        self._prepared = prepared
        return len(prepared)

    def _prepare(self, peer: str) -> tuple[SecurityAssociation, ...]:
        prepared = self._prepared.get(peer)
        if prepared is not None:
            return prepared
        record = self._records.get(peer)
        if record is None:
            return ()
        header = _HEADER.unpack_from(record)
        if _single(record, header):  # its header read once
            prepared = (_made(peer, header, record[_HEADER.size:]),)
        else:
            prepared = tuple(_unpack(peer, record, at) for _, at, _ in _entries(record))
        if len(self._prepared) >= self.prepared_limit:
            self._misses += 1
            if self.prepared_limit <= 0 or self._misses % ADMIT_EVERY != 1:
                return prepared  # for this message only (see the module's docstring)
            self._prepared.popitem(last=False)  # first in, first out
        self._prepared[peer] = prepared
        return prepared

    def __iter__(self) -> Iterator[SecurityAssociation]:
        """Every SA, made afresh (a listing: nothing is added to the prepared cache)."""
        for peer, record in self._records.items():
            for _, at, _ in _entries(record):
                yield _unpack(peer, record, at)

    def __len__(self) -> int:
        return self._count
