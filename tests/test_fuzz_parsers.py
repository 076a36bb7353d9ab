"""Fuzzing (hypothesis) of every parser that reads a user's file: segments CSV, ELAN and BORIS
imports, batch manifests, results files and model manifests. Each malformed input must give the
parser's own one-line error (or parse), never another exception, and within the per-example
deadline (no hang).

Profiles: ``ci`` (default, 500 examples per parser, well under a minute on 2 cores) and ``deep``
(5000): ``HYPOTHESIS_PROFILE=deep pytest tests/test_fuzz_parsers.py``.
"""
from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

settings.register_profile("ci", max_examples=500, deadline=timedelta(seconds=5), derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("deep", max_examples=5000, deadline=timedelta(seconds=5),
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

_DIR = Path(tempfile.mkdtemp(prefix="facelens-fuzz-"))

# pieces that make inputs *almost* valid, so the fuzzer gets past the first check
NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-10**6, 10**6).map(str),
                    st.sampled_from(["", " ", "1e309", "-0", "0x10", "1,5", "nan", "--1", "١٢"]))
CELLS = st.one_of(NUMBERS, st.text(max_size=12), st.sampled_from(["happy", "sad", "neutral", "START", "STOP",
                                                                   "POINT", "STATE", "\"", "\"\"", "\n", "\r"]))


def _file(name: str, data: bytes) -> Path:
    p = _DIR / name
    p.write_bytes(data)
    return p


def _one_line(exc: BaseException) -> None:
    msg = str(exc)
    assert msg.strip() and "\n" not in msg.strip() and "Traceback" not in msg, repr(msg)


def _csv(header: list[str], rows: list[list[str]], sep: str = ",") -> str:
    return "\n".join([sep.join(header)] + [sep.join(r) for r in rows]) + "\n"


def csv_text(columns: list[str]) -> st.SearchStrategy[str]:
    header = st.lists(st.sampled_from(columns + ["", "extra", "id"]), min_size=0, max_size=len(columns) + 2)
    rows = st.lists(st.lists(CELLS, min_size=0, max_size=len(columns) + 3), max_size=6)
    structured = st.builds(_csv, header, rows, st.sampled_from([",", "\t", ";"]))
    return st.one_of(structured, st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1")))


def _bytes_of(text_or_bytes: st.SearchStrategy) -> st.SearchStrategy[bytes]:
    return st.one_of(text_or_bytes.map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=400),
                     text_or_bytes.map(lambda t: t.encode("utf-16")))


@given(_bytes_of(csv_text(["start_s", "end_s", "label", "scenario", "note", "author"])))
def test_segments_csv(data):
    from facelens.core.annotation.segments import SegmentError, read_segments_csv

    try:
        read_segments_csv(_file("s.csv", data))
    except SegmentError as exc:
        _one_line(exc)


@given(_bytes_of(csv_text(["Behavior", "Start (s)", "Stop (s)", "Time", "Status", "Behavior type", "Subject",
                           "Comment stop", "Behavioral category"])))
def test_boris_import(data):
    from facelens.core.exports import ExportError, read_boris_csv

    try:
        read_boris_csv(_file("b.csv", data))
    except ExportError as exc:
        _one_line(exc)


def _eaf(slots: list[tuple[str, str]], anns: list[tuple[str, str, str, str]], tier: str) -> str:
    ts = "".join(f'<TIME_SLOT TIME_SLOT_ID="{i}" TIME_VALUE="{v}"/>' for i, v in slots)
    an = "".join(f'<ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a{k}" TIME_SLOT_REF1="{a}" '
                 f'TIME_SLOT_REF2="{b}"><ANNOTATION_VALUE>{v}</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION>'
                 for k, (a, b, v, _) in enumerate(anns))
    return (f'<?xml version="1.0" encoding="UTF-8"?><ANNOTATION_DOCUMENT><HEADER/><TIME_ORDER>{ts}</TIME_ORDER>'
            f'<TIER TIER_ID="{tier}">{an}</TIER></ANNOTATION_DOCUMENT>')


_IDS = st.sampled_from(["ts1", "ts2", "ts3", "", "x"])
_XMLSAFE = st.text(alphabet=st.characters(blacklist_characters='<>&"', blacklist_categories=("Cs",)), max_size=8)
EAF = st.one_of(st.builds(_eaf, st.lists(st.tuples(_IDS, NUMBERS), max_size=4),
                          st.lists(st.tuples(_IDS, _IDS, _XMLSAFE, _XMLSAFE), max_size=4), _XMLSAFE),
                st.text(max_size=300))


@given(_bytes_of(EAF))
def test_elan_import(data):
    from facelens.core.exports import ExportError, read_eaf

    try:
        read_eaf(_file("e.eaf", data))
    except ExportError as exc:
        _one_line(exc)


@given(_bytes_of(csv_text(["video", "subject_id", "diagnosis", "segments", "session_id"])))
def test_batch_manifest(data):
    from facelens.core.analysis.batch import ManifestError, read_batch_manifest

    try:
        read_batch_manifest(_file("m.csv", data))
    except ManifestError as exc:
        _one_line(exc)


def _toml(entries: list[dict[str, str]]) -> str:
    out = []
    for e in entries:
        out.append("[[model]]")
        out += [f"{k} = {v}" for k, v in e.items()]
    return "\n".join(out) + "\n"


_TOML_VALUES = st.one_of(st.text(alphabet="abc019-_. ", max_size=8).map(lambda s: f'"{s}"'), st.integers().map(str),
                         st.sampled_from(["[]", "{}", "true", '{kind = "pypi-wheel"}', '{kind = "installed-package"}',
                                          "1.5", '"', "[1, 2"]))
_CARD_KEYS = ["id", "version", "task", "file", "sha256", "licence", "input", "output", "training_data", "metrics",
              "runtime", "notes", "source", "extra"]
MODEL_TOML = st.one_of(st.builds(_toml, st.lists(st.dictionaries(st.sampled_from(_CARD_KEYS), _TOML_VALUES,
                                                                 max_size=14), max_size=3)),
                       st.text(max_size=200), st.sampled_from(["model = 3", "[model]\nid = 1", "model = [1, 2]"]))


@given(_bytes_of(MODEL_TOML), st.sampled_from(["cards", "get", "status"]))
def test_model_manifest(data, call):
    from facelens.core.registry import ModelError, ModelRegistry

    reg = ModelRegistry(_file("manifest.toml", data))
    try:
        cards = reg.cards()
        if call != "cards" and cards:
            getattr(reg, call)(cards[0].id)
    except ModelError as exc:
        _one_line(exc)


@pytest.fixture(scope="module")
def results_seed() -> Path:
    import numpy as np

    from facelens.core.common.types import N_LANDMARKS
    from facelens.core.results import ResultsWriter

    n = 40
    w = ResultsWriter(_DIR / "seed.h5", {"video_sha256": "ab" * 32, "params": {"fps": 10.0}, "models": []},
                      expression_names=["smile"], emotion_labels=["happy", "sad"])
    w.append({"time_s": np.arange(n) / 10.0, "frame_index": np.arange(n), "quality": np.zeros(n, np.uint8),
              "landmarks": np.ones((n, N_LANDMARKS, 3), np.float32)})
    return w.finish()


@given(st.data())
def test_results_file(results_seed, data):
    from facelens.core.results import ResultsError, SessionResults

    raw = bytearray(results_seed.read_bytes())
    for _ in range(data.draw(st.integers(0, 8))):  # flip bytes anywhere (metadata, chunks, superblock)
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(raw))))
    blob = bytes(raw[:cut] if cut is not None else raw)
    try:
        with SessionResults.open(_file("r.h5", blob)) as r:
            r.landmarks(slice(None))
            r.discard_counts()
            if r.n_frames:
                r.frame_at_time(1.0)
    except ResultsError as exc:
        _one_line(exc)
