"""What FaceLens's valence/arousal has and has not been validated against (one text for GUI, report, cards).

The figures come from the validity harness (``benchmarks/validity.py``; docs/validity.md gives the
commands). Update this text together with docs/validity.md when the harness figures change.
"""
from __future__ import annotations

#: One paragraph for the VA plots, the report and the model cards.
VALIDITY_STATEMENT = (
    "Valence/arousal (VA) from FaceLens's default estimator have been checked against the valence and "
    "arousal labels of 946 synthetic DiffusionFER faces only (stills: valence CCC 0.80, arousal CCC 0.23, "
    "7-class accuracy 0.56). They have not been validated against ratings of real people, of video, of "
    "patients, or against self-report. Arousal carries little information of its own (it tracks valence "
    "on the real clips), and the values move with lighting and camera conditions (see docs/validity.md). "
    "Research use only; not a diagnosis."
)

#: Short form for a plot caption.
VALIDITY_CAPTION = ("VA not validated on real or clinical video; synthetic-face check only "
                    "(valence CCC 0.80, arousal CCC 0.23). See docs/validity.md.")
