"""The SQLite workspace: persistence, WAL, threads, resumable analyses, errors, audit log."""
from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import pytest

from facelens.core.annotation.segments import Segment
from facelens.core.workspace import (
    RunStatus,
    SessionStatus,
    Workspace,
    WorkspaceError,
    check_pseudonym,
    schema,
)


@pytest.fixture
def video(tmp_path: Path) -> Path:
    p = tmp_path / "session.mp4"
    p.write_bytes(b"not really a video, but the workspace only hashes it" * 1000)
    return p


@pytest.fixture
def ws(tmp_path: Path):
    w = Workspace.open(tmp_path / "ws", user="tester")
    yield w
    w.close()


def one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert msg and "\n" not in msg and "Traceback" not in msg
    return msg


def test_create_layout_and_wal(tmp_path: Path, ws: Workspace) -> None:
    assert (tmp_path / "ws" / "workspace.sqlite").is_file()
    assert (tmp_path / "ws" / "analyses").is_dir()
    assert ws.journal_mode() == "wal"
    # Independently of our code: the file itself is in WAL mode (persistent setting).
    raw = sqlite3.connect(tmp_path / "ws" / "workspace.sqlite")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    raw.close()


def test_everything_persists_across_reopen(tmp_path: Path, video: Path) -> None:
    with Workspace.open(tmp_path / "ws") as w:
        s = w.import_session(video, "P001", "2025-03-04", "elicitation video", "first visit")
        seg = w.add_segment(s.id, Segment(1.0, 16.0, "happy", author="ra1"))
        w.update_segment(seg.moved(2.0, 17.0))
        w.add_segment(s.id, Segment(20.0, 35.0, "sad"))
        run = w.record_run(s.id, w.results_path_for(s), {"fps": 10.0}, [{"id": "fer2013", "version": "1"}])
        w.finish_run(run.id)
        w.record_diagnosis("bd-mdd-v1", session_id=s.id, probability=0.62, interval=(0.4, 0.8))
    with Workspace.open(tmp_path / "ws", create=False) as w:
        [p] = w.list_patients()
        assert p.code == "P001"
        [s2] = w.list_sessions(patient="P001")
        assert (s2.date, s2.scenario, s2.notes) == ("2025-03-04", "elicitation video", "first visit")
        assert s2.video_sha256 == hashlib.sha256(video.read_bytes()).hexdigest()
        assert Path(s2.video_path).is_absolute()
        segs = w.segments(s2.id)
        assert [(x.start_s, x.end_s, x.label) for x in segs] == [(2.0, 17.0, "happy"), (20.0, 35.0, "sad")]
        assert segs[0].id == seg.id and segs[0].author == "ra1"
        latest = w.latest_run(s2.id, complete_only=True)
        assert latest is not None and latest.status is RunStatus.COMPLETE and latest.params == {"fps": 10.0}
        assert latest.models[0]["id"] == "fer2013" and latest.finished
        [d] = w.diagnoses(session_id=s2.id)
        assert d.probability == pytest.approx(0.62) and d.interval == (0.4, 0.8) and d.refusal == ""


def test_segment_edits_delete_and_replace(ws: Workspace, video: Path) -> None:
    s = ws.import_session(video, "P002")
    a = ws.add_segment(s.id, Segment(0.0, 5.0, "neutral"))
    rec = ws.segment_record(a.id)
    assert rec is not None and rec.session_id == s.id and rec.created <= rec.modified
    with pytest.raises(WorkspaceError, match="already exists"):
        ws.add_segment(s.id, a)
    deleted = ws.delete_segment(a.id)
    assert deleted.segment == a and ws.segments(s.id) == []
    with pytest.raises(WorkspaceError):
        ws.delete_segment(a.id)
    with pytest.raises(WorkspaceError):
        ws.update_segment(a)
    new = [Segment(1.0, 2.0, "happy"), Segment(3.0, 4.0, "sad")]
    assert ws.replace_segments(s.id, new) == new
    with pytest.raises(WorkspaceError, match="duplicate"):
        ws.replace_segments(s.id, [new[0], new[0]])
    assert ws.segments(s.id) == new  # the failed replace changed nothing


def test_concurrent_reader_while_writing(ws: Workspace, video: Path) -> None:
    s = ws.import_session(video, "P003")
    n_writes = 150
    errors: list[BaseException] = []
    seen: list[int] = []
    done = threading.Event()

    def writer() -> None:
        try:
            for i in range(n_writes):
                ws.add_segment(s.id, Segment(float(i), float(i) + 0.5, "happy"))
                ws.set_session_status(s.id, "analysing", progress=(i + 1) / n_writes)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            done.set()
            ws.close_thread()  # a worker releases its own connection; the workspace stays open

    def reader() -> None:
        try:
            while not done.is_set():
                seen.append(len(ws.segments(s.id)))
                ws.get_session(s.id)
            seen.append(len(ws.segments(s.id)))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert seen and seen[-1] == n_writes
    assert seen == sorted(seen)  # a reader only ever sees committed, growing state
    assert ws.get_session(s.id).progress == pytest.approx(1.0)


def test_interrupted_analysis_is_resumable(tmp_path: Path, video: Path) -> None:
    with Workspace.open(tmp_path / "ws") as w:
        a = w.import_session(video, "P004")
        b = w.import_session(video, "P004")
        w.set_session_status(a.id, SessionStatus.ANALYSING, progress=0.4)
        w.set_session_status(b.id, SessionStatus.ANALYSED)
        assert w.interrupted_sessions() == []  # analysing now, in this process: not interrupted
    # the app "crashed" with session a analysing
    with Workspace.open(tmp_path / "ws") as w:
        [r] = w.interrupted_sessions()
        assert r.id == a.id and r.status is SessionStatus.ANALYSING and r.progress == pytest.approx(0.4)
        assert w.results_path_for(r).parent == tmp_path / "ws" / "analyses"
        w.set_session_status(a.id, "failed", reason="cancelled by user")
        assert w.interrupted_sessions() == []
        assert w.get_session(a.id).reason == "cancelled by user"


def test_bad_folders_give_one_line_errors(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    with pytest.raises(WorkspaceError) as e:
        Workspace.open(a_file)
    assert "not a workspace folder" in one_line(e.value)

    (tmp_path / "empty").mkdir()
    with pytest.raises(WorkspaceError) as e:
        Workspace.open(tmp_path / "empty", create=False)
    assert "not a FaceLens workspace" in one_line(e.value)

    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "workspace.sqlite").write_bytes(b"\x00garbage" * 500)
    with pytest.raises(WorkspaceError) as e:
        Workspace.open(tmp_path / "corrupt")
    assert "corrupt" in one_line(e.value)

    (tmp_path / "foreign").mkdir()
    other = sqlite3.connect(tmp_path / "foreign" / "workspace.sqlite")
    other.execute("CREATE TABLE songs (title TEXT)")
    other.commit()
    other.close()
    with pytest.raises(WorkspaceError) as e:
        Workspace.open(tmp_path / "foreign")
    assert "not a FaceLens workspace" in one_line(e.value)


def test_locked_database(tmp_path: Path, video: Path) -> None:
    Workspace.open(tmp_path / "ws").close()
    other = sqlite3.connect(tmp_path / "ws" / "workspace.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        with pytest.raises(WorkspaceError) as e:
            Workspace.open(tmp_path / "ws", timeout_s=0.2)
        assert "locked" in one_line(e.value)
    finally:
        other.execute("ROLLBACK")
        other.close()
    with Workspace.open(tmp_path / "ws", timeout_s=0.2) as w:  # usable again once released
        w.add_patient("P010")


def test_newer_schema_refused_and_migration_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Workspace.open(tmp_path / "ws").close()
    calls: list[int] = []
    current = schema.SCHEMA_VERSION
    monkeypatch.setattr(schema, "SCHEMA_VERSION", current + 1)
    monkeypatch.setitem(schema.MIGRATIONS, current, lambda conn: (
        calls.append(current), conn.execute("ALTER TABLE patients ADD COLUMN site TEXT")))
    Workspace.open(tmp_path / "ws").close()
    assert calls == [current]
    raw = sqlite3.connect(tmp_path / "ws" / "workspace.sqlite")
    assert raw.execute("PRAGMA user_version").fetchone()[0] == current + 1
    raw.close()
    monkeypatch.setattr(schema, "SCHEMA_VERSION", current)
    with pytest.raises(WorkspaceError) as e:
        Workspace.open(tmp_path / "ws")
    assert "newer" in one_line(e.value)


def test_pseudonyms_only() -> None:
    for ok in ("P001", "BD-017", "site2_s14", "mdd.3"):
        assert check_pseudonym(ok) == ok
    for bad in ("Jane Doe", "JaneDoe", "jane.doe@example.org", "", "P 001", "x" * 40 + "1"):
        with pytest.raises(WorkspaceError) as e:
            check_pseudonym(bad)
        one_line(e.value)


def test_input_checks(ws: Workspace, video: Path, tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="video not found"):
        ws.import_session(tmp_path / "missing.mp4", "P005")
    with pytest.raises(WorkspaceError, match="unknown scenario"):
        ws.import_session(video, "P005", scenario="party")
    with pytest.raises(WorkspaceError, match="YYYY-MM-DD"):
        ws.import_session(video, "P005", date="4/3/2025")
    with pytest.raises(WorkspaceError, match="not a pseudonym"):
        ws.import_session(video, "John Smith")
    s = ws.import_session(video, "P005")
    with pytest.raises(WorkspaceError, match="unknown session status"):
        ws.set_session_status(s.id, "done")
    with pytest.raises(WorkspaceError, match="progress"):
        ws.set_session_status(s.id, "analysing", progress=1.5)
    with pytest.raises(WorkspaceError, match="either a probability or a refusal"):
        ws.record_diagnosis("m", session_id=s.id, probability=0.5, refusal="too few frames")
    with pytest.raises(WorkspaceError, match="either a probability or a refusal"):
        ws.record_diagnosis("m", session_id=s.id)
    refused = ws.record_diagnosis("m", session_id=s.id, refusal="fewer than 150 valid frames")
    assert refused.probability is None and refused.refusal.startswith("fewer")
    with pytest.raises(WorkspaceError, match="already exists"):
        ws.add_patient("P005")
    with pytest.raises(WorkspaceError, match="no session"):
        ws.get_session(999)


def test_audit_log(ws: Workspace, video: Path) -> None:
    s = ws.import_session(video, "P006")
    seg = ws.add_segment(s.id, Segment(0.0, 1.0, "happy"))
    ws.update_segment(seg.moved(0.5, 1.5))
    ws.delete_segment(seg.id)
    ws.set_session_status(s.id, "queued", progress=0.0)
    ws.set_session_status(s.id, "queued", progress=0.5)  # progress only: not audited
    entry = ws.audit("report printed", {"session": s.id, "pages": 4}, user="dr.x")
    assert entry.user == "dr.x" and entry.details == {"session": s.id, "pages": 4}
    actions = [e.action for e in ws.audit_entries()]
    assert actions == ["patient added", "session imported", "segment added", "segment updated",
                       "segment deleted", "session status", "report printed"]
    assert all(e.user == "tester" for e in ws.audit_entries()[:-1])
    assert [e.action for e in ws.audit_entries(limit=2)] == ["session status", "report printed"]
    [st] = ws.audit_entries(action="session status")
    assert st.details["from"] == "not analysed" and st.details["to"] == "queued"
