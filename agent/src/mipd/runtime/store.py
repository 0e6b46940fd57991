"""Durable state: home agent bindings, foreign agent visitors, replay state (SQLite).

RFC 5944 §3.8.1 / §3.7.1 tables survive a restart, and so does the home agent's record of the
last Identification accepted per mobile node (§5.7), so a restarted agent does not accept a
replayed request. Writes are queued by `put`/`delete` and made durable together by `commit`
(group commit): the daemon commits a batch before sending the replies that announce it, so a
`kill -9` loses nothing whose acceptance was sent.

A commit appends its rows to a log table, in rowid (seq) order: it dirties the last page or two of the log,
where writing them into a table kept by key dirtied a page per row once the table was larger than a batch
(at 1,000,000 bindings, a 4 KB page written to the WAL and checkpointed per registration). The log is the
store: a record reads as the newest log row of its key, else its row in the records table, which only an
older mipd's database or a migration on open (_fold_all) fills. The keys of a kind in the log are counted
(_LogKeys) as its records are first read, or when a commit first writes it; opening and closing leave the log
as it is.

The log is kept to a size by compaction (_Compaction), a chunk of its oldest rows in a commit once it holds
more than LOG_MIN_ROWS rows and LOG_PER_KEY per key: a row whose key has a newer row is deleted, a row that
is its key's newest is copied to the end first, and a deletion that is its key's newest deletes the key's
records row instead. As the log's size is a multiple of the keys it holds, the share of its oldest rows still
live is the same at any number of keys (a fifth at 2 per key under uniformly random writes), so a registration
costs the same compaction work at 1,000 nodes as at 1,000,000: about 1.25 rows read and deleted in log order
and a quarter of a row copied. What differs is the lookup of each row's key in the count of its rows, a cold one among a
million keys (about half a microsecond). Folding the log into the records table instead (as mipd did before)
rewrote a random page per key once per fold at 1,000,000 keys: the commit part of a registration cost three
times its cost at 1,000 (benchmarks/store_scale.py: 7.2-8.0 us against 2.3-2.5; now 4.7 against 2.6), and a
fold's longest commit was 41 ms (now 7-8). The log takes about LOG_PER_KEY times the records' size on disk
(about 300 MB for 1,000,000 nodes' bindings rows, 400 MB with their replay state), and the count of rows by
key about 50 bytes per key in memory. A restart reads the log: 1,000,000 nodes' bindings and replay state
load in 10.7-11.1 s (7.5-8.8 s from a folded records table). Durability is the same: a commit's rows, and its
compaction, are in the database when it returns, or none of them.

Records are stored as compact JSON arrays keyed by (kind, key); each kind has a codec naming
its dataclass and key fields, and the field names a kind's rows were written with are kept in
the meta table. A ManyCodec kind holds all the values of a key in one row (a home agent's bindings
of one home address), so changing any of them logs one row: a move wrote two before (the old
binding's deletion and the new one), and compaction's cost is per row. When the dataclass
changes (a field added, removed or moved), the rows are read with the old names and rewritten
on open: unknown fields are dropped, missing ones take the dataclass default.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
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
LOG_MIN_ROWS = 65_536  # the log is compacted only once it holds more rows than this ...
LOG_PER_KEY = 2  # ... and than this many per key it holds (then about a fifth of its oldest rows are live)
COMPACT_CHUNK = 1024  # oldest log rows a commit compacts at least, when it compacts (twice what it logged if more) ...
COMPACT_LIMIT = 16_384  # ... and at most (a restore's commit of a million deletions reads no million rows more)

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

    __slots__ = ("cls", "key_fields", "fields", "_values", "_key", "_positional")

    def __init__(self, cls: type, key_fields: tuple[str, ...]) -> None:
        self.cls = cls
        self.key_fields = key_fields
        fields = dataclasses.fields(cls)
        self.fields = tuple(f.name for f in fields)
        self._positional = all(f.init and not f.kw_only for f in fields)  # cls(*values) in `fields` order
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
        if dict in map(type, row):  # an infinite value as _row wrote it
            row = [_from_json(v) for v in row]
        known = self.fields
        if (names is None or names == known) and self._positional:  # the current fields: no names to match
            if len(row) != len(known):
                raise ValueError(f"{len(row)} values for {len(known)} fields")
            return self.cls(*row)
        return self.cls(**{n: v for n, v in zip(names or known, row, strict=True) if n in known})


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


class _LogKeys(dict[str, dict[str, int]]):
    """kind -> key -> how many rows of it the log of `db` holds. A kind is counted when it is first wanted here (a
    scan of the log), or while its rows are first read (Store._rows), so opening does not scan the log: at
    1,000,000 nodes it holds about 4,000,000 rows, and counting them all took 3-4 s before the restore read them
    again."""

    def __init__(self, db: sqlite3.Connection) -> None:
        super().__init__()
        self._db = db

    def __missing__(self, kind: str) -> dict[str, int]:
        counts = self[kind] = dict(self._db.execute("SELECT key, COUNT(*) FROM log WHERE kind = ? GROUP BY key",
                                                    (kind,)))
        return counts


class _Compaction:
    """One commit's compaction of the oldest log rows `oldest` (seq, kind, key, JSON or None: a deletion), judged
    against `in_log` (key -> its rows in the log) and `pending` (this commit's rows, logged after them). A row is
    dead when its key has a newer row: it is deleted. A live row is copied to the log's end, then deleted; a live
    deletion is not copied: the key's records-table row, if any, is deleted instead (a records row is what a key
    reads as when the log has none of it). The rows deleted are counted out of `in_log` as they are judged (one
    lookup of each key: at 1,000,000 keys a cold one costs about half a microsecond); `undo` counts them back
    when the transaction did not commit."""

    __slots__ = ("rows", "upto", "live", "gone", "dead")

    def __init__(self, oldest: list[tuple[int, str, str, str | None]], in_log: dict[str, dict[str, int]],
                 pending: dict[str, dict[str, str | None]]) -> None:
        self.rows = len(oldest)
        self.upto = oldest[-1][0] if oldest else 0
        self.live: list[tuple[str, str, str]] = []  # the rows copied
        self.gone: list[tuple[str, str]] = []  # (kind, key) of the live deletions
        self.dead: list[tuple[str, str]] = []  # (kind, key) of the dead rows
        for _seq, kind, key, data in oldest:
            counts = in_log[kind]
            logged = counts[key]
            if logged > 1 or key in pending.get(kind, ()):  # a newer row (a pending one is counted once committed)
                counts[key] = logged - 1
                self.dead.append((kind, key))
            elif data is None:
                del counts[key]
                self.gone.append((kind, key))
            else:
                self.live.append((kind, key, data))

    def write(self, db: sqlite3.Connection) -> None:
        if self.live:
            db.executemany("INSERT INTO log (kind, key, data) VALUES (?, ?, ?)", self.live)
        if self.gone:
            db.executemany("DELETE FROM records WHERE kind = ? AND key = ?", self.gone)
        if self.rows:
            db.execute("DELETE FROM log WHERE seq <= ?", (self.upto,))

    def undo(self, in_log: dict[str, dict[str, int]]) -> None:
        """Count the rows judged back into `in_log`: the transaction that was to delete them did not commit."""
        for kind, key in (*self.dead, *self.gone):
            counts = in_log[kind]
            counts[key] = counts.get(key, 0) + 1


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
        self._in_log: _LogKeys  # kind -> key -> its rows in the log (_index_log)
        self._log_rows = 0  # rows in the log
        self.compacted = 0  # log rows compacted since the database was opened ...
        self.copied = 0  # ... and those of them live, copied to the log's end
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
            older = row is not None and int(row[0]) < SCHEMA_VERSION
            self._index_log()
            due = self._migrations_due(older)
            if due:
                self._fold_all()  # the migrations rewrite the records table's rows
            for kind, codec in codecs.items():
                if due and isinstance(codec, ManyCodec) and codec.replaces:
                    self._regroup(codec.replaces, kind, codec)
                self._migrate(kind)
            if older:  # once migrated: a migration cut short is found due again on the next open
                self._db.execute("UPDATE meta SET value = ? WHERE name = 'schema'", (str(SCHEMA_VERSION),))
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
        """Write every queued change in one transaction, appended to the log, with a compaction of its oldest rows
        when it is over its size (_over); returns how many rows changed."""
        pending = self._pending
        rows = [(kind, key, data) for kind, queued in pending.items() for key, data in queued.items()]
        if not rows:
            return 0
        compaction = None
        if self._over(len(rows)):
            oldest = self._oldest(min(COMPACT_LIMIT, max(COMPACT_CHUNK, 2 * len(rows))))
            compaction = _Compaction(oldest, self._in_log, pending)
        db = self._db
        with self._writer:  # a checkpoint that blocks writers is waited for exactly (Checkpointer)
            try:
                db.execute("BEGIN")
                db.executemany("INSERT INTO log (kind, key, data) VALUES (?, ?, ?)", rows)
                if compaction is not None:
                    compaction.write(db)
                db.execute("COMMIT")
            except sqlite3.Error as e:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                if compaction is not None:
                    compaction.undo(self._in_log)
                raise StoreError(f"{self.path}: {e}") from None
        in_log = self._in_log
        for kind, queued in pending.items():
            if queued:
                counts = in_log[kind]
                for key in queued:
                    counts[key] = counts.get(key, 0) + 1
                queued.clear()
        self._log_rows += len(rows)
        if compaction is not None:
            self._log_rows += len(compaction.live) - compaction.rows
            self.compacted += compaction.rows
            self.copied += len(compaction.live)
        return len(rows)

    @property
    def logged(self) -> int:
        """Rows in the log."""
        return self._log_rows

    def _over(self, adding: int) -> bool:
        """Whether the log, with `adding` rows more, holds more than LOG_MIN_ROWS rows and LOG_PER_KEY per key.

        Compacting the oldest rows re-appends those that are their key's newest (live). Compacted at a fixed
        multiple of the keys it holds, the log's oldest rows are live in the same share at any number of keys
        (for uniformly random writes f = exp(-LOG_PER_KEY * (1 - f)): a fifth at 2 per key), so what compacting
        costs per row logged is the same at 1,000 nodes as at 1,000,000: the rows read and deleted in the log's
        order, a fifth of them copied. Folding the log into a records table kept by key instead cost a
        random page write per key at 1,000,000 keys, once per key per fold."""
        in_log = self._in_log
        # The kinds written are counted here, those read already were. A kind neither read nor written (visitors on a
        # home agent) is not: a scan of a log of 4,000,000 rows for it took 0.25-0.64 s. If the log holds rows of
        # it, compacting them counts it, and the log is compacted a little early meanwhile.
        for kind, queued in self._pending.items():
            if queued:
                in_log[kind]
        keys = sum(map(len, in_log.values()))
        return self._log_rows + adding > max(LOG_MIN_ROWS, LOG_PER_KEY * keys)

    def _oldest(self, limit: int) -> list[tuple[int, str, str, str | None]]:
        """(seq, kind, key, JSON or None: a deletion) of the `limit` oldest log rows."""
        return self._db.execute("SELECT seq, kind, key, data FROM log ORDER BY seq LIMIT ?",
                                (limit,)).fetchall()

    def _index_log(self) -> None:
        """Count the log's rows; its keys are counted a kind at a time, as they are first read or wanted (_LogKeys)."""
        self._in_log = _LogKeys(self._db)
        self._log_rows = self._db.execute("SELECT COUNT(*) FROM log").fetchone()[0]

    def _migrations_due(self, older: bool) -> bool:
        """Whether a kind's rows are to be regrouped or rewritten with other fields on open (_regroup, _migrate). An
        older mipd's rows of a kind since replaced are looked for in the log only in a database of an `older` schema
        version (it has no index by kind: at 1,000,000 nodes the scan took 0.25-0.6 s of every start)."""
        for kind, codec in self.codecs.items():
            stored = self._stored_fields(kind)
            if stored is not None and stored != codec.fields:
                return True
            old = codec.replaces if isinstance(codec, ManyCodec) else None
            if old and any(self._db.execute(f"SELECT 1 FROM {table} WHERE kind = ? LIMIT 1", (old,)).fetchone()
                           for table in ("records", "log") if older or table == "records"):
                return True
        return False

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
        """Fold the whole log into the records table, by key (on open, before a migration rewrites the records
        table's rows; nothing else writes meanwhile)."""
        db = self._db
        newest: dict[tuple[str, str], str | None] = {}
        for kind, key, data in db.execute("SELECT kind, key, data FROM log ORDER BY seq"):
            newest[kind, key] = data
        if newest:
            try:
                db.execute("BEGIN")
                self._write([(kind, key, data) for (kind, key), data in sorted(newest.items())])
                db.execute("DELETE FROM log")
                db.execute("COMMIT")
            finally:
                if db.in_transaction:
                    db.execute("ROLLBACK")
        self._index_log()

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
        """(key, JSON) of every stored record of `kind`, by key: the newest log row of a key, else its records row.

        SQLite picks each key's newest row and counts its rows (an aggregate's bare columns come from the row of
        its max()), so a million nodes' log of two rows a key is read as a million rows, in key order, and the
        kind's keys are counted on the way (_LogKeys). Reading every row and keeping the newest in Python took
        3.0-3.2 s of a home agent's restore at 1,000,000 nodes per kind, and counting them about 0.7 s more."""
        newest = self._db.execute("SELECT key, data, max(seq), COUNT(*) FROM log WHERE kind = ? GROUP BY key "
                                  "ORDER BY key", (kind,)).fetchall()
        if kind not in self._in_log:
            self._in_log[kind] = {key: rows for key, _data, _seq, rows in newest}
        records = dict(self._db.execute("SELECT key, data FROM records WHERE kind = ?", (kind,)))
        if not records:  # a database this mipd wrote
            return iter([(key, data) for key, data, _seq, _rows in newest if data is not None])
        records.update((key, data) for key, data, _seq, _rows in newest)
        return iter(sorted((key, data) for key, data in records.items() if data is not None))

    def close(self) -> None:
        """Commit what is queued, checkpoint, and close the database."""
        try:
            self.commit()
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
