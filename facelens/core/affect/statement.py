"""What FaceLens's valence/arousal has and has not been validated against (one text for GUI, report, cards).

The figures come from the validity harness (``benchmarks/validity.py``; docs/validity.md gives the
commands). Update this text together with docs/validity.md when the harness figures change. It
lives in ``affect`` (low in the core's layers) so that the affect stage's model cards, the report
content and the GUI can all import it; ``facelens.core.validation.statement`` re-exports it.
"""
from __future__ import annotations

#: One paragraph for the VA plots, the report and the model cards.
VALIDITY_STATEMENT = (
    "Valence/arousal (VA) from FaceLens's default estimator (G, a temporal regressor over the fitted face "
    "model's expression coefficients and the FER2013 posterior) have been checked only against the labels of "
    "946 synthetic DiffusionFER face images (stills, 5-fold cross-validated: valence CCC 0.86, arousal CCC "
    "0.88, 7-class accuracy 0.72). They have not been validated against ratings of real people, of video, of "
    "patients or self-report. On real clips arousal still partly repeats valence (frame-wise |r| up to 0.95), "
    "and ordinary changes of colour, compression or mirroring move segment means by 0.1-0.2 units "
    "(light, exposure, blur and frame-timing changes by up to 0.09; docs/validity.md). Research use only; not a "
    "diagnosis."
)

#: Short form for a plot caption.
VALIDITY_CAPTION = ("VA checked on synthetic stills only (cross-validated valence CCC 0.86, arousal CCC 0.88); "
                    "not validated on real or clinical video; moves with recording conditions. See docs/validity.md.")
