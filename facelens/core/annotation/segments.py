"""Annotated segments of a session and their CSV form.

A segments file is a CSV with the columns ``start_s,end_s,label`` and optionally
``scenario,note,author`` (and ``id``). The GUI imports and exports the same format.
"""
from __future__ import annotations

import csv
import io
import math
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

DEFAULT_LABELS = ("happy", "sad", "neutral")
SCENARIOS = ("elicitation video", "conversation", "other")
CSV_COLUMNS = ("start_s", "end_s", "label", "scenario", "note", "author", "id")


class SegmentError(ValueError):
    """A segment or segments file that cannot be used (message is one line)."""


def new_segment_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class Segment:
    """A labelled time span of a session, in seconds from the start of the recording."""

    start_s: float
    end_s: float
    label: str
    scenario: str = ""
    note: str = ""
    author: str = ""
    id: str = field(default_factory=new_segment_id)

    def __post_init__(self) -> None:
        if not (self.end_s > self.start_s >= 0.0):
            raise SegmentError(
                f"segment {self.label!r}: end ({self.end_s}) must be after start ({self.start_s}) and start ≥ 0"
            )
        if not self.label.strip():
            raise SegmentError("segment label must not be empty")

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def contains(self, t: float) -> bool:
        return self.start_s <= t < self.end_s

    def moved(self, start_s: float, end_s: float) -> Segment:
        return replace(self, start_s=float(start_s), end_s=float(end_s))

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def read_segments_csv(path: str | Path) -> list[Segment]:
    """Read a segments CSV; raises :class:`SegmentError` with a one-line reason."""
    p = Path(path)
    if not p.is_file():
        raise SegmentError(f"segments file not found: {p}")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SegmentError(f"cannot read segments file {p.name}: {exc}") from None
    return parse_segments_csv(text, source=p.name)


def parse_segments_csv(text: str, source: str = "segments") -> list[Segment]:
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip() for f in (reader.fieldnames or [])]
    missing = [c for c in ("start_s", "end_s", "label") if c not in fields]
    if missing:
        raise SegmentError(f"{source}: missing column(s) {', '.join(missing)} (need start_s,end_s,label)")
    out: list[Segment] = []
    for line_no, row in enumerate(reader, start=2):
        if None in row:  # more cells than the header has columns
            raise SegmentError(f"{source} line {line_no}: more values than columns ({', '.join(fields)})")
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        try:
            start, end = float(row["start_s"]), float(row["end_s"])
        except ValueError:
            raise SegmentError(f"{source} line {line_no}: start_s/end_s must be numbers") from None
        try:
            seg = Segment(
                start_s=start,
                end_s=end,
                label=row["label"],
                scenario=row.get("scenario", ""),
                note=row.get("note", ""),
                author=row.get("author", ""),
                id=row.get("id") or new_segment_id(),
            )
        except SegmentError as exc:
            raise SegmentError(f"{source} line {line_no}: {exc}") from None
        out.append(seg)
    return sorted(out, key=lambda s: (s.start_s, s.end_s))


def segments_to_csv(segments: Iterable[Segment]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for s in sorted(segments, key=lambda s: (s.start_s, s.end_s)):
        w.writerow([f"{s.start_s:.3f}", f"{s.end_s:.3f}", s.label, s.scenario, s.note, s.author, s.id])
    return buf.getvalue()


def write_segments_csv(segments: Iterable[Segment], path: str | Path) -> Path:
    """Write atomically (temporary file + rename)."""
    from facelens.core.common.atomic import atomic_write_text

    return atomic_write_text(path, segments_to_csv(segments))


def check_within_recording(segments: Iterable[Segment], duration_s: float, step_s: float = 0.1) -> None:
    """Refuse segments that end after the recording (a segments file of another session, or a typo).

    Parameters
    ----------
    segments
        Segments to check.
    duration_s
        Duration of the recording in seconds (NaN: unknown, nothing is checked).
    step_s
        Tolerance: one sampling step, since annotators place an end on the last frame's end.

    Raises
    ------
    SegmentError
        Naming the first segment that ends later than ``duration_s + step_s``.
    """
    if math.isnan(duration_s):  # an old results file without a duration
        return
    for s in sorted(segments, key=lambda s: s.start_s):
        if s.end_s > duration_s + step_s + 1e-6:
            raise SegmentError(f"segment {s.label} {s.start_s:g}-{s.end_s:g} s lies beyond the end of the "
                               f"recording ({duration_s:.2f} s); wrong segments file?")
