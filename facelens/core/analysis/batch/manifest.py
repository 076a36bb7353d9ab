"""The batch manifest: which session videos a cohort run analyses.

A manifest is a CSV with a ``video`` column (paths relative to the manifest) and the optional
columns ``subject_id``, ``diagnosis``, ``segments`` (a segments CSV, relative to the manifest)
and ``session_id``. Sessions are named by ``session_id`` when given, else by the video's file
stem; repeated stems get ``_2``, ``_3``, ... in manifest order, so the same manifest always
gives the same names and a re-run finds its earlier results. A video listed twice, a repeated
``session_id`` or a repeated column is refused (it would count a session twice in the cohort).
"""
from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

from facelens.core.common.paths import user_path

OPTIONAL_COLUMNS = ("subject_id", "diagnosis", "segments", "session_id")


class ManifestError(ValueError):
    """A manifest that cannot be used at all (one-line message)."""


@dataclass(frozen=True)
class BatchEntry:
    """One session of a batch, with paths already resolved against the manifest's folder."""

    session_id: str
    video: Path
    subject_id: str = ""
    diagnosis: str = ""
    segments: Path | None = None
    line: int = 0  # line in the manifest (for messages)


def _safe_name(text: str) -> str:
    """A file-system-safe session name (letters, digits, ``-``, ``_``, ``.``)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text.strip()).strip("._")
    return name or "session"


def read_batch_manifest(path: str | os.PathLike[str]) -> list[BatchEntry]:
    """Parse a batch manifest.

    Only problems that make the whole manifest unusable raise (no file, no ``video`` column,
    no rows, an empty ``video`` cell). A video or segments file that is missing or broken is
    *not* checked here: it becomes that session's failure, so the other sessions still run.

    Raises
    ------
    ManifestError
        With a one-line reason.
    """
    p = Path(path)
    if not p.is_file():
        raise ManifestError(f"manifest not found: {p}")
    try:
        text = p.read_text(encoding="utf-8-sig")
        rows = list(csv.DictReader(text.splitlines()))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ManifestError(f"cannot read manifest {p.name}: {exc}") from None
    header = [h.strip() for h in (csv.DictReader(text.splitlines()).fieldnames or [])]
    twice = sorted({h for h in header if h and header.count(h) > 1})
    if twice:
        raise ManifestError(f"{p.name}: column {twice[0]!r} appears twice in the header")
    if "video" not in header:
        raise ManifestError(f"{p.name}: needs a 'video' column (optional: {', '.join(OPTIONAL_COLUMNS)})")
    if not rows:
        raise ManifestError(f"{p.name}: no sessions listed")
    base = p.resolve().parent
    used: dict[str, int] = {}
    given: dict[str, int] = {}  # explicit session_id -> line
    videos: dict[Path, int] = {}  # video -> line: a session listed twice would count twice in the cohort
    entries: list[BatchEntry] = []
    for line, raw in enumerate(rows, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not row.get("video"):
            raise ManifestError(f"{p.name} line {line}: empty 'video' cell")
        video = user_path(row["video"])
        video = video if video.is_absolute() else base / video
        seg = row.get("segments", "")
        seg_path = None
        if seg:
            seg_path = user_path(seg)
            seg_path = seg_path if seg_path.is_absolute() else base / seg_path
        if video in videos:
            raise ManifestError(f"{p.name} line {line}: video {row['video']} is already listed on line "
                                f"{videos[video]} (each session once)")
        videos[video] = line
        sid = row.get("session_id", "")
        if sid and sid in given:
            raise ManifestError(f"{p.name} line {line}: session_id {sid!r} is already used on line {given[sid]}")
        if sid:
            given[sid] = line
        name = _safe_name(sid or video.stem)
        used[name] = used.get(name, 0) + 1
        if used[name] > 1:
            name = f"{name}_{used[name]}"
        entries.append(BatchEntry(session_id=name, video=video, subject_id=row.get("subject_id", ""),
                                  diagnosis=row.get("diagnosis", ""), segments=seg_path, line=line))
    return entries
