"""The harvest store: schema migrations, dedupe, transactions, statuses."""

from __future__ import annotations

import sqlite3

import pytest

from gerbil_lsp.harvest.records import chat_record, fim_record
from gerbil_lsp.harvest.store import MIGRATIONS, HarvestStore, StoreError, content_hash


def test_new_store_is_wal_at_latest_schema(tmp_path):
    with HarvestStore(tmp_path / "h.sqlite") as store:
        assert store.schema_version() == len(MIGRATIONS)
    db = sqlite3.connect(tmp_path / "h.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_same_content_is_stored_once_whatever_its_provenance(tmp_path):
    with HarvestStore(tmp_path / "h.sqlite") as store:
        a = store.add("fim", fim_record("(def x ", "1", ")", path="/a.ss", detail="watch"), source="watch", file="/a.ss")
        b = store.add("fim", fim_record("(def x ", "1", ")", path="/b.ss", detail="watch"), source="watch", file="/b.ss")
        c = store.add("fim", fim_record("(def x ", "2", ")", path="/a.ss", detail="watch"), source="watch")
        assert a is not None and b is None and c is not None
        assert store.counts() == {"pending": 2, "used": 0, "rejected": 0}


def test_content_hash_ignores_provenance_but_not_roles():
    one = chat_record([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], file="/x",
                      detail="opencode", group="g1")
    two = chat_record([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], file="/y",
                      detail="opencode", group="g2")
    swapped = chat_record([{"role": "assistant", "content": "q"}, {"role": "user", "content": "a"}], file="/x",
                          detail="opencode", group="g1")
    assert content_hash("chat", one) == content_hash("chat", two) != content_hash("chat", swapped)


def test_file_harvest_is_all_or_nothing(tmp_path):
    with HarvestStore(tmp_path / "h.sqlite") as store:
        good = fim_record("", "(def a 1)", "", path="/f.ss", detail="watch")
        with pytest.raises(ValueError):
            _failing_harvest(store, good)
        assert store.entries() == []
        assert store.file_version("/f.ss") is None
        ids = store.add_file_harvest("/f.ss", "(def a 1)", [good], source="watch")
        assert len(ids) == 1 and store.file_version("/f.ss") == "(def a 1)"


def _failing_harvest(store, good):
    with store.transaction() as db:
        store._insert(db, "fim", good, source="watch", file="/f.ss", session_id=None, status="pending", reason="")
        raise ValueError("the crash between entry and version")


def test_status_changes_drop_and_validation(tmp_path):
    with HarvestStore(tmp_path / "h.sqlite") as store:
        ids = [store.add("fim", fim_record("", f"(def v{i} {i})", "", path="/f.ss", detail="watch"), source="watch")
               for i in range(3)]
        assert store.set_status(ids[:2], "used", reason="trained") == 2
        assert store.drop(ids[2]) and not store.drop(ids[2])
        assert store.counts() == {"pending": 0, "used": 2, "rejected": 0}
        assert store.get(ids[0]).reason == "trained"
        with pytest.raises(ValueError, match="unknown status"):
            store.set_status(ids, "done")
        with pytest.raises(ValueError, match="unknown entry kind"):
            store.add("prose", {}, source="x")


def test_rename_carries_the_harvested_version(tmp_path):
    with HarvestStore(tmp_path / "h.sqlite") as store:
        store.add_file_harvest("/old.ss", "(def a 1)", [], source="watch")
        store.rename_file("/old.ss", "/new.ss")
        assert store.file_version("/new.ss") == "(def a 1)"


def test_a_newer_schema_is_refused_with_a_way_out(tmp_path):
    path = tmp_path / "h.sqlite"
    HarvestStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="upgrade gerbil-lsp"):
        HarvestStore(path)


def test_session_entry_is_superseded_while_pending(tmp_path):
    with HarvestStore(tmp_path / "h.sqlite") as store:
        first = chat_record([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
                            file="/w", detail="opencode", group="s")
        longer = chat_record([*first["messages"], {"role": "user", "content": "q2"},
                              {"role": "assistant", "content": "a2"}], file="/w", detail="opencode", group="s")
        one = store.replace_session_entry("ses_1", 10, "chat", first, source="opencode", outcome="harvested")
        two = store.replace_session_entry("ses_1", 20, "chat", longer, source="opencode", outcome="harvested")
        assert one != two and store.get(one) is None and store.get(two) is not None
        assert store.session_seen("ses_1") == (20, "harvested")
