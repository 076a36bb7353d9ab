"""The open session's neutral baseline on the diagnosis and segment panels, always the shown session's.

A real recording (crying 0-9 s annotated "neutral", stored valence about -0.4) shows the source
"annotated neutral segments" and names that segment on both panels; deleting it falls back to the
robust estimate and drops the flag, undo brings both back, relabelling the laughing part "neutral"
names that one. Opening another session never shows, even for a moment, the previous session's
baseline; an unanalysed session and a closed one show none.
"""
from __future__ import annotations

import numpy as np
import pytest
from _gui_sessions import add_session

from facelens.core.annotation.segments import Segment

pytestmark = pytest.mark.gui

WOLF = "videos/pyfeat_WolfgangLanger_Pexels.mp4"
FLAG_0_9 = "Neutral segment 0.0–9.0 s: far from the person's baseline (stored V -0."


@pytest.fixture
def sessions(gui_window, media, analysed, tmp_path):
    """(window, real-recording session, simulated session, unanalysed session)."""
    from facelens.core.diagnosis.simulate import simulate_session, write_session

    w = gui_window
    assert w.open_workspace(tmp_path / "ws")
    wolf = add_session(w.workspace, media / WOLF, "P001", analysed(WOLF),
                       [Segment(0.0, 9.0, "neutral", id="n"), Segment(10.0, 19.5, "happy", id="h")])[0]
    sim = simulate_session(np.random.default_rng(7), "MDD")  # its sad part, annotated neutral here
    h5 = write_session(tmp_path / "sim.h5", sim, "P002")
    other = add_session(w.workspace, media / WOLF, "P002", h5, [Segment(21.0, 36.0, "neutral", id="n")])[0]
    bare = w.workspace.import_session(media / WOLF, "P003").id
    w.refresh_sessions()
    return w, wolf, other, int(bare)


def _texts(w) -> tuple[str, str]:
    """What the two panels' baseline labels read (plain text; "" when hidden)."""
    from PySide6.QtGui import QTextDocumentFragment

    d, s = w.diagnosis.baseline, w.segments.baseline
    plain = QTextDocumentFragment.fromHtml(d.text()).toPlainText()
    return (plain if d.isVisibleTo(w.diagnosis) else "", s.text() if s.isVisibleTo(w.segments) else "")


def test_panels_show_the_source_and_name_the_flagged_neutral_segment(qtbot, sessions):
    w, wolf, _, _ = sessions
    assert w.open_session(wolf)
    diag, segs = _texts(w)
    assert "Neutral baseline: annotated neutral segments, " in diag and FLAG_0_9 in diag
    assert "come from G" in diag  # the stored values are not measured against this anchor (G session)
    assert FLAG_0_9 in segs
    full = "Neutral segment 0.0–9.0 s: valence/arousal far from the person's baseline (stored V -0."
    assert full in w.diagnosis.baseline.toolTip() and full in w.segments.baseline.toolTip()


def test_segment_edits_update_the_baseline(qtbot, sessions):
    w, wolf, _, _ = sessions
    assert w.open_session(wolf)
    a = w.annotation_ctl
    a.delete("P001-n")
    diag, segs = _texts(w)
    assert "Neutral baseline: robust estimate (" in diag and "Neutral segment" not in diag and segs == ""
    a.undo()
    diag, segs = _texts(w)
    assert "annotated neutral segments" in diag and FLAG_0_9 in diag and "0.0–9.0" in segs
    a.edit("P001-h", label="neutral")  # the laughing part called neutral: valence far above 0
    diag, _ = _texts(w)
    assert FLAG_0_9 in diag and "Neutral segment 10.0–19.5 s: far from the person's baseline (stored V +0." in diag


def test_another_session_never_shows_the_previous_baseline(qtbot, sessions):
    from facelens.gui.controllers.diagnosis import NOT_ANALYSED

    w, wolf, other, bare = sessions
    seen: list[tuple[str, str]] = []  # what the panels read the moment another session is chosen
    w.model.events.session_id.connect(lambda *_: seen.append(_texts(w)))
    assert w.open_session(wolf)
    seen.clear()
    assert w.open_session(other)  # the model names it before its data reach the review view
    assert seen == [(NOT_ANALYSED, "")], seen  # no figure of the previous session's data meanwhile
    diag, segs = _texts(w)
    assert "Neutral segment 21.0–36.0 s" in diag and "0.0–9.0" not in diag and "21.0–36.0" in segs
    w.open_session(bare)  # not analysed: no baseline to show
    assert _texts(w) == (NOT_ANALYSED, "")
    assert w.open_session(wolf) and FLAG_0_9 in _texts(w)[0]
    w.close_session()
    assert _texts(w) == ("", "")


def test_a_reanalysed_session_shows_the_new_results_baseline(qtbot, sessions, tmp_path):
    import shutil

    w, wolf, other, _ = sessions
    assert w.open_session(wolf) and "(stored V -0." in _texts(w)[0]
    from facelens.core.workspace import RunStatus

    new = tmp_path / "rerun.h5"  # a new analysis of the same session: other numbers
    shutil.copy(w.results_path(other), new)
    w.workspace.record_run(wolf, new, {}, [], status=RunStatus.COMPLETE)
    w.model.data_changed()  # as the analysis controller does when an analysis finishes
    assert w.open_session(wolf)  # ... and then it opens the session again
    diag = _texts(w)[0]
    assert "Neutral segment 0.0–9.0 s" in diag and "(stored V -0." not in diag, diag


def test_many_flags_take_one_line_under_the_segments_table(qtbot, gui_window):
    from facelens.core.dynamics.baseline import BaselineSummary, NeutralFlag

    flags = [NeutralFlag(float(k), k + 2.0, -0.2, 0.1) for k in range(0, 15, 3)]
    panel = gui_window.segments
    panel.set_baseline(BaselineSummary("annotated neutral segments", 100, flags), "note")
    text = panel.baseline.text()
    assert text.count("\n") == 0 and "5 neutral segments" in text
    assert all(f.short() in panel.baseline.toolTip() for f in flags) and "note" in panel.baseline.toolTip()
    panel.set_baseline(BaselineSummary("annotated neutral segments", 100, flags[:2]), "note")
    assert panel.baseline.text().count("\n") == 1 and flags[1].short() in panel.baseline.text()
