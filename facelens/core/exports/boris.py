"""Segments to and from BORIS-compatible CSV (BORIS: Friard & Gamba 2016, www.boris.unito.it).

Written files follow BORIS's *aggregated events* table: one row per state event with the
columns ``Observation id, Observation date, Description, Observation type, Source,
Media duration (s), FPS, Subject, Behavior, Behavioral category, Behavior type, Start (s),
Stop (s), Duration (s), Media file name, Comment start, Comment stop``. FaceLens puts the
label in ``Behavior``, the scenario in ``Behavioral category``, the note in ``Comment start``
and the author and FaceLens id in ``Comment stop`` as ``author=...; id=...`` (``Subject`` is left
for the person observed, as BORIS means it).

Reading accepts BORIS's aggregated export (``Start (s)``/``Stop (s)``; CSV or TSV) and its
tabular *events* export (one row per START/STOP with a ``Time`` column; STATE events are paired
per subject and behaviour in time order, POINT events have no duration and are skipped).
"""
from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path

from facelens.core.exports.common import ExportError, read_text, write_atomic
from facelens.core.annotation.segments import Segment, SegmentError, new_segment_id

AGGREGATED_COLUMNS = ("Observation id", "Observation date", "Description", "Observation type", "Source",
                      "Media duration (s)", "FPS", "Subject", "Behavior", "Behavioral category",
                      "Behavior type", "Start (s)", "Stop (s)", "Duration (s)", "Media file name",
                      "Comment start", "Comment stop")


def boris_csv_text(segments: Iterable[Segment], observation_id: str = "facelens", media: str = "",
                   media_duration_s: float | None = None, fps: float | None = None, subject: str = "") -> str:
    """The aggregated-events CSV of ``segments`` (times with 3 decimals: milliseconds)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(AGGREGATED_COLUMNS)
    dur = "" if media_duration_s is None else f"{media_duration_s:.3f}"
    rate = "" if fps is None else f"{fps:.3f}"
    for s in sorted(segments, key=lambda s: (s.start_s, s.end_s)):
        stop_comment = "; ".join(f"{k}={v}" for k, v in (("author", s.author), ("id", s.id)) if v)
        start, stop = round(s.start_s, 3), round(s.end_s, 3)
        w.writerow([observation_id, "", "", "Media file", media, dur, rate, subject, s.label, s.scenario,
                    "STATE", f"{start:.3f}", f"{stop:.3f}", f"{stop - start:.3f}", Path(media).name if media else "",
                    s.note, stop_comment])
    return buf.getvalue()


def write_boris_csv(segments: Iterable[Segment], path: str | os.PathLike[str], **kw: object) -> Path:
    """Write :func:`boris_csv_text` atomically; keyword arguments go to it."""
    return write_atomic(path, boris_csv_text(segments, **kw).encode("utf-8"))  # type: ignore[arg-type]


def _parse_stop_comment(text: str) -> dict[str, str]:
    out = {}
    for part in text.split(";"):
        k, sep, v = part.strip().partition("=")
        if sep and k.strip() in ("author", "id"):
            out[k.strip()] = v.strip()
    return out


def _float(row: dict[str, str], col: str, where: str) -> float:
    try:
        return float(row[col])
    except (KeyError, ValueError):
        raise ExportError(f"{where}: {col!r} must be a number, not {row.get(col)!r}") from None


def _segment(start: float, stop: float, row: dict[str, str], where: str, comment_stop: str = "") -> Segment:
    meta = _parse_stop_comment(comment_stop)
    label = row.get("Behavior", "").strip()
    try:
        return Segment(start_s=start, end_s=stop, label=label, scenario=row.get("Behavioral category", ""),
                       note=row.get("Comment start", row.get("Comment", "")), author=meta.get("author", ""),
                       id=meta.get("id") or new_segment_id())
    except SegmentError as exc:
        raise ExportError(f"{where}: {exc}") from None


def read_boris_csv(path: str | os.PathLike[str]) -> list[Segment]:
    """Segments from a BORIS aggregated-events or tabular-events CSV/TSV export."""
    p = Path(path)
    text = read_text(p, "BORIS file")
    first = text.splitlines()[0] if text.strip() else ""
    delim = "\t" if first.count("\t") > first.count(",") else ","
    rows = [{(k or "").strip(): (v if isinstance(v, str) else "").strip() for k, v in r.items() if k is not None}
            for r in csv.DictReader(io.StringIO(text), delimiter=delim)]  # cells beyond the header: dropped
    cols = set(rows[0]) if rows else {c.strip() for c in first.split(delim)}
    if "Behavior" not in cols:
        raise ExportError(f"{p.name}: not a BORIS export (no 'Behavior' column)")
    out: list[Segment] = []
    if {"Start (s)", "Stop (s)"} <= cols:
        for line, r in enumerate(rows, start=2):
            if r.get("Behavior type", "STATE").upper() == "POINT":
                continue
            where = f"{p.name} line {line}"
            out.append(_segment(_float(r, "Start (s)", where), _float(r, "Stop (s)", where), r, where,
                                r.get("Comment stop", "")))
    elif "Time" in cols:
        status_col = "Behavior type" if "Behavior type" in cols else "Status"
        open_events: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}
        for line, r in enumerate(rows, start=2):
            where = f"{p.name} line {line}"
            status = r.get(status_col, "").upper()
            key = (r.get("Subject", ""), r.get("Behavior", ""))
            if status == "START":
                open_events[key] = (_float(r, "Time", where), r)
            elif status == "STOP":
                if key not in open_events:
                    raise ExportError(f"{where}: STOP of {key[1]!r} without a START")
                start, start_row = open_events.pop(key)
                out.append(_segment(start, _float(r, "Time", where), start_row, where, r.get("Comment", "")))
        if open_events:
            (_, behavior), _ = next(iter(open_events.items()))
            raise ExportError(f"{p.name}: {behavior!r} was started but never stopped")
    else:
        raise ExportError(f"{p.name}: need 'Start (s)' and 'Stop (s)' columns (aggregated events) "
                          "or 'Time' (tabular events)")
    return sorted(out, key=lambda s: (s.start_s, s.end_s))
