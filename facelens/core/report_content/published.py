"""Published group values printed next to a patient's numbers, for orientation only.

The figures live in :mod:`facelens.core.common.published`. Source: the seed paper itself, AsmV2L (2026), BD versus MDD, 130 BD / 132 MDD patients, its group
valence/arousal statistics (group mean ± SD of frame-level estimates per elicitation condition, happy
and sad). For the neutral condition the paper reports no significant difference and gives no numbers
("both slightly negative, BD more negative"), so the report prints none.
"""
from __future__ import annotations

from facelens.core.common import published
from facelens.core.report_content.sections import PublishedGroup

CITATION = published.CITATION
NEUTRAL_NOTE = "no numbers published (no significant group difference; both slightly negative, BD more negative)"
ORIENTATION_NOTE = ("Group values are printed for orientation only: they come from another cohort, "
                    "recording protocol and estimator, and a single session is not comparable to a group mean.")

#: label -> (BD, MDD)
GROUP_VALUES: dict[str, tuple[PublishedGroup, PublishedGroup]] = {
    label: (PublishedGroup(*groups["BD"]), PublishedGroup(*groups["MDD"]))
    for label, groups in published.GROUP_VA.items()
}

#: Plain-language meaning of the dynamics indices, with the papers that define them (docs/dynamics.md).
EXPLANATIONS: dict[str, tuple[str, str]] = {
    "mean": ("Average level over the valid frames.", ""),
    "sd": ("Variability: how widely the values spread around the average.", "Houben et al. 2015"),
    "mssd": (("Instability: mean squared change from one frame to the next; large when the expression "
             "changes abruptly."), "Jahng, Wood & Trull 2008"),
    "pac": ("Probability of acute change: share of frame-to-frame changes larger than {pac:g}.",
            "Jahng, Wood & Trull 2008"),
    "inertia": (("Inertia: how much each value carries over to the next frame (lag-1 autocorrelation); "
                "higher means slower to change, reported higher in depression."), "Kuppens, Allen & Sheeber 2010"),
    "range": ("Range: highest minus lowest value.", ""),
}
