"""Durable state: home agent bindings, foreign agent visitors, replay state (SQLite).

RFC 5944 §3.8.1 / §3.7.1 tables survive a restart, and so does the home agent's record of the
last Identification accepted per mobile node (§5.7), so a restarted agent does not accept a
replayed request. Writes are queued by `put`/`delete` and made durable together by `commit`
(group commit): the daemon commits a batch before sending the replies that announce it, so a
`kill -9` loses nothing whose acceptance was sent.

A commit appends its rows to a log table (rowid order: the commit dirties the last page or two of the
log, where writing them into the records table dirtied a page per row once the table was larger than
a batch: at 1,000,000 bindings, a 4 KB page written to the WAL and checkpointed per registration). The
log is folded into the records table in the background of later commits: once enough rows were
logged, the newest of each record, sorted by key, is written FOLD_CHUNK rows per commit (sorted, the
rows of a chunk share pages), then the log rows folded are deleted. A record is read as the newest log
row of its key, else its records row (`_rows`); opening and closing fold the whole log. Durability is
the same: a commit's rows are in the database when it returns.

How many rows are logged before a fold grows with the database: FOLD_PER_PAGE per page in use as the
cycle began (the database opened, the last fold's log rows deleted), at least FOLD_ROWS. Counted at each
commit instead, the log's own pages moved the fold further away the longer it waited: at 1,000,000
bindings 17% further at 4 per page, and never at 51 (measured). A fold rewrites each page that holds one
of its keys, so what a folded row costs depends on how many keys the fold brings to each page; with a
fixed fold size that fell as the table grew (at 1,000,000 bindings the records table has about 41,000
pages: a fold of 65,536 rows rewrote about one page per two rows, and the commit part of a registration
cost 2.1-2.5 times its cost at 1,000). Scaled, it stays near 1 / FOLD_PER_PAGE pages per row at any
size, for memory that also scales: the newest value of each key logged since the last fold is held until
it is folded (about 250 bytes a key). Measured at 1,000,000 bindings: 3.4-3.7 us per row folded (4.8
with 65,536 rows and INSERT OR REPLACE), a fold about every 200,000 registrations (5 per page as the
cycle began, 4 per page counted at each commit before). No commit of a fold does much more than the
others: the keys are sorted in runs as they are logged (`_Logged`), so the commit that reaches a kind
only merges them (30 ms for 262,000 keys, against about 70 ms for one sort of them all), and the log
rows a fold folded are deleted DELETE_CHUNK a commit once its rows are written (all at once, that commit
took 75 ms longer). The longest commit of a fold went from 99 ms to 48 ms; the checkpointer's RESTART
wait (Checkpointer) is about 34 ms.

Records are stored as compact JSON arrays keyed by (kind, key); each kind has a codec naming
its dataclass and key fields, and the field names a kind's rows were written with are kept in
the meta table. A ManyCodec kind holds all the values of a key in one row (a home agent's bindings
of one home address), so changing any of them logs and folds one row: a move wrote two before (the
old binding's deletion and the new one), and the fold's cost is per row. When the dataclass
changes (a field added, removed or moved), the rows are read with the old names and rewritten
on open: unknown fields are dropped, missing ones take the dataclass default.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import itertools
import json
import logging
import math
import operator
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

SCHEMA_VERSION = 3  # 2: the log table; 3: ManyCodec kinds (rows an older mipd would not read)
REPLAY = "replay"  # kind of the replay-state rows: key = node, value = last accepted Identification
WAL_LIMIT = 64 << 20  # bytes of WAL frames after which the checkpointer starts the WAL over (see Checkpointer)
FOLD_ROWS = 65_536  # logged rows after which they may be folded into the records table (the least)
FOLD_PER_PAGE = 5  # ... and not before this many per page the database used as the cycle began (module docstring)
FOLD_CHUNK = 2048  # rows of a fold written per commit
DELETE_CHUNK = 16_384  # log rows a fold deletes per commit once its rows are written
SORTED_RUN = 16_384  # logged keys of a kind sorted together while they are logged (_Logged)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL, data TEXT);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class StoreError(RuntimeError):
    """The state database cannot be opened or written."""


_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False, allow_nan=False).encode
_INF = {"inf": 1}  # strict JSON has no Infinity (an infinite lifetime's expiry)
_NINF = {"inf": -1}


class Codec:
    """How records of one kind are keyed, written (field values in `fields` order) and read back."""

    __slots__ = ("cls", "key_fields", "fields", "_values", "_key")

    def __init__(self, cls: type, key_fields: tuple[str, ...]) -> None:
        self.cls = cls
        self.key_fields = key_fields
        self.fields = tuple(f.name for f in dataclasses.fields(cls))
        self._values = operator.attrgetter(*self.fields)
        self._key = operator.attrgetter(*key_fields)

    def key(self, record: Any) -> str:
        return key_text(self._key(record))

    def encode(self, record: Any) -> str:
        return _dumps(self._row(record))

    def decode(self, text: str, names: tuple[str, ...] | None = None) -> Any:
        """A record from `text` written with field `names` (default: the current fields)."""
        return self.value(json.loads(text), names)

    def _row(self, value: Any) -> Any:
        """The JSON array of one dataclass value: its fields in `fields` order."""
        values = self._values(value)
        if math.inf in values or -math.inf in values:
            values = [_INF if v == math.inf else _NINF if v == -math.inf else v for v in values]
        return values

    def value(self, row: Any, names: tuple[str, ...] | None = None) -> Any:
        """The dataclass value of a decoded JSON array written with field `names` (default: the current fields)."""
        if not isinstance(row, list):
            raise ValueError("not a JSON array")
        names = names or self.fields
        known = self.fields
        return self.cls(**{n: _from_json(v) for n, v in zip(names, row, strict=True) if n in known})


class ManyCodec(Codec):
    """Records that are the values sharing a key (a home agent's bindings of one home address: a non-empty
    tuple of them, usually one), stored as one row, a JSON array of their arrays: a change to any of them
    writes that one row. `replaces`: the kind whose rows held one value each (keyed by more fields), written by
    an older mipd; its rows are regrouped into this kind's when the database is opened (Store._regroup)."""

    __slots__ = ("replaces",)

    def __init__(self, cls: type, key_fields: tuple[str, ...], replaces: str | None = None) -> None:
        super().__init__(cls, key_fields)
        self.replaces = replaces

    def key(self, record: Any) -> str:
        return key_text(self._key(record[0]))

    def encode(self, record: Any) -> str:
        return _dumps([self._row(value) for value in record])

    def decode(self, text: str, names: tuple[str, ...] | None = None) -> Any:
        rows = json.loads(text)
        if not isinstance(rows, list) or not rows:
            raise ValueError("not a non-empty JSON array")
        return tuple(self.value(row, names) for row in rows)


def key_text(key: Any) -> str:
    """The text form of a record key: a tuple's parts joined by '|', anything else as str()."""
    if isinstance(key, tuple):
        return "|".join(str(k) for k in key)
    return str(key)


def _per_kind(kinds: Iterable[str]) -> dict[str, dict[str, str | None]]:
    """An empty key -> JSON (None: deleted) table for each kind."""
    return {kind: {} for kind in kinds}


class _Logged:
    """The newest JSON (None: deleted) of each key of one kind logged since the fold began, and the keys in the
    order the fold wants them made ready while they are logged: in sorted runs of SORTED_RUN keys (a key logged
    twice is in them twice). Sorting them for the fold then merges the runs (timsort finds them): at 1,000,000
    bindings 30 ms in the commit that reaches them, where sorting them all there took about 70 ms; the runs
    take a few ms each, spread over the commits that log them."""

    __slots__ = ("rows", "keys", "_sorted")

    def __init__(self) -> None:
        self.rows: dict[str, str | None] = {}
        self.keys: list[str] = []
        self._sorted = 0  # keys[:_sorted] are sorted runs

    @classmethod
    def of(cls, rows: dict[str, str | None]) -> _Logged:
        logged = cls()
        logged.update(rows)
        return logged

    def update(self, queued: dict[str, str | None]) -> None:
        self.rows.update(queued)
        keys = self.keys
        keys.extend(queued)
        if len(keys) - self._sorted >= SORTED_RUN:
            keys[self._sorted :] = sorted(keys[self._sorted :])
            self._sorted = len(keys)

    def by_key(self) -> Iterator[tuple[str, str | None]]:
        """(key, newest JSON) of each key, in key order."""
        keys, rows = self.keys, self.rows
        keys.sort()
        previous = None
        for key in keys:
            if key != previous:
                previous = key
                yield key, rows[key]


def _logged_per_kind(kinds: Iterable[str]) -> dict[str, _Logged]:
    return {kind: _Logged() for kind in kinds}


def _sorted_rows(logged: dict[str, _Logged]) -> Iterator[tuple[str, str, str | None]]:
    """(kind, key, JSON) of what `logged` holds, in the records table's order."""
    for kind in sorted(logged):
        for key, data in logged[kind].by_key():
            yield kind, key, data


def _from_json(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"inf"}:
        return math.inf if value["inf"] > 0 else -math.inf
    return value


class Store:
    """The SQLite state database at `path` (created with its directory when missing)."""

    def __init__(self, path: str, codecs: dict[str, Codec], sync: str = "normal") -> None:
        self.path = path
        self.codecs = codecs
        kinds = (*codecs, REPLAY)
        self._pending = _per_kind(kinds)  # key -> JSON, None = delete
        self._logged = _logged_per_kind(kinds)  # the newest of each key since the fold began
        self._appended = 0  # rows logged since the fold began
        self._fold_after = FOLD_ROWS  # ... after which the next one begins (_fold_threshold, set as a cycle begins)
        self._fold: Iterator[tuple[str, str, str | None]] | None = None  # the rows of a fold under way, by key
        self._chunk: list[tuple[str, str, str | None]] = []  # taken from it and not yet written
        self._fold_upto = 0  # the last log row it comes from
        self._deleted: int | None = None  # once its rows are written: the log rows deleted so far (seq <= this)
        self.folds = 0  # folds begun since the database was opened
        self._lock: int | None = None
        self._writer = threading.Lock()  # held by each write transaction and the checkpointer's blocking ones
        try:
            if path != ":memory:":
                os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
                self._lock = _lock(path)
                _make_private(path)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit is in the OS's hands when commit() returns (survives a killed
            # process); FULL also fsyncs every commit (survives a power cut).
            self._db.execute(f"PRAGMA synchronous={'FULL' if sync == 'full' else 'NORMAL'}")
            # Checkpoints (copying the WAL into the database, with fsyncs) take tens of milliseconds:
            # never in a commit on the reply path; a background thread runs them (Checkpointer).
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            # when a checkpoint starts the WAL over, the file is cut back to this size (disk space back)
            self._db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise StoreError(f"{path}: schema version {row[0]} is newer than this mipd ({SCHEMA_VERSION})")
            elif int(row[0]) < SCHEMA_VERSION:
                self._db.execute("UPDATE meta SET value = ? WHERE name = 'schema'", (str(SCHEMA_VERSION),))
            self._fold_all()  # what a killed mipd logged
            for kind, codec in codecs.items():
                if isinstance(codec, ManyCodec) and codec.replaces:
                    self._regroup(codec.replaces, kind, codec)
                self._migrate(kind)
        except (StoreError, OSError):
            self._unlock()
            raise
        except sqlite3.Error as e:
            self._unlock()
            raise StoreError(f"{path}: {e}") from None
        self._checkpointer = Checkpointer(path, writer=self._writer) if path != ":memory:" else None

    def _stored_fields(self, kind: str) -> tuple[str, ...] | None:
        """The field names `kind`'s rows were written with (None: none recorded yet)."""
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (f"fields.{kind}",)).fetchone()
        return tuple(json.loads(row[0])) if row else None

    def _regroup(self, old: str, kind: str, codec: ManyCodec) -> None:
        """Rows of kind `old` (one value each, an older mipd's) rewritten as `kind`'s, one per key; a row that
        does not decode is dropped and logged, as load() would have skipped it."""
        rows = list(self._rows(old))
        if not rows:
            return
        stored = self._stored_fields(old) or codec.fields
        grouped: dict[str, list[Any]] = {}
        for key, data in rows:
            try:
                value = codec.value(json.loads(data), stored)
            except (ValueError, TypeError) as e:
                logging.getLogger("mipd.store").warning("state record %s %s does not decode (%s): dropped", old, key, e)
                continue
            grouped.setdefault(codec.key((value,)), []).append(value)
        self._db.execute("BEGIN")
        self._write([(kind, key, codec.encode(values)) for key, values in sorted(grouped.items())])
        self._db.execute("DELETE FROM records WHERE kind = ?", (old,))
        self._db.execute("DELETE FROM meta WHERE name = ?", (f"fields.{old}",))
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"fields.{kind}", json.dumps(codec.fields)))
        self._db.execute("COMMIT")

    def _migrate(self, kind: str) -> None:
        """Rewrite `kind`'s rows when they were written with other fields than the dataclass has now."""
        codec = self.codecs[kind]
        name = f"fields.{kind}"
        stored = self._stored_fields(kind)
        if stored is None:
            self._db.execute("INSERT INTO meta VALUES (?, ?)", (name, json.dumps(codec.fields)))
        elif stored != codec.fields:
            rows = []
            for key, data in self._rows(kind):
                try:
                    rows.append((codec.encode(codec.decode(data, stored)), kind, key))
                except (ValueError, TypeError):
                    continue  # left as is: load() reports it
            self._db.execute("BEGIN")
            self._db.executemany("UPDATE records SET data = ? WHERE kind = ? AND key = ?", rows)
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, json.dumps(codec.fields)))
            self._db.execute("COMMIT")

    # ------------------------------------------------------------------ writes (queued until commit)

    def put(self, kind: str, record: Any) -> None:
        """Queue `record`; kind "replay" takes the home agent's (node, last accepted Identification)."""
        if kind == REPLAY:
            self.put_replay(*record)
            return
        codec = self.codecs[kind]
        self._pending[kind][codec.key(record)] = codec.encode(record)

    def delete(self, kind: str, key: Any) -> None:
        self._pending[kind][key_text(key)] = None

    def put_replay(self, node: str, identification: int) -> None:
        self._pending[REPLAY][node] = str(identification)  # 64-bit unsigned: text, not INTEGER

    @property
    def dirty(self) -> bool:
        return any(self._pending.values())

    def commit(self) -> int:
        """Write every queued change in one transaction (appended to the log, with the next chunk of a
        fold under way); returns how many rows changed."""
        rows = [(kind, key, data) for kind, queued in self._pending.items() for key, data in queued.items()]
        if not rows:
            return 0
        chunk, delete_upto = self._chunk, None
        if self._fold is not None:
            if self._deleted is None:  # writing its rows, FOLD_CHUNK a commit (a chunk not written is kept)
                if not chunk:
                    chunk = self._chunk = list(itertools.islice(self._fold, FOLD_CHUNK))
            else:  # deleting the log rows it folded, DELETE_CHUNK a commit (all at once took 75 ms at 1,000,000)
                delete_upto = min(self._deleted + DELETE_CHUNK, self._fold_upto)
        written = self._fold is not None and self._deleted is None and len(chunk) < FOLD_CHUNK  # its last chunk
        db = self._db
        with self._writer:  # a checkpoint that blocks writers is waited for exactly (Checkpointer)
            try:
                db.execute("BEGIN")
                db.executemany("INSERT INTO log (kind, key, data) VALUES (?, ?, ?)", rows)
                if chunk:
                    self._write(chunk)
                if delete_upto is not None:
                    db.execute("DELETE FROM log WHERE seq <= ?", (delete_upto,))
                db.execute("COMMIT")
            except sqlite3.Error as e:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise StoreError(f"{self.path}: {e}") from None  # the chunk is written with the next commit
        for kind, queued in self._pending.items():
            if queued:
                self._logged[kind].update(queued)
                queued.clear()
        self._appended += len(rows)
        self._chunk = []
        if written:  # what the log holds up to _fold_upto is in the records table: its rows can go
            self._deleted = db.execute("SELECT min(seq) - 1 FROM log").fetchone()[0]
        elif delete_upto is not None:
            self._deleted = delete_upto
        if self._deleted is not None and self._deleted >= self._fold_upto:
            self._fold, self._deleted = None, None
            self._fold_after = self._fold_threshold()
        if self._fold is None and self._appended >= self._fold_after:
            self._fold = _sorted_rows(self._logged)  # the next commits fold what is logged so far
            self.folds += 1
            self._fold_upto = db.execute("SELECT max(seq) FROM log").fetchone()[0]
            self._logged, self._appended = _logged_per_kind(self._logged), 0
        return len(rows)

    def _fold_threshold(self) -> int:
        """How many rows to log before the next fold: FOLD_PER_PAGE per page in use, at least FOLD_ROWS. Taken as
        a cycle begins (the database opened, a fold's log rows deleted), when the log holds few pages: counted as
        the log grows, its own pages pushed the fold further away the longer it waited."""
        return max(FOLD_ROWS, FOLD_PER_PAGE * self._pages())

    def _pages(self) -> int:
        """Pages of the database in use (not on its free list)."""
        db = self._db
        return db.execute("PRAGMA page_count").fetchone()[0] - db.execute("PRAGMA freelist_count").fetchone()[0]

    def _write(self, rows: list[tuple[str, str, str | None]]) -> None:
        """Write `rows` (kind, key, JSON or None: delete) into the records table, in a transaction."""
        puts = [row for row in rows if row[2] is not None]
        dels = [(kind, key) for kind, key, data in rows if data is None]
        if puts:
            self._db.executemany("INSERT INTO records (kind, key, data) VALUES (?, ?, ?) "
                                 "ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data", puts)
        if dels:
            self._db.executemany("DELETE FROM records WHERE kind = ? AND key = ?", dels)

    def _fold_all(self) -> None:
        """Fold the whole log into the records table (opening, closing: nothing else writes meanwhile)."""
        db = self._db
        rows: dict[str, dict[str, str | None]] = {}
        for kind, key, data in db.execute("SELECT kind, key, data FROM log ORDER BY seq"):
            rows.setdefault(kind, {})[key] = data
        latest = {kind: _Logged.of(kind_rows) for kind, kind_rows in rows.items()}
        if latest:
            try:
                db.execute("BEGIN")
                self._write(list(_sorted_rows(latest)))
                db.execute("DELETE FROM log")
                db.execute("COMMIT")
            finally:
                if db.in_transaction:
                    db.execute("ROLLBACK")
        self._logged = _logged_per_kind(self._logged)
        self._appended, self._fold, self._chunk, self._deleted = 0, None, [], None
        self._fold_after = self._fold_threshold()

    def discard(self) -> None:
        """Drop the queued changes (after a failed commit the caller decides what to do)."""
        for queued in self._pending.values():
            queued.clear()

    def reclaim(self) -> bool:
        """Copy the WAL into the database and truncate it to nothing (after a failed commit: on a full
        disk that gives back the space the WAL took). True when it was truncated."""
        try:
            with self._writer:
                busy, _frames, _copied = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()[0]
        except sqlite3.Error:
            return False
        return not busy

    # ------------------------------------------------------------------ reads

    def load(self, kind: str, on_error: Callable[[str, Exception], None] | None = None) -> list[Any]:
        """Every stored record of `kind`; rows that no longer decode are skipped (reported to `on_error`)."""
        codec = self.codecs[kind]
        out = []
        for key, data in self._rows(kind):
            try:
                out.append(codec.decode(data))
            except (ValueError, TypeError, KeyError) as e:
                if on_error is not None:
                    on_error(key, e)
        return out

    def load_replay(self) -> dict[str, int]:
        out = {}
        for node, value in self._rows(REPLAY):
            try:
                out[node] = int(value)
            except ValueError:
                continue
        return out

    def count(self, kind: str) -> int:
        return sum(1 for _ in self._rows(kind))

    def _rows(self, kind: str) -> Iterator[tuple[str, str]]:
        """(key, JSON) of every stored record of `kind`, by key: the newest log row of a key, else its records row."""
        rows: dict[str, str | None] = dict(self._db.execute("SELECT key, data FROM records WHERE kind = ?", (kind,)))
        rows.update(self._db.execute("SELECT key, data FROM log WHERE kind = ? ORDER BY seq", (kind,)))
        return iter(sorted((key, data) for key, data in rows.items() if data is not None))

    def close(self) -> None:
        """Commit what is queued, fold the log, checkpoint, and close the database."""
        try:
            self.commit()
            with contextlib.suppress(sqlite3.Error):  # else the next open folds it
                self._fold_all()
        finally:
            if self._checkpointer is not None:
                self._checkpointer.stop()
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()
            self._unlock()

    def _unlock(self) -> None:
        if self._lock is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path + ".lock")
            os.close(self._lock)
            self._lock = None


class Checkpointer:
    """Checkpoints the WAL of the database at `path` every `interval` seconds on its own thread and
    connection (PASSIVE: it never blocks the daemon's commits; SQLite releases the GIL meanwhile).

    Under steady load a PASSIVE checkpoint never finds the WAL fully copied at the moment a commit
    begins, so SQLite never starts the WAL over and the file grows without bound (several MB/s at a
    few thousand registrations/s). Once the WAL holds more than `wal_limit` bytes of frames, a
    RESTART checkpoint follows the passive one: it waits for the current commit, copies the few
    frames appended since, and makes the next commit write the WAL from its start again; that
    commit waits for it (tens of milliseconds, once per `wal_limit` bytes written). The file keeps
    its size and is reused, so it stays near `wal_limit`. On a file system with less free space than
    the WAL takes, the checkpoint TRUNCATEs instead: the WAL starts over from an empty file and gives
    its space back, so it never fills a small disk.

    What a commit waits for is kept short. Before the RESTART, the WAL and the database are synced
    and what came meanwhile is copied by one more passive checkpoint, outside any lock: the RESTART's
    own syncs had the writers wait for everything a passive pass copied. And the RESTART holds
    `writer`, the lock each of the Store's write transactions takes, so a commit waits exactly as long
    as it lasts, where SQLite's busy handler polled in sleeps that grow to 100 ms. Measured at
    1,000,000 bindings, in two runs of 450,000 registrations each (two folds): the longest commit 188 and
    227 ms (23-32 ms of it CPU) before, 145 and 151 ms with the lock alone, 62 and 47 ms with both.
    """

    def __init__(self, path: str, writer: threading.Lock, interval: float = 1.0, wal_limit: int = WAL_LIMIT) -> None:
        self._stop = threading.Event()
        self._writer = writer
        self._thread = threading.Thread(target=self._run, args=(path, interval, wal_limit), name="mipd-checkpoint",
                                        daemon=True)
        self._thread.start()

    def _run(self, path: str, interval: float, wal_limit: int) -> None:
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            page = db.execute("PRAGMA page_size").fetchone()[0]
        except sqlite3.Error:
            return
        try:
            while not self._stop.wait(interval):
                with contextlib.suppress(sqlite3.Error):
                    # fetchall: the statement runs to its end (an unfinished one would hold a read snapshot)
                    _busy, frames, _copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
                    if frames * page > _free_space(path):
                        with self._writer:
                            db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                    elif frames * page > wal_limit:
                        _flush(path, path + "-wal")  # what RESTART would sync while writers wait
                        db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()  # ... and copy: what came meanwhile
                        _flush(path)
                        with self._writer:
                            db.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
        finally:
            db.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)


def _flush(*paths: str) -> None:
    """fsync each file (the WAL's frames and the pages a passive checkpoint copied), so a checkpoint that blocks
    writers then finds little left to write out."""
    for name in paths:
        with contextlib.suppress(OSError):
            fd = os.open(name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _make_private(path: str) -> None:
    """The database `path` and its -wal and -shm files mode 0600 before SQLite opens them (bindings and
    replay state are nobody else's). SQLite creates -wal and -shm with the database file's mode, so the
    database is created 0600 first; files found with wider modes (an older mipd chmod-ed only the
    database, after SQLite had made its -wal and -shm 0644) are narrowed, with a warning."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
    for name in (path, path + "-wal", path + "-shm"):
        try:
            mode = stat.S_IMODE(os.stat(name).st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            try:
                os.chmod(name, 0o600)
                logging.getLogger("mipd.store").warning("%s was mode %04o; now 0600", name, mode)
            except OSError as e:
                logging.getLogger("mipd.store").warning("%s is mode %04o and cannot be made 0600: %s", name, mode,
                                                        e.strerror or e)


def _free_space(path: str) -> int:
    """Bytes available to us on the file system of `path` (a huge number when it cannot be told)."""
    try:
        st = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return 1 << 62
    return st.f_bavail * st.f_frsize


def _lock(path: str) -> int:
    """An exclusive lock next to database `path` (one mipd per database), holding the holder's pid;
    StoreError naming the holder when another process has it."""
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).split(b"\n")[0]
        os.close(fd)
        from mipd.runtime.owners import describe

        pid = int(holder) if holder.isdigit() else None
        raise StoreError(f"{path}: in use by another mipd, {describe(pid)}") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
