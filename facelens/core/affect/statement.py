"""What FaceLens's valence/arousal has and has not been validated against (one text for GUI, report, cards).

The figures come from the validity harness (``benchmarks/validity.py``; docs/validity.md gives the
commands). Update this text together with docs/validity.md when the harness figures change. It
lives in ``affect`` (low in the core's layers) so that the affect stage's model cards, the report
content and the GUI can all import it; ``facelens.core.validation.statement`` re-exports it.
"""
from __future__ import annotations

#: One paragraph for the VA plots, the report and the model cards.
VALIDITY_STATEMENT = (
    "Valence/arousal (VA) from FaceLens's default estimator have been checked only against the labels of 946 "
    "synthetic DiffusionFER face images (stills: valence CCC 0.80, arousal CCC 0.23, 7-class accuracy 0.56). "
    "They have not been validated against ratings of real people, of video, of patients or self-report. On "
    "real clips arousal largely repeats valence (frame-wise |r| up to 0.96 on the clip with sad and happy "
    "parts), and ordinary changes of lighting, colour, blur, compression or mirroring move segment means by "
    "0.2-0.5 units (docs/validity.md). Research use only; not a diagnosis."
)

#: Short form for a plot caption.
VALIDITY_CAPTION = ("VA checked on synthetic stills only (valence CCC 0.80, arousal CCC 0.23); not validated on "
                    "real or clinical video; moves with recording conditions. See docs/validity.md.")
