"""Bad-input corpus through the GUI's import, analysis, segment-import and workspace paths: each gives
a one-line message, the window keeps working, and earlier results and the workspace stay intact.

Same generated corpus as the CLI test (``tests/_bad_inputs.py``). The kinds that need a private
mount or another user (read-only folder, full disk, unreadable file) are covered on the command line.
"""
from __future__ import annotations

import sqlite3

import _bad_inputs as bad
import pytest

pytestmark = [pytest.mark.gui, pytest.mark.slow]

FACE = "videos/pyfeat_single_face.mp4"
REFUSED_AT_IMPORT = ["zero-byte file", "truncated MP4", "text renamed .mp4", "random bytes", "audio-only file",
                     "directory named like a video"]
ANALYSED = ["video without a face", "variable frame rate", "corrupt packets mid-stream",
            "spaces and non-ASCII in the path"]
IMPORTED = ["rotated video (90°)", "7680x4320 frame", "one-frame video"]  # analysed on the command line


@pytest.fixture
def messages(monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a, **k: warned.append(a[2])))
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    return warned


def _one_line(msg: str) -> str:
    assert msg.strip() and "\n" not in msg.strip() and "Traceback" not in msg, msg
    return msg


def _healthy(w, folder) -> None:
    raw = sqlite3.connect(folder / "workspace.sqlite")
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()
    assert w.workspace.verify_audit().ok


def test_gui_import_and_analysis_of_the_corpus(gui_window, qtbot, tmp_path, media, messages):
    from facelens.core.workspace import SessionStatus

    corpus = bad.video_corpus(tmp_path / "corpus", media / FACE)
    w = gui_window
    assert w.open_workspace(tmp_path / "ws")
    # earlier work: one session analysed before the bad inputs arrive
    first = w.import_session_values(corpus["one-frame video"][0], "P001")
    w.analyse(first)
    qtbot.waitUntil(lambda: w.workspace.get_session(first).status == SessionStatus.ANALYSED, timeout=180_000)
    before = bad.snapshot(tmp_path / "ws" / "analyses")
    assert before and not messages

    for kind in REFUSED_AT_IMPORT:
        n = len(messages)
        assert w.import_session_values(corpus[kind][0], "P002") is None, kind
        assert len(messages) == n + 1 and _one_line(messages[-1]), kind
    assert [s.id for s in w.workspace.list_sessions()] == [first]

    for kind in IMPORTED:
        assert w.import_session_values(corpus[kind][0], "P004") is not None, kind
    ids = {kind: w.import_session_values(corpus[kind][0], "P003") for kind in ANALYSED}
    refused = [kind for kind, sid in ids.items() if sid is None]  # the damage can be in the probed frames
    assert refused in ([], ["corrupt packets mid-stream"])
    assert len(messages) == len(REFUSED_AT_IMPORT) + len(refused) and _one_line(messages[-1])
    ids = {kind: sid for kind, sid in ids.items() if sid is not None}
    for sid in ids.values():
        w.analyse(sid)
    final = (SessionStatus.ANALYSED, SessionStatus.FAILED)
    qtbot.waitUntil(lambda: all(w.workspace.get_session(s).status in final for s in ids.values()),
                    timeout=600_000)
    for kind, sid in ids.items():
        rec = w.workspace.get_session(sid)
        if rec.status is SessionStatus.FAILED:
            assert kind == "corrupt packets mid-stream" and _one_line(rec.reason), (kind, rec.reason)
        else:
            assert w.results_path(sid) is not None, kind
    assert w.open_session(ids["variable frame rate"]) and w.review.data is not None  # still working
    assert bad.snapshot(tmp_path / "ws" / "analyses").items() >= before.items()
    assert bad.leftovers(tmp_path / "ws") == []
    _healthy(w, tmp_path / "ws")


@pytest.mark.parametrize("content", [b"start_s,end_s,label\n5,2,happy\n", b"start_s,end_s,label\nx,2,happy\n",
                                     "start_s,end_s,label\n1,2,happy\n".encode("utf-16"), bytes(range(256)) * 4,
                                     b"start_s,label\n1,happy\n"])
def test_gui_segments_import_refuses_bad_csv(gui_window, tmp_path, messages, monkeypatch, content):
    from PySide6.QtWidgets import QFileDialog

    from facelens.core.annotation.segments import Segment

    w = gui_window
    assert w.open_workspace(tmp_path / "ws")
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0" * 512)
    sid = w.workspace.import_session(video, "P001").id
    w.open_session(sid)
    w.create_segment(1.0, 4.0, "happy")
    kept = [(s.start_s, s.end_s, s.label) for s in w.workspace.segments(sid)]
    csv = tmp_path / "bad.csv"
    csv.write_bytes(content)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(csv), "CSV (*.csv)")))
    from PySide6.QtGui import QAction

    menu_entry = next(a for a in w.findChildren(QAction) if a.text().replace("&", "").startswith("Import segments"))
    menu_entry.trigger()  # File > Import segments CSV…, as the user does
    shown = w.statusBar().currentMessage() or (messages[-1] if messages else "")
    assert "Import segments" in shown and _one_line(shown)
    assert [(s.start_s, s.end_s, s.label) for s in w.workspace.segments(sid)] == kept
    assert w.create_segment(6.0, 8.0, "sad") is not None and isinstance(w.workspace.segments(sid)[-1], Segment)
    _healthy(w, tmp_path / "ws")


def test_gui_refuses_a_corrupt_workspace_and_keeps_the_open_one(gui_window, tmp_path, messages):
    w = gui_window
    assert w.open_workspace(tmp_path / "good")
    (tmp_path / "bad").mkdir()
    db = tmp_path / "bad" / "workspace.sqlite"
    db.write_bytes(b"SQLite format 3\0" + bytes(4000))
    assert not w.open_workspace(tmp_path / "bad")
    assert len(messages) == 1 and _one_line(messages[0]) and "corrupt" in messages[0]
    assert w.workspace is not None and w.workspace.folder == tmp_path / "good"
    assert db.read_bytes() == b"SQLite format 3\0" + bytes(4000)
    _healthy(w, tmp_path / "good")


def test_gui_analyse_checks_the_models_first(gui_window, tmp_path, messages, monkeypatch):
    from facelens.core.workspace import SessionStatus

    monkeypatch.setenv("FACELENS_MODEL_CACHE", str(tmp_path / "empty-cache"))  # a fresh home: no weights
    w = gui_window
    assert w.open_workspace(tmp_path / "ws")
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0" * 512)
    sid = w.workspace.import_session(video, "P001").id
    w.analyse(sid)
    assert len(messages) == 1 and _one_line(messages[0]) and "facelens models fetch" in messages[0]
    assert not w.queue.is_busy() and w.workspace.get_session(sid).status is SessionStatus.NOT_ANALYSED
