"""The neutral baseline in the report: its source line and the annotated neutral segments far from it.

On a real recording (the crying part 0-9 s annotated "neutral" reads as sad: stored valence about
-0.4) the affective-dynamics section carries a "Neutral baseline" block with the source and a flag
naming that segment; without a neutral segment the source is the robust estimate and nothing is
flagged. Checked in the report content and in the printed PDF's text.
"""
from __future__ import annotations

import pdfplumber
import pytest

from facelens.core.annotation.segments import Segment, write_segments_csv

WOLF = "videos/pyfeat_WolfgangLanger_Pexels.mp4"


def _pdf_text(path) -> str:
    with pdfplumber.open(path) as doc:
        return " ".join(" ".join((pg.extract_text() or "").split()) for pg in doc.pages)


@pytest.fixture(scope="module")
def wolf(analysed):
    return analysed(WOLF)


def _dynamics(h5, segments):
    from facelens.core import report_content as rc
    from facelens.core.results import SessionResults

    with SessionResults.open(h5) as res:
        content = rc.build_content(res, segments, rc.ReportOptions(use_model=False))
    return next(s for s in content.sections if isinstance(s, rc.DynamicsSection))


def test_report_content_names_the_source_and_flags_the_sad_looking_neutral_segment(wolf):
    sec = _dynamics(wolf, [Segment(0.0, 9.0, "neutral"), Segment(10.0, 19.5, "happy")])
    assert sec.baseline.startswith("annotated neutral segments, ") and sec.baseline.endswith(" frames")
    assert len(sec.baseline_flags) == 1
    flag = sec.baseline_flags[0]
    assert flag.startswith("Neutral segment 0.0–9.0 s: valence/arousal far from the person's baseline")
    assert "stored V -0." in flag  # the crying face: negative valence
    assert "come from G" in sec.baseline_note  # analysed with the default estimator, whose note it is


def test_report_content_without_neutral_segment_uses_the_robust_estimate(wolf):
    sec = _dynamics(wolf, [Segment(10.0, 19.5, "happy")])
    assert sec.baseline.startswith("robust estimate (") and sec.baseline_flags == []


def test_printed_report_has_the_neutral_baseline_block(wolf, tmp_path):
    from facelens.report import build_report_for_files

    csv = write_segments_csv([Segment(0.0, 9.0, "neutral"), Segment(10.0, 19.5, "happy")], tmp_path / "s.csv")
    text = _pdf_text(build_report_for_files(wolf, csv, tmp_path / "r.pdf", use_model=False))
    assert "Neutral baseline Source: annotated neutral segments" in text
    assert "Flag: Neutral segment 0.0–9.0 s: valence/arousal far from the person's baseline" in text
    assert "is shown for reference" in text and "come from G" in text
    only_happy = write_segments_csv([Segment(10.0, 19.5, "happy")], tmp_path / "h.csv")
    text = _pdf_text(build_report_for_files(wolf, only_happy, tmp_path / "h.pdf", use_model=False))
    assert "Source: robust estimate" in text and "Flag:" not in text


def test_the_note_says_what_the_stored_values_are_measured_against():
    from facelens.core.dynamics.baseline import notes_for

    assert "running baseline" in notes_for("circumplex")[0] and "running baseline" in notes_for("circumplex")[1]
    assert "come from G" in notes_for("g")[0] and "running baseline" not in notes_for("g")[1]
