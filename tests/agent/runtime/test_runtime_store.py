"""The state database (mipd.runtime.store): records and replay state written, committed, read back
after reopening (and after a kill -9), and the restore semantics of the agents on top of it:
expired bindings/visitors are dropped and deleted, live ones re-installed."""

from __future__ import annotations

import dataclasses
import math
import os
import random
import sqlite3
import subprocess
import sys
import textwrap
import threading

import pytest
import runtime_helpers as h
from mipd.protocol.actions import AddTunnel, AddTunnelRoute, DeleteRecord, Packet, StoreRecord
from mipd.protocol.config import HomeAgentConfig
from mipd.protocol.filters import HostSet
from mipd.protocol.foreign_agent import ForeignAgent, Visitor
from mipd.protocol.home_agent import BINDINGS, Binding, HomeAgent
from mipd.runtime import store as store_module
from mipd.runtime.roles import CODECS
from mipd.runtime.store import Codec, Store, StoreError
from mipd.security import SecurityAssociation, SecurityAssociations

NOW = 1_900_000_000.0
# the store's mechanics are tried with a kind of one record per row (an older mipd's "binding" rows); the home
# agent's own kind, a home address's bindings in one row, where the agents are
ONE_PER_ROW = {"binding": Codec(Binding, ("home_address", "care_of_address")), "visitor": CODECS["visitor"]}


def binding(home: str = h.HOME, coa: str = h.COA, expires: float = NOW + 600, ident: int = 0xE8FE6F8080000000,
            **kw) -> Binding:
    fields = dict(lifetime=600, expires=expires, identification=ident, encap="ipip", reverse=False, source=coa)
    fields.update(kw)
    return Binding(home, coa, **fields)


def visitor(home: str = h.HOME, expires: float = NOW + 600) -> Visitor:
    return Visitor(home, "mn@example.net", "10.2.0.1", h.HA_ADDRESS, "fa-visit", "02:00:00:00:00:10",
                   0xE8FE6F8080000001, 600, expires, "gre", True)


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "state" / "state.db")


def test_records_round_trip_through_a_reopen(db):
    s = Store(db, ONE_PER_ROW)
    b1, b2 = binding(), binding(home="10.1.0.11", expires=math.inf, lifetime=0xFFFF, nai="mn11@example.net",
                                simultaneous=True)
    v = visitor()
    s.put("binding", b1)
    s.put("binding", b2)
    s.put("visitor", v)
    assert s.dirty and s.commit() == 3 and not s.dirty
    s.close()
    s = Store(db, ONE_PER_ROW)
    assert sorted(s.load("binding"), key=lambda b: b.home_address) == [b1, b2]
    assert s.load("binding")[1].expires == math.inf
    assert s.load("visitor") == [v]
    assert s.count("binding") == 2
    assert oct(os.stat(db).st_mode & 0o777) == "0o600"


def test_delete_uses_the_state_machines_keys(db):
    s = Store(db, ONE_PER_ROW)
    s.put("binding", binding())
    s.put("binding", binding(coa="192.0.2.78"))
    s.put("visitor", visitor())
    s.commit()
    s.delete("binding", (h.HOME, h.COA))  # HomeAgent: DeleteRecord("binding", (home, coa))
    s.delete("visitor", h.HOME)  # ForeignAgent: DeleteRecord("visitor", home)
    s.commit()
    assert [b.care_of_address for b in s.load("binding")] == ["192.0.2.78"]
    assert s.load("visitor") == []


def test_changes_in_one_batch_coalesce(db):
    s = Store(db, ONE_PER_ROW)
    s.put("binding", binding(lifetime=100))
    s.put("binding", binding(lifetime=200))
    s.delete("binding", (h.HOME, "192.0.2.99"))
    assert s.commit() == 2
    assert [b.lifetime for b in s.load("binding")] == [200]
    s.put("binding", binding(coa="192.0.2.5"))
    s.delete("binding", (h.HOME, "192.0.2.5"))
    s.commit()
    assert [b.care_of_address for b in s.load("binding")] == [h.COA]


def test_replay_state_keeps_64_bit_identifications(db):
    s = Store(db, ONE_PER_ROW)
    s.put_replay(h.HOME, 0xFFFF_FFFF_FFFF_FFFE)
    s.put_replay("mn@example.net", 1)
    s.commit()
    s.put_replay(h.HOME, 0xEEEE_0000_0000_0001)
    s.commit()
    s.close()
    assert Store(db, ONE_PER_ROW).load_replay() == {h.HOME: 0xEEEE_0000_0000_0001, "mn@example.net": 1}


def test_uncommitted_changes_are_not_on_disk(db):
    s = Store(db, ONE_PER_ROW)
    s.put("binding", binding())
    s.commit()
    s.put("binding", binding(coa="192.0.2.78"))  # queued, never committed: a crash here loses it
    s._db.close()  # the crash
    s._unlock()
    other = Store(db, ONE_PER_ROW)
    assert [b.care_of_address for b in other.load("binding")] == [h.COA]


def test_discard_drops_queued_changes(db):
    s = Store(db, ONE_PER_ROW)
    s.put("binding", binding())
    s.discard()
    assert not s.dirty and s.commit() == 0 and s.load("binding") == []


def test_a_commit_survives_kill_9(db, tmp_path):
    """What commit() returned for is durable even if the process dies right after (no close)."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_runtime_store import ONE_PER_ROW, binding
        from mipd.runtime.store import Store
        s = Store({db!r}, ONE_PER_ROW)
        for i in range(50):
            s.put("binding", binding(home=f"10.1.0.{{i + 1}}"))
        s.commit()
        s.put("binding", binding(home="10.1.9.9"))  # never committed
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == -9, r.stderr
    homes = {b.home_address for b in Store(db, ONE_PER_ROW).load("binding")}
    assert len(homes) == 50 and "10.1.9.9" not in homes


def test_what_was_committed_survives_kill_9_while_the_log_is_compacted(db):
    """Killed at a moment of its own choosing while commits compact the log (each commit's rows with its
    compaction, in one transaction; 30 home addresses in a random order, so live rows are copied too): every home
    address reads as its last acknowledged commit left it, or as the commit in flight did, never older; and the
    reopened store counts the log's rows as the database holds them."""
    script = textwrap.dedent(f"""
        import os, random, signal, sys, threading
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_runtime_store import ONE_PER_ROW, binding
        from mipd.runtime import store as store_module
        store_module.LOG_MIN_ROWS, store_module.COMPACT_CHUNK = 40, 8
        s = store_module.Store({db!r}, ONE_PER_ROW)
        rng = random.Random(3)
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGKILL)).start()
        step = 0
        while True:
            s.put("binding", binding(home=f"10.1.0.{{rng.randrange(30) + 1}}", lifetime=step))
            s.commit()
            print(step, s.compacted, s.copied, flush=True)
            step += 1
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == -9, r.stderr
    acked, compacted, copied = map(int, r.stdout.split("\n")[-2].split())  # the last whole line (a kill may cut one)
    assert compacted > 0 and copied > 0
    rng = random.Random(3)
    homes = [f"10.1.0.{rng.randrange(30) + 1}" for _ in range(acked + 2)]
    allowed = {home: {step} for step, home in enumerate(homes[: acked + 1])}  # the last acknowledged of each
    allowed[homes[acked + 1]] = allowed.get(homes[acked + 1], set()) | {acked + 1}  # ... or the commit in flight
    s = Store(db, ONE_PER_ROW)
    lifetimes = {b.home_address: b.lifetime for b in s.load("binding")}
    assert lifetimes.keys() == allowed.keys()
    assert all(lifetimes[home] in steps for home, steps in allowed.items())
    assert _counted(s) == _log_counts(db)
    s.close()


def _log_counts(db: str) -> dict[str, dict[str, int]]:
    """key -> its rows in the log, per kind, as the database holds them."""
    counts: dict[str, dict[str, int]] = {}
    with sqlite3.connect(db) as raw:
        for kind, key, n in raw.execute("SELECT kind, key, COUNT(*) FROM log GROUP BY kind, key"):
            counts.setdefault(kind, {})[key] = n
    return counts


def _sorted(bindings: list[Binding]) -> list[Binding]:
    return sorted(bindings, key=lambda b: b.home_address)


def _counted(s: Store) -> dict[str, dict[str, int]]:
    """The store's count of each key's rows in the log, the kinds it holds rows of (to compare with _log_counts)."""
    return {kind: counts for kind, counts in s._in_log.items() if counts}


def _refresh(s: Store, steps: range, homes: int) -> None:
    """A commit per step of a binding of one of `homes` home addresses in turn, its lifetime the step."""
    for step in steps:
        s.put("binding", binding(home=f"10.1.0.{step % homes + 1}", lifetime=step))
        s.commit()


def test_records_are_read_the_same_while_the_log_is_compacted(db, monkeypatch):
    """Commits append to the log; once it holds more than LOG_MIN_ROWS rows and LOG_PER_KEY per key, commits compact
    its oldest rows: at every step (and after a kill -9, which leaves the log for the next open to index) what is
    read is the newest change of each record, the log stays within its size, and the store's count of each key's
    rows in the log is the database's. Some keys are in the records table too (an older mipd folded them there):
    the log's rows hide them, and compacting a deletion of one deletes its records row."""
    monkeypatch.setattr(store_module, "LOG_MIN_ROWS", 12)
    monkeypatch.setattr(store_module, "COMPACT_CHUNK", 5)
    s = Store(db, ONE_PER_ROW)
    expected: dict[str, Binding] = {}
    for i in range(6):
        expected[f"10.1.0.{i + 1}"] = binding(home=f"10.1.0.{i + 1}", lifetime=9)
        s.put("binding", expected[f"10.1.0.{i + 1}"])
    s.commit()
    s._fold_all()  # the base: as an older mipd left it
    rng = random.Random(5)
    for step in range(300):
        for _ in range(rng.randrange(1, 4)):
            home = f"10.1.0.{rng.randrange(11) + 1}"
            if rng.random() < 0.25 and home in expected:
                s.delete("binding", (home, h.COA))
                del expected[home]
            else:
                expected[home] = binding(home=home, lifetime=100 + step)
                s.put("binding", expected[home])
            s.put_replay(home, step)
        s.commit()
        assert _sorted(s.load("binding")) == _sorted(list(expected.values()))
        assert _counted(s) == _log_counts(db)
        assert s._log_rows <= max(12, 2 * sum(map(len, s._in_log.values()))) + 6
    assert s.compacted > 500  # compacted all along, not once
    with sqlite3.connect(db) as raw:
        based = {key.split("|")[0] for (key,) in raw.execute("SELECT key FROM records WHERE kind = 'binding'")}
    assert based < {f"10.1.0.{i + 1}" for i in range(6)}  # deletions compacted took records rows along
    assert s.count("binding") == len(expected)
    s._db.close()  # killed: the log stays
    s._unlock()
    s = Store(db, ONE_PER_ROW)
    assert not s._in_log  # opening counts no key: reading a kind does (or the first commit that wants it)
    assert _sorted(s.load("binding")) == _sorted(list(expected.values()))
    assert set(s._in_log) == {"binding"} and s.load_replay()["10.1.0.1"] >= 0
    assert _counted(s) == _log_counts(db)
    s.put_replay("10.1.0.1", 1)
    s.commit()  # compacts on
    assert _counted(s) == _log_counts(db)
    assert "visitor" not in s._in_log  # neither read nor written: the log is not scanned for it
    s.close()


def test_a_compaction_rolled_back_leaves_the_count_of_the_logs_rows_as_it_was(db, monkeypatch):
    """A commit that fails (here a trigger refuses its rows, as a full disk would) rolls back the compaction it
    carried too; the store's count of each key's rows in the log is left as the database holds it, so the next
    compactions judge live rows right: nothing stale is copied over a newer row."""
    monkeypatch.setattr(store_module, "LOG_MIN_ROWS", 4)
    monkeypatch.setattr(store_module, "COMPACT_CHUNK", 3)
    s = Store(db, ONE_PER_ROW)
    _refresh(s, range(7), 2)
    assert s._over(2)  # the failing commit carries a compaction
    s._db.execute("CREATE TRIGGER refuse BEFORE INSERT ON log WHEN NEW.key LIKE '10.1.0.9%' "
                  "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    s.put("binding", binding(home="10.1.0.9"))
    s.put("binding", binding(home="10.1.0.1", lifetime=100))
    with pytest.raises(StoreError, match="disk full"):
        s.commit()
    s.discard()
    assert _counted(s) == _log_counts(db)
    s._db.execute("DROP TRIGGER refuse")
    for step in range(7, 20):
        _refresh(s, range(step, step + 1), 2)
        assert _counted(s) == _log_counts(db)
    assert [b.lifetime for b in s.load("binding")] == [18, 19]
    s.close()


def test_a_commit_of_many_rows_compacts_at_most_compact_limit_rows_and_later_ones_catch_up(db, monkeypatch):
    """A commit compacts twice the rows it logs, at most COMPACT_LIMIT (a restore's commit of a million deletions
    does not read two million rows more); the commits after it bring the log back to its size."""
    monkeypatch.setattr(store_module, "LOG_MIN_ROWS", 10)
    monkeypatch.setattr(store_module, "COMPACT_CHUNK", 2)
    monkeypatch.setattr(store_module, "COMPACT_LIMIT", 6)
    s = Store(db, ONE_PER_ROW)
    _refresh(s, range(40), 3)
    compacted = s.compacted
    for i in range(40):
        s.put("binding", binding(home=f"10.1.1.{i + 1}"))
    s.commit()
    assert s.compacted - compacted == 6  # not 80
    for step in range(60):
        s.delete("binding", (f"10.1.1.{step % 40 + 1}", h.COA))
        s.commit()
    assert s.logged <= max(10, 2 * sum(map(len, s._in_log.values()))) + 2
    assert sorted(b.home_address for b in s.load("binding")) == ["10.1.0.1", "10.1.0.2", "10.1.0.3"]
    s.close()


def test_rows_of_a_kind_neither_read_nor_written_are_counted_when_compaction_reaches_them(db, monkeypatch):
    """A home agent that once was a foreign agent too: its log holds visitor rows it neither reads nor writes. They are
    not counted when the store opens; compacting them counts the kind, keeps them (each its key's newest) and
    deletes none."""
    monkeypatch.setattr(store_module, "LOG_MIN_ROWS", 6)
    monkeypatch.setattr(store_module, "COMPACT_CHUNK", 2)
    s = Store(db, ONE_PER_ROW)
    for i in range(3):
        s.put("visitor", visitor(home=f"10.1.2.{i + 1}"))
    s.commit()
    s.close()
    s = Store(db, ONE_PER_ROW)
    _refresh(s, range(30), 2)
    assert s.copied >= 3 and _counted(s) == _log_counts(db)
    assert sorted(v.home_address for v in s.load("visitor")) == ["10.1.2.1", "10.1.2.2", "10.1.2.3"]
    s.close()


def test_a_closed_store_keeps_its_log_and_reopens_without_folding_it(db, monkeypatch):
    """Closing and opening neither fold nor copy the log (at 1,000,000 bindings that would be seconds): the log is
    read for its keys, and compaction goes on from where it was."""
    monkeypatch.setattr(store_module, "LOG_MIN_ROWS", 10)
    s = Store(db, ONE_PER_ROW)
    _refresh(s, range(30), 3)
    s.close()
    logged = _log_counts(db)
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 0
    s = Store(db, ONE_PER_ROW)
    assert s._in_log["binding"] == logged["binding"] and s._log_rows == sum(logged["binding"].values())
    assert [b.lifetime for b in s.load("binding")] == [27, 28, 29]
    s.close()


def test_a_schema_1_database_is_read_and_upgraded(db):
    Store(db, ONE_PER_ROW).close()
    with sqlite3.connect(db) as raw:
        raw.execute("DROP TABLE log")
        raw.execute("UPDATE meta SET value = '1' WHERE name = 'schema'")
        raw.execute("INSERT INTO records VALUES ('replay', '10.1.0.1', '5')")
    s = Store(db, ONE_PER_ROW)
    assert s.load_replay() == {"10.1.0.1": 5}
    s.close()
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()[0] == "3"


def test_rows_that_no_longer_decode_are_skipped_and_reported(db):
    s = Store(db, ONE_PER_ROW)
    s.put("binding", binding())
    s.commit()
    with sqlite3.connect(db) as raw:
        raw.execute("INSERT INTO records VALUES ('binding', 'x|y', '{not json')")
        raw.execute("""INSERT INTO records VALUES ('binding', 'a|b', '{"home_address": "a"}')""")
    bad: list[str] = []
    assert s.load("binding", lambda key, e: bad.append(key)) == [binding()]
    assert sorted(bad) == ["a|b", "x|y"]


@dataclasses.dataclass
class OldBinding:
    """A binding as another mipd version stored it: a field since removed, `simultaneous` not yet there."""

    home_address: str
    retired: int
    care_of_address: str
    lifetime: int
    expires: float
    identification: int
    encap: str
    reverse: bool
    source: str
    nai: str | None


def test_rows_written_with_other_fields_are_migrated_on_open(db):
    old = Store(db, {"binding": Codec(OldBinding, ("home_address", "care_of_address"))})
    old.put("binding", OldBinding(h.HOME, 7, h.COA, 600, math.inf, 5, "gre", True, h.COA, "mn@example.net"))
    old.commit()
    old.close()
    s = Store(db, ONE_PER_ROW)
    assert s.load("binding") == [Binding(h.HOME, h.COA, 600, math.inf, 5, "gre", True, h.COA, "mn@example.net")]
    s.close()
    assert Store(db, ONE_PER_ROW).load("binding")[0].simultaneous is False  # rewritten once, read as is after


def test_a_home_addresss_bindings_are_one_row(db):
    """The home agent's kind (ManyCodec): a home address's bindings in one row, read back as they were written
    (an infinite expiry too), deleted by the home address."""
    s = Store(db, CODECS)
    both = (binding(), binding(coa="192.0.2.78", expires=math.inf, lifetime=0xFFFF, simultaneous=True))
    other = (binding(home="10.1.0.11"),)
    s.put(BINDINGS, both)
    s.put(BINDINGS, other)
    assert s.commit() == 2
    s.close()
    s = Store(db, CODECS)
    assert s.load(BINDINGS) == [both, other] and s.count(BINDINGS) == 2
    s.delete(BINDINGS, h.HOME)
    s.commit()
    assert s.load(BINDINGS) == [other]


def test_bindings_rows_that_do_not_decode_are_skipped_and_reported(db):
    """A home address's row that is not a non-empty array of binding arrays is skipped (and reported), the others
    are read."""
    s = Store(db, CODECS)
    s.put(BINDINGS, (binding(),))
    s.commit()
    with sqlite3.connect(db) as raw:
        for key, data in (("a", "{not json"), ("b", "[]"), ("c", "[1]"), ("d", '[["10.1.0.9"]]'), ("e", "{}")):
            raw.execute("INSERT INTO records VALUES (?, ?, ?)", (BINDINGS, key, data))
    bad: list[str] = []
    assert s.load(BINDINGS, lambda key, e: bad.append(key)) == [(binding(),)]
    assert sorted(bad) == ["a", "b", "c", "d", "e"]


def test_an_older_mipds_binding_rows_are_regrouped_one_row_per_home_address_on_open(db):
    """A schema 2 database holds a row per binding ("binding", keyed home|care-of address), some written with
    older fields: opening it rewrites them as one row per home address, with the current fields; a row that does
    not decode is dropped (and logged), as loading would have skipped it."""
    old = Store(db, {"binding": Codec(OldBinding, ("home_address", "care_of_address"))})
    for home, coa in ((h.HOME, h.COA), (h.HOME, "192.0.2.78"), ("10.1.0.11", h.COA)):
        old.put("binding", OldBinding(home, 7, coa, 600, NOW + 600, 5, "ipip", False, coa, None))
    old.commit()
    old.close()
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE meta SET value = '2' WHERE name = 'schema'")
        raw.execute("INSERT INTO records VALUES ('binding', 'x|y', '{not json')")
    s = Store(db, CODECS)
    homes = {node[0].home_address: [b.care_of_address for b in node] for node in s.load(BINDINGS)}
    assert homes == {h.HOME: [h.COA, "192.0.2.78"], "10.1.0.11": [h.COA]}
    assert s.load(BINDINGS)[0][0] == binding(expires=NOW + 600, ident=5, nai=None)
    s.close()
    with sqlite3.connect(db) as raw:
        kinds = dict(raw.execute("SELECT kind, COUNT(*) FROM records GROUP BY kind"))
        schema = raw.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()[0]
        fields = {name for (name,) in raw.execute("SELECT name FROM meta WHERE name LIKE 'fields.%'")}
    assert kinds == {BINDINGS: 2} and schema == "3"
    assert fields == {f"fields.{BINDINGS}", "fields.visitor"}


def test_newer_schema_is_refused(db):
    Store(db, ONE_PER_ROW).close()
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE meta SET value = '99' WHERE name = 'schema'")
    with pytest.raises(StoreError, match="schema version 99 is newer"):
        Store(db, ONE_PER_ROW)


def test_unwritable_location(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises((StoreError, OSError)):
        Store(str(blocker / "state.db"), CODECS)


# ------------------------------------------------------------------ restore semantics of the agents


def apply(store: Store, actions) -> None:
    """What the daemon does with the persistence actions."""
    for a in actions:
        if isinstance(a, StoreRecord):
            store.put(a.kind, a.record)
        elif isinstance(a, DeleteRecord):
            store.delete(a.kind, a.key)
    store.commit()


def loaded_bindings(store: Store) -> list[Binding]:
    """The home agent's bindings as the daemon loads them: each home address's record, flattened."""
    return [b for node in store.load(BINDINGS) for b in node]


def home_agent() -> HomeAgent:
    cfg = HomeAgentConfig(h.HA_ADDRESS, "lo", ("10.1.0.0/24",), mobile_hosts=HostSet(("10.1.0.0/24",)),
                          max_lifetime=0xFFFF)
    sas = SecurityAssociations([SecurityAssociation(f"10.1.0.{i}", h.SPI, h.KEY) for i in range(10, 13)])
    return HomeAgent(cfg, sas, random.Random(1))


def test_home_agent_bindings_survive_a_restart_and_expired_ones_go(db):
    ha, store = home_agent(), Store(db, CODECS)
    for i, lifetime in ((10, 600), (11, 30), (12, 0xFFFF)):
        data, _ = h.request(home=f"10.1.0.{i}", lifetime=lifetime, now=NOW)
        actions = ha.on_packet(Packet(data, h.COA, h.HA_ADDRESS), NOW)
        assert any(isinstance(a, StoreRecord) for a in actions)
        apply(store, actions)
    store.close()

    later = NOW + 60  # 10.1.0.11's 30 s lifetime is over
    store = Store(db, CODECS)
    ha2 = home_agent()
    actions = ha2.restore(loaded_bindings(store), later)
    apply(store, actions)
    assert sorted(b.home_address for b in ha2.bindings()) == ["10.1.0.10", "10.1.0.12"]
    assert DeleteRecord(BINDINGS, "10.1.0.11") in actions
    assert [a for a in actions if isinstance(a, AddTunnelRoute)] == [
        AddTunnelRoute(home, h.HA_ADDRESS, h.COA, "ipip") for home in ("10.1.0.10", "10.1.0.12")]
    assert AddTunnel(h.HA_ADDRESS, h.COA, "ipip") in actions
    assert sorted(b.home_address for b in loaded_bindings(store)) == ["10.1.0.10", "10.1.0.12"]
    remaining = {b.home_address: b.remaining(later) for b in ha2.bindings()}
    assert remaining["10.1.0.10"] == 540 and remaining["10.1.0.12"] == 0xFFFF


def foreign_agent() -> ForeignAgent:
    cfg = h.config(home_agent=None, foreign_agent=h.FA_SECTION)
    from mipd.runtime.config import _foreign_agent  # the same validation the file goes through

    return ForeignAgent(_foreign_agent(cfg["foreign_agent"], "foreign_agent", []), SecurityAssociations(),
                        random.Random(1))


def test_foreign_agent_visitors_survive_a_restart_and_expired_ones_go(db):
    store = Store(db, ONE_PER_ROW)
    live, dead = visitor("10.1.0.10", NOW + 600), visitor("10.1.0.11", NOW - 1)
    store.put("visitor", live)
    store.put("visitor", dead)
    store.commit()
    fa = foreign_agent()
    actions = fa.restore(store.load("visitor"), NOW)
    apply(store, actions)
    assert [v.home_address for v in fa.visitors(NOW)] == ["10.1.0.10"]
    assert DeleteRecord("visitor", "10.1.0.11") in actions
    assert [v.home_address for v in store.load("visitor")] == ["10.1.0.10"]


def test_one_store_per_database(db):
    s = Store(db, ONE_PER_ROW)
    with pytest.raises(StoreError, match="in use by another mipd"):
        Store(db, ONE_PER_ROW)
    s.close()
    assert not os.path.exists(db + ".lock")
    Store(db, ONE_PER_ROW).close()


def test_close_checkpoints_and_removes_the_wal(db):
    s = Store(db, ONE_PER_ROW)
    for i in range(200):
        s.put("binding", binding(home=f"10.1.1.{i}"))
        s.commit()
    assert os.path.getsize(db + "-wal") > 0
    s.close()
    assert not os.path.exists(db + "-wal")
    assert len(Store(db, ONE_PER_ROW).load("binding")) == 200



def test_a_commit_waits_for_a_checkpoint_that_blocks_writers_on_the_stores_writer_lock(db):
    """The checkpointer's RESTART holds the lock each write transaction takes (Checkpointer), so a commit waits for
    it exactly as long as it lasts, not in SQLite's busy handler's growing sleeps; then it goes through."""
    s = Store(db, ONE_PER_ROW)
    s.put("binding", binding())
    committed = threading.Event()
    worker = threading.Thread(target=lambda: (s.commit(), committed.set()))
    with s._writer:  # as the checkpointer holds it while a RESTART runs
        worker.start()
        assert not committed.wait(0.2)  # it cannot commit while the lock is held
    worker.join(5.0)
    assert committed.is_set() and s.count("binding") == 1
    s.close()
