"""Exports: pose-free mesh OBJ/PLY, segments to/from ELAN (.eaf) and BORIS CSV, and their commands."""
from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from facelens.core.exports import (
    ExportError,
    export_mesh,
    export_mesh_range,
    read_boris_csv,
    read_eaf,
    write_boris_csv,
    write_eaf,
)
from facelens.core.annotation.segments import Segment, read_segments_csv, write_segments_csv

SEGMENTS = [
    Segment(0.0, 15.0, "happy", scenario="elicitation video", note='laughs & says "no" <quietly>', author="RA-1"),
    Segment(14.9994, 30.0006, "sad", scenario="elicitation video"),  # overlaps the first one by 0.6 ms
    Segment(31.2345, 47.0, "neutral", note="ünïcode ✓", author="RA-2"),
    Segment(47.0, 61.001, "Überraschung (surprise)"),
]


def _same(a: list[Segment], b: list[Segment]) -> None:
    assert len(a) == len(b)
    for x, y in zip(sorted(a, key=lambda s: s.id), sorted(b, key=lambda s: s.id)):
        assert abs(x.start_s - y.start_s) <= 0.0005 and abs(x.end_s - y.end_s) <= 0.0005  # to the millisecond
        assert (x.label, x.scenario, x.note, x.author, x.id) == (y.label, y.scenario, y.note, y.author, y.id)


# -- ELAN ------------------------------------------------------------------------------------------
def test_elan_round_trip_keeps_times_to_the_ms_and_labels(tmp_path):
    path = write_eaf(SEGMENTS, tmp_path / "s.eaf", media=tmp_path / "session.mp4")
    _same(SEGMENTS, read_eaf(path))
    root = ET.parse(path).getroot()
    # EAF 3.0 element order, whole-millisecond slots, no overlap within a tier
    assert [c.tag for c in root][:2] == ["HEADER", "TIME_ORDER"] and root.get("FORMAT") == "3.0"
    assert root.find("HEADER").get("TIME_UNITS") == "milliseconds"
    assert root.find("HEADER/MEDIA_DESCRIPTOR").get("MIME_TYPE") == "video/mp4"
    slots = {s.get("TIME_SLOT_ID"): int(s.get("TIME_VALUE")) for s in root.iter("TIME_SLOT")}
    tiers = {t.get("TIER_ID"): t for t in root.findall("TIER")}
    assert {"FaceLens", "FaceLens 2", "FaceLens | note", "FaceLens | id"} <= set(tiers)
    for name in ("FaceLens", "FaceLens 2"):
        spans = sorted((slots[a.get("TIME_SLOT_REF1")], slots[a.get("TIME_SLOT_REF2")])
                       for a in tiers[name].iter("ALIGNABLE_ANNOTATION"))
        assert all(e1 <= s2 for (_, e1), (s2, _) in itertools.pairwise(spans))
    assert slots[next(iter(tiers["FaceLens 2"].iter("ALIGNABLE_ANNOTATION"))).get("TIME_SLOT_REF1")] == 14999
    tags = [c.tag for c in root]
    assert tags.index("LINGUISTIC_TYPE") > max(i for i, t in enumerate(tags) if t == "TIER")


FOREIGN_EAF = """<?xml version="1.0" encoding="UTF-8"?>
<ANNOTATION_DOCUMENT AUTHOR="" DATE="2024-01-01T00:00:00+01:00" FORMAT="3.0" VERSION="3.0">
  <HEADER MEDIA_FILE="" TIME_UNITS="milliseconds"/>
  <TIME_ORDER>
    <TIME_SLOT TIME_SLOT_ID="ts1" TIME_VALUE="1200"/>
    <TIME_SLOT TIME_SLOT_ID="ts2"/>
    <TIME_SLOT TIME_SLOT_ID="ts3" TIME_VALUE="5200"/>
    <TIME_SLOT TIME_SLOT_ID="ts4" TIME_VALUE="6000"/>
    <TIME_SLOT TIME_SLOT_ID="ts5" TIME_VALUE="9500"/>
  </TIME_ORDER>
  <TIER LINGUISTIC_TYPE_REF="default-lt" TIER_ID="Emotion">
    <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a1" TIME_SLOT_REF1="ts1" TIME_SLOT_REF2="ts2">
      <ANNOTATION_VALUE>sad</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION>
    <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a2" TIME_SLOT_REF1="ts2" TIME_SLOT_REF2="ts3">
      <ANNOTATION_VALUE>happy</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION>
  </TIER>
  <TIER LINGUISTIC_TYPE_REF="default-lt" TIER_ID="Speech">
    <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a3" TIME_SLOT_REF1="ts4" TIME_SLOT_REF2="ts5">
      <ANNOTATION_VALUE></ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION>
  </TIER>
  <TIER LINGUISTIC_TYPE_REF="sym" PARENT_REF="Emotion" TIER_ID="Emotion-gloss">
    <ANNOTATION><REF_ANNOTATION ANNOTATION_ID="a4" ANNOTATION_REF="a1">
      <ANNOTATION_VALUE>x</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION>
  </TIER>
  <LINGUISTIC_TYPE GRAPHIC_REFERENCES="false" LINGUISTIC_TYPE_ID="default-lt" TIME_ALIGNABLE="true"/>
</ANNOTATION_DOCUMENT>
"""


def test_elan_import_of_a_file_made_in_elan(tmp_path):
    p = tmp_path / "elan.eaf"
    p.write_text(FOREIGN_EAF)
    emo = read_eaf(p, tier="Emotion")
    # the unaligned slot ts2 lies halfway between 1.2 s and 5.2 s
    assert [(s.start_s, s.end_s, s.label) for s in emo] == [(1.2, 3.2, "sad"), (3.2, 5.2, "happy")]
    both = read_eaf(p)  # every root tier; the tier goes into the note
    assert [(s.label, s.note) for s in both] == [("sad", "ELAN tier Emotion"), ("happy", "ELAN tier Emotion"),
                                                 ("Speech", "ELAN tier Speech")]  # empty value -> tier name
    with pytest.raises(ExportError, match="no tier 'Gesture'"):
        read_eaf(p, tier="Gesture")
    (tmp_path / "bad.eaf").write_text("<ANNOTATION_DOCUMENT><TIME_ORDER>")
    with pytest.raises(ExportError, match="not valid XML"):
        read_eaf(tmp_path / "bad.eaf")
    (tmp_path / "other.eaf").write_text("<html/>")
    with pytest.raises(ExportError, match="not an ELAN"):
        read_eaf(tmp_path / "other.eaf")


# -- BORIS -----------------------------------------------------------------------------------------
def test_boris_round_trip(tmp_path):
    path = write_boris_csv(SEGMENTS, tmp_path / "events.csv", media="session.mp4", fps=10.0)
    _same(SEGMENTS, read_boris_csv(path))
    header = path.read_text().splitlines()[0].split(",")
    assert {"Behavior", "Behavior type", "Start (s)", "Stop (s)", "Duration (s)", "Subject"} <= set(header)


def test_boris_exports_from_boris(tmp_path):
    agg = tmp_path / "aggregated.tsv"
    agg.write_text("Observation id\tSubject\tBehavior\tBehavioral category\tBehavior type\tStart (s)\tStop (s)\t"
                   "Duration (s)\tComment start\tComment stop\n"
                   "obs1\tpatient\tsmile\tface\tSTATE\t1.500\t4.250\t2.750\tbroad\t\n"
                   "obs1\tpatient\tnod\thead\tPOINT\t5.000\t5.000\t0\t\t\n")
    segs = read_boris_csv(agg)
    assert [(s.start_s, s.end_s, s.label, s.scenario, s.note) for s in segs] == [(1.5, 4.25, "smile", "face", "broad")]
    events = tmp_path / "events.csv"
    events.write_text("Observation id,Subject,Behavior,Behavioral category,Comment,Behavior type,Time\n"
                      "obs1,patient,cry,,tears,START,2.0\n"
                      "obs1,patient,nod,,,POINT,2.5\n"
                      "obs1,therapist,cry,,,START,3.0\n"
                      "obs1,patient,cry,,,STOP,4.125\n"
                      "obs1,therapist,cry,,,STOP,6.0\n")
    segs = read_boris_csv(events)
    assert [(s.start_s, s.end_s, s.label, s.note) for s in segs] == [(2.0, 4.125, "cry", "tears"), (3.0, 6.0, "cry", "")]
    bad = tmp_path / "bad.csv"
    bad.write_text("Subject,Behavior,Behavior type,Time\np,cry,STOP,1.0\n")
    with pytest.raises(ExportError, match="without a START"):
        read_boris_csv(bad)
    (tmp_path / "none.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ExportError, match="not a BORIS export"):
        read_boris_csv(tmp_path / "none.csv")


# -- mesh ------------------------------------------------------------------------------------------
def test_posefree_mesh_obj_and_ply(analysed, tmp_path):
    import trimesh

    from facelens.core.results import SessionResults
    from facelens.core.face.topology import triangles

    with SessionResults.open(analysed("videos/pyfeat_single_face.mp4")) as r:
        i = int(np.flatnonzero(r.usable)[len(np.flatnonzero(r.usable)) // 2])
        expected = r.posefree_mesh(i)
        for fmt in ("obj", "ply"):
            path = export_mesh(r, i, tmp_path / f"face.{fmt}")
            # maintain_order: trimesh's OBJ reader would otherwise drop the 10 unreferenced iris points
            mesh = trimesh.load(path, process=False, force="mesh", maintain_order=True)
            assert mesh.vertices.shape == (478, 3) and mesh.faces.shape == (852, 3)
            np.testing.assert_allclose(mesh.vertices, expected, atol=1e-5)  # vertex k = landmark k
            np.testing.assert_array_equal(mesh.faces, triangles())
        written, skipped = export_mesh_range(r, range(0, r.n_frames, 5), tmp_path / "range", fmt="ply")
        assert len(written) + len(skipped) == len(range(0, r.n_frames, 5)) and written
        with pytest.raises(ExportError, match="out of range"):
            export_mesh(r, r.n_frames + 3, tmp_path / "x.obj")
        with pytest.raises(ExportError, match="obj or ply"):
            export_mesh(r, i, tmp_path / "x.stl")


class _NoFace:
    """A session of two frames without a face (the results interface export_mesh uses)."""

    n_frames = 2
    time_s = np.array([0.0, 0.1])

    def posefree_mesh(self, i: int) -> np.ndarray:
        return np.full((478, 3), np.nan)


def test_frames_without_a_face_are_refused_or_skipped(tmp_path):
    with pytest.raises(ExportError, match="no face mesh"):
        export_mesh(_NoFace(), 1, tmp_path / "x.obj")
    assert not (tmp_path / "x.obj").exists()
    assert export_mesh_range(_NoFace(), [0, 1], tmp_path / "r") == ([], [0, 1])


# -- commands --------------------------------------------------------------------------------------
def test_segments_commands_round_trip(tmp_path, capsys):
    from facelens.cli import main

    src = write_segments_csv(SEGMENTS, tmp_path / "segments.csv")
    assert main(["segments", "export", str(src), "-o", str(tmp_path / "s.eaf"), "--media", "v.mp4"]) == 0
    assert main(["segments", "import", str(tmp_path / "s.eaf"), "-o", str(tmp_path / "back.csv")]) == 0
    _same(SEGMENTS, read_segments_csv(tmp_path / "back.csv"))
    assert main(["segments", "export", str(src), "-o", str(tmp_path / "boris.csv")]) == 0
    assert main(["segments", "import", str(tmp_path / "boris.csv"), "-o", str(tmp_path / "b2.csv")]) == 0
    _same(SEGMENTS, read_segments_csv(tmp_path / "b2.csv"))
    assert main(["segments", "import", str(tmp_path / "missing.eaf"), "-o", str(tmp_path / "x.csv")]) == 2
    assert "not found" in capsys.readouterr().err


def test_export_mesh_command(analysed, tmp_path, capsys):
    from facelens.cli import main

    res = str(analysed("videos/pyfeat_single_face.mp4"))
    assert main(["export-mesh", res, "--time", "1.5", "-o", str(tmp_path / "f.obj")]) == 0
    assert (tmp_path / "f.obj").read_text().startswith("# FaceLens pose-free mesh, frame 15")
    assert main(["export-mesh", res, "--range", "0:6", "--step", "2", "-o", str(tmp_path / "m"),
                 "--format", "ply"]) == 0
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        f"pyfeat_single_face_{i:06d}.ply" for i in (0, 2, 4)]
    assert main(["export-mesh", res, "--range", "5:2", "-o", str(tmp_path / "m")]) == 2
    assert main(["export-mesh", str(tmp_path / "none.h5"), "--frame", "0", "-o", str(tmp_path / "n.obj")]) == 2
