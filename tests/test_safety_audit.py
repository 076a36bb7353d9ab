"""Tamper-evident audit log: the hash chain, ``facelens audit verify`` and the schema-1 migration."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from facelens.cli import main
from facelens.core.annotation.segments import Segment
from facelens.core.workspace import Workspace, schema
from facelens.core.workspace.audit_chain import CHAIN_STARTED


@pytest.fixture
def ws_dir(tmp_path: Path) -> Path:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x" * 1000)
    with Workspace.open(tmp_path / "ws", user="ra1") as ws:
        s = ws.import_session(video, "P001")
        seg = ws.add_segment(s.id, Segment(1.0, 2.0, "happy"))
        ws.update_segment(seg.moved(1.5, 2.5))
        ws.audit("report printed", {"session": s.id})
    return tmp_path / "ws"


def _raw(folder: Path) -> sqlite3.Connection:
    return sqlite3.connect(folder / "workspace.sqlite", isolation_level=None)


def _verify(capsys, folder: Path) -> tuple[int, str, str]:
    code = main(["audit", "verify", str(folder)])
    out, err = capsys.readouterr()
    return code, out, err


def test_intact_chain_verifies(ws_dir: Path, capsys) -> None:
    with Workspace.open(ws_dir, create=False) as ws:
        check = ws.verify_audit()
        n = len(ws.audit_entries())
    assert check.ok and check.entries == n == 5 and check.chain_start == 1 and check.unchained == 0
    code, out, err = _verify(capsys, ws_dir)
    assert code == 0 and err == "" and f"{n} entries" in out and check.head in out


@pytest.mark.parametrize("edit,broken", [
    ("UPDATE audit_log SET details = '{\"session\": 2}' WHERE id = 3", 3),    # content edited
    ("UPDATE audit_log SET user = 'someone' WHERE id = 2", 2),
    ("DELETE FROM audit_log WHERE id = 2", 3),                                 # a row removed
    ("UPDATE audit_log SET time = '2020-01-01T00:00:00.000+00:00' WHERE id = 5", 5),
    (("INSERT INTO audit_log (id, time, user, action, details, prev_hash, hash) "
      "SELECT 6, time, user, 'report printed', details, hash, hash FROM audit_log WHERE id = 5"), 6),
])
def test_edited_row_is_caught_at_its_link(ws_dir: Path, capsys, edit: str, broken: int) -> None:
    raw = _raw(ws_dir)
    raw.execute(edit)
    raw.close()
    with Workspace.open(ws_dir, create=False) as ws:
        check = ws.verify_audit()
    assert not check.ok and check.first_broken == broken
    code, out, err = _verify(capsys, ws_dir)
    lines = err.strip().splitlines()
    assert code == 1 and out == "" and len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith(f"facelens: error: audit log broken at entry #{broken}:")


def test_not_a_workspace_is_exit_2(tmp_path: Path, capsys) -> None:
    code, _, err = _verify(capsys, tmp_path)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "not a FaceLens workspace" in err
    assert not (tmp_path / "workspace.sqlite").exists()


def _schema1_workspace(folder: Path) -> None:
    """A workspace as FaceLens schema 1 wrote it (no hash columns), with three audit entries."""
    folder.mkdir()
    raw = _raw(folder)
    raw.execute("PRAGMA journal_mode = WAL")
    for stmt in schema._statements(schema.SCHEMA_V1):
        raw.execute(stmt)
    raw.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
    raw.execute("PRAGMA user_version = 1")
    for i, action in enumerate(("patient added", "session imported", "report printed")):
        raw.execute("INSERT INTO audit_log (time, user, action, details) VALUES (?, 'ra1', ?, ?)",
                    (f"2025-01-0{i + 1}T10:00:00.000+00:00", action, json.dumps({"n": i})))
    raw.close()


def test_schema1_workspace_is_migrated_and_covered(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "old"
    _schema1_workspace(folder)
    with Workspace.open(folder, create=False, user="ra2") as ws:
        ws.audit("report printed", {"after": "migration"})
        entries = ws.audit_entries()
        check = ws.verify_audit()
    marker = entries[3]
    assert marker.action == CHAIN_STARTED and marker.details["unchained_entries"] == 3
    assert marker.details["from_schema"] == 1 and marker.details["to_schema"] == schema.SCHEMA_VERSION
    assert check.ok and check.chain_start == marker.id and check.unchained == 3 and check.entries == 5
    code, out, _ = _verify(capsys, folder)
    assert code == 0 and "chained from entry #4" in out and "the 3 entries before it" in out
    # an entry from before the migration is edited: caught through the migration entry's digest
    raw = _raw(folder)
    raw.execute("UPDATE audit_log SET action = 'nothing' WHERE id = 2")
    raw.close()
    code, _, err = _verify(capsys, folder)
    assert code == 1 and "entry #1" in err and "older than the chain" in err


def test_reopening_does_not_migrate_twice(ws_dir: Path) -> None:
    for _ in range(2):
        with Workspace.open(ws_dir, create=False) as ws:
            assert ws.verify_audit().ok
            assert not ws.audit_entries(action=CHAIN_STARTED)  # a new workspace needs no marker
