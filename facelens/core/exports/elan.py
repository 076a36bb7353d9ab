"""Segments to and from ELAN annotation files (``.eaf``, EAF format 3.0).

Written files: the segments' labels are time-aligned annotations on the root tier ``FaceLens``
(segments that overlap go to ``FaceLens 2``, ``FaceLens 3``, ... since ELAN forbids overlaps
on one tier); the scenario, note, author and FaceLens id of each segment are symbolic
associations on the child tiers ``FaceLens | scenario`` etc. (only those that hold any value),
so a round trip through FaceLens and ELAN loses nothing. Times are whole milliseconds, ELAN's
unit, so a round trip keeps them to the millisecond.

Reading an EAF made elsewhere: the FaceLens tiers if present, else the root tiers with
time-aligned annotations (``tier`` chooses some; with several, each annotation's tier name goes
into the segment's note). The label is the annotation's text (the tier name when empty).
Unaligned time slots are placed by linear interpolation between their aligned neighbours.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from facelens.core.exports.common import ExportError, read_text, write_atomic
from facelens.core.annotation.segments import Segment, SegmentError, new_segment_id

ROOT_TIER = "FaceLens"
ATTRIBUTES = ("scenario", "note", "author", "id")
_LABEL_TYPE, _ATTR_TYPE = "facelens-label", "facelens-attribute"
_MIME = {".mp4": "video/mp4", ".mov": "video/quicktime", ".mkv": "video/x-matroska", ".avi": "video/x-msvideo",
         ".wav": "audio/x-wav", ".mpg": "video/mpeg", ".mpeg": "video/mpeg"}


def _ms(t: float) -> int:
    return round(float(t) * 1000.0)


def _tier_rows(segments: Sequence[Segment]) -> list[list[Segment]]:
    """Greedy interval colouring: each tier holds segments that do not overlap (at ms resolution)."""
    tiers: list[list[Segment]] = []
    for s in sorted(segments, key=lambda s: (_ms(s.start_s), _ms(s.end_s))):
        for tier in tiers:
            if _ms(tier[-1].end_s) <= _ms(s.start_s):
                tier.append(s)
                break
        else:
            tiers.append([s])
    return tiers


def eaf_bytes(segments: Iterable[Segment], media: str | os.PathLike[str] | None = None,
              author: str = "FaceLens") -> bytes:
    """The EAF document of ``segments`` (see the module docstring for its layout)."""
    segs = list(segments)
    for s in segs:
        if _ms(s.end_s) <= _ms(s.start_s):
            raise ExportError(f"segment {s.label!r} at {s.start_s:.4f} s is shorter than 1 ms (ELAN cannot hold it)")
    xsi = "http://www.w3.org/2001/XMLSchema-instance"
    ET.register_namespace("xsi", xsi)
    doc = ET.Element("ANNOTATION_DOCUMENT", {
        "AUTHOR": author, "DATE": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "FORMAT": "3.0", "VERSION": "3.0",
        f"{{{xsi}}}noNamespaceSchemaLocation": "http://www.mpi.nl/tools/elan/EAFv3.0.xsd"})
    header = ET.SubElement(doc, "HEADER", {"MEDIA_FILE": "", "TIME_UNITS": "milliseconds"})
    if media:
        mp = Path(media).resolve()
        ET.SubElement(header, "MEDIA_DESCRIPTOR", {"MEDIA_URL": mp.as_uri(),
                                                   "MIME_TYPE": _MIME.get(mp.suffix.lower(), "unknown"),
                                                   "RELATIVE_MEDIA_URL": f"./{mp.name}"})
    order = ET.SubElement(doc, "TIME_ORDER")
    tiers = _tier_rows(segs)
    n_ann = 0
    slot_no = 0
    tier_elems: list[ET.Element] = []
    for k, rows in enumerate(tiers):
        name = ROOT_TIER if k == 0 else f"{ROOT_TIER} {k + 1}"
        tier = ET.Element("TIER", {"LINGUISTIC_TYPE_REF": _LABEL_TYPE, "TIER_ID": name})
        tier_elems.append(tier)
        attr_tiers = {a: ET.Element("TIER", {"LINGUISTIC_TYPE_REF": _ATTR_TYPE, "PARENT_REF": name,
                                             "TIER_ID": f"{name} | {a}"}) for a in ATTRIBUTES}
        used = dict.fromkeys(ATTRIBUTES, False)
        for s in rows:
            ids = []
            for t in (s.start_s, s.end_s):
                slot_no += 1
                ET.SubElement(order, "TIME_SLOT", {"TIME_SLOT_ID": f"ts{slot_no}", "TIME_VALUE": str(_ms(t))})
                ids.append(f"ts{slot_no}")
            n_ann += 1
            parent_id = f"a{n_ann}"
            ann = ET.SubElement(ET.SubElement(tier, "ANNOTATION"), "ALIGNABLE_ANNOTATION", {
                "ANNOTATION_ID": parent_id, "TIME_SLOT_REF1": ids[0], "TIME_SLOT_REF2": ids[1]})
            ET.SubElement(ann, "ANNOTATION_VALUE").text = s.label
            for a in ATTRIBUTES:
                value = getattr(s, a)
                if not value:
                    continue
                used[a] = True
                n_ann += 1
                ref = ET.SubElement(ET.SubElement(attr_tiers[a], "ANNOTATION"), "REF_ANNOTATION", {
                    "ANNOTATION_ID": f"a{n_ann}", "ANNOTATION_REF": parent_id})
                ET.SubElement(ref, "ANNOTATION_VALUE").text = value
        tier_elems += [attr_tiers[a] for a in ATTRIBUTES if used[a]]
    ET.SubElement(header, "PROPERTY", {"NAME": "lastUsedAnnotationId"}).text = str(n_ann)
    if not tiers:  # an empty document still gets its (empty) label tier
        tier_elems.append(ET.Element("TIER", {"LINGUISTIC_TYPE_REF": _LABEL_TYPE, "TIER_ID": ROOT_TIER}))
    doc.extend(tier_elems)
    ET.SubElement(doc, "LINGUISTIC_TYPE", {"GRAPHIC_REFERENCES": "false", "LINGUISTIC_TYPE_ID": _LABEL_TYPE,
                                           "TIME_ALIGNABLE": "true"})
    ET.SubElement(doc, "LINGUISTIC_TYPE", {"CONSTRAINTS": "Symbolic_Association", "GRAPHIC_REFERENCES": "false",
                                           "LINGUISTIC_TYPE_ID": _ATTR_TYPE, "TIME_ALIGNABLE": "false"})
    ET.SubElement(doc, "CONSTRAINT", {"DESCRIPTION": "1-1 association with a parent annotation",
                                      "STEREOTYPE": "Symbolic_Association"})
    ET.indent(doc)
    return ET.tostring(doc, encoding="UTF-8", xml_declaration=True)


def write_eaf(segments: Iterable[Segment], path: str | os.PathLike[str],
              media: str | os.PathLike[str] | None = None) -> Path:
    """Write ``segments`` as an ELAN file (atomically); ``media`` links the session video."""
    return write_atomic(path, eaf_bytes(segments, media))


# -- reading -------------------------------------------------------------------------------------
def _slot_times(root: ET.Element) -> dict[str, float]:
    slots = root.findall("./TIME_ORDER/TIME_SLOT")
    ids = [s.get("TIME_SLOT_ID", "") for s in slots]
    vals: list[float | None] = []
    for s in slots:
        text = s.get("TIME_VALUE")
        try:
            vals.append(float(text) if text else None)
        except ValueError:
            raise ExportError(f"time slot {s.get('TIME_SLOT_ID')} has a non-numeric TIME_VALUE {text!r}") from None
    known = [i for i, v in enumerate(vals) if v is not None]
    for i, v in enumerate(vals):  # unaligned slots: interpolate between aligned neighbours
        if v is None:
            lo = max((k for k in known if k < i), default=None)
            hi = min((k for k in known if k > i), default=None)
            if lo is None or hi is None:
                continue  # cannot be placed; annotations using it are skipped
            vals[i] = vals[lo] + (vals[hi] - vals[lo]) * (i - lo) / (hi - lo)  # type: ignore[operator]
    return {sid: v / 1000.0 for sid, v in zip(ids, vals) if v is not None}


def read_eaf(path: str | os.PathLike[str], tier: str | Sequence[str] | None = None) -> list[Segment]:
    """Segments from an ELAN file (see the module docstring for which tiers are read).

    Raises
    ------
    ExportError
        Not an EAF, a named tier that does not exist, several candidate tiers and none chosen,
        or an annotation that is not a valid segment.
    """
    p = Path(path)
    text = read_text(p, "ELAN file")
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as exc:
        raise ExportError(f"{p.name} is not valid XML: {exc}") from None
    if root.tag != "ANNOTATION_DOCUMENT":
        raise ExportError(f"{p.name} is not an ELAN .eaf file (root element {root.tag})")
    times = _slot_times(root)
    all_tiers = {t.get("TIER_ID", ""): t for t in root.findall("./TIER")}
    if tier is not None:
        names = [tier] if isinstance(tier, str) else list(tier)
        missing = [n for n in names if n not in all_tiers]
        if missing:
            raise ExportError(f"{p.name}: no tier {missing[0]!r} (tiers: {', '.join(all_tiers)})")
    else:
        names = [n for n, t in all_tiers.items()
                 if n == ROOT_TIER or (n.startswith(ROOT_TIER + " ") and n[len(ROOT_TIER) + 1:].isdigit())]
        if not names:
            names = [n for n, t in all_tiers.items()
                     if not t.get("PARENT_REF") and t.find("./ANNOTATION/ALIGNABLE_ANNOTATION") is not None]
    # attributes: REF_ANNOTATIONs on "<tier> | <attribute>" children, keyed by the parent annotation
    attrs: dict[str, dict[str, str]] = {}
    for name in names:
        for a in ATTRIBUTES:
            child = all_tiers.get(f"{name} | {a}")
            for ref in child.iter("REF_ANNOTATION") if child is not None else []:
                attrs.setdefault(ref.get("ANNOTATION_REF", ""), {})[a] = (ref.findtext("ANNOTATION_VALUE") or "")
    out: list[Segment] = []
    for name in names:
        for ann in all_tiers[name].iter("ALIGNABLE_ANNOTATION"):
            t1, t2 = times.get(ann.get("TIME_SLOT_REF1", "")), times.get(ann.get("TIME_SLOT_REF2", ""))
            if t1 is None or t2 is None:
                continue
            label = (ann.findtext("ANNOTATION_VALUE") or "").strip() or name
            extra = attrs.get(ann.get("ANNOTATION_ID", ""), {})
            note = extra.get("note", "")
            if len(names) > 1 and not name.startswith(ROOT_TIER):
                note = f"ELAN tier {name}" + (f"; {note}" if note else "")
            try:
                out.append(Segment(start_s=t1, end_s=t2, label=label, scenario=extra.get("scenario", ""),
                                   note=note, author=extra.get("author", ""),
                                   id=extra.get("id") or new_segment_id()))
            except SegmentError as exc:
                raise ExportError(f"{p.name}, tier {name}, annotation {ann.get('ANNOTATION_ID')}: {exc}") from None
    return sorted(out, key=lambda s: (s.start_s, s.end_s))
