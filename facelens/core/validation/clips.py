"""The real recordings the harness uses, with the labelled spans from their MANIFEST descriptions.

Spans are loose visual descriptions of the clips (``../shared/media/MANIFEST.tsv`` and
``corpus/MANIFEST.tsv``), not ratings; they serve the segment-order and subject-feature checks and
name the segments in the report. Every clip is also cut into consecutive 2-s windows, so that
"segment means" exist for clips without labels.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

WINDOW_S = 2.0


@dataclass(frozen=True)
class ClipSpec:
    """A recording (path relative to the media folder) and its labelled spans (start, end, label)."""

    rel: str
    spans: tuple[tuple[float, float, str], ...] = field(default=())

    @property
    def name(self) -> str:
        return Path(self.rel).stem


VIDEOS = (
    ClipSpec("videos/pyfeat_single_face.mp4", ((0.0, 0.6, "neutral"), (0.9, 2.43, "happy"))),
    ClipSpec("videos/pyfeat_WolfgangLanger_Pexels.mp4", ((0.0, 9.0, "sad"), (10.0, 19.69, "happy"))),
    ClipSpec("videos/liveportrait_d3.mp4", ((4.0, 5.0, "angry"), (6.0, 9.0, "neutral"), (10.0, 11.8, "surprise"))),
    ClipSpec("videos/pyfeat_noface_face.mov"),
)
CORPUS = (
    ClipSpec("corpus/LivePortrait_d0.mp4", ((0.0, 0.5, "neutral"), (1.2, 2.0, "happy"))),
    ClipSpec("corpus/LivePortrait_d19.mp4", ((0.7, 3.5, "neutral"), (6.3, 7.7, "happy"))),
    ClipSpec("corpus/styletalk_sadfather_clip1.mp4", ((0.6, 2.9, "sad"), (5.2, 6.4, "sad"))),
    ClipSpec("corpus/SadTalker_WDA_KatieHill_000.mp4", ((0.7, 2.0, "happy"), (6.0, 7.4, "happy"))),
    ClipSpec("corpus/styletalk_furious_talk1_clip2.mp4", ((0.0, 12.0, "angry"),)),
    ClipSpec("corpus/LivePortrait_d18.mp4", ((1.6, 2.2, "neutral"), (5.4, 6.6, "neutral"))),
    ClipSpec("corpus/EDTalk_expression_source.mp4"),
    ClipSpec("corpus/EDTalk_mouth_source.mp4"),
    ClipSpec("corpus/EDTalk_uncrop_Obama.mp4"),
    ClipSpec("corpus/LivePortrait_d6.mp4"),
    ClipSpec("corpus/LivePortrait_d9.mp4"),
    ClipSpec("corpus/LivePortrait_d10.mp4"),
    ClipSpec("corpus/LivePortrait_d11.mp4"),
    ClipSpec("corpus/LivePortrait_d12.mp4"),
    ClipSpec("corpus/LivePortrait_d14.mp4"),
    ClipSpec("corpus/LivePortrait_d20.mp4"),
    ClipSpec("corpus/LivePortrait_s29.mp4"),
    ClipSpec("corpus/LivePortrait_s32.mp4"),
    ClipSpec("corpus/open_dbm_subj02_timepoint01.mp4"),
    ClipSpec("corpus/video-retalking_5.mp4"),
    ClipSpec("corpus/styletalk_nice_clip1.mp4"),
    ClipSpec("corpus/styletalk_reagan_clip1.mp4"),
    ClipSpec("corpus/styletalk_surprisegirl_clip2.mp4"),
    ClipSpec("corpus/TPSMM_driving.mp4"),
    ClipSpec("corpus/face_recognition_short_hamilton_clip.mp4"),
    ClipSpec("corpus/EDTalk_pose_source2.mp4"),
)
ALL = VIDEOS + CORPUS
#: The fast subset (``facelens validate`` / ``make test``): two short clips with labelled spans.
FAST = (VIDEOS[0], CORPUS[0])


def windows(duration_s: float, width: float = WINDOW_S) -> list[tuple[float, float]]:
    """Consecutive ``width``-second windows covering ``[0, duration_s)`` (the last may be shorter, >= 1 s)."""
    out, t = [], 0.0
    while t + 1.0 <= duration_s:
        out.append((t, min(t + width, duration_s)))
        t += width
    return out


def available(media: Path, specs: tuple[ClipSpec, ...] = ALL) -> list[ClipSpec]:
    """The specs whose file exists under ``media``."""
    return [s for s in specs if (media / s.rel).is_file()]
