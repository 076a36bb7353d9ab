"""The seed paper's published figures: the one place FaceLens keeps them (report, simulation, evaluation).

Source: AsmV2L (2026), "Three-dimensional face reconstruction for emotional dynamics": BD versus MDD,
130 BD / 132 MDD patients, subject-level 5-fold cross-validation; valence/arousal regressed from
expression coefficients; AffectNet evaluation of the valence/arousal/expression estimator.
"""
from __future__ import annotations

CITATION = ("AsmV2L (2026), bipolar disorder vs major depressive disorder from facial affect; "
            "130 BD / 132 MDD patients; group mean ± SD of frame-level valence/arousal estimates.")

#: label -> group -> (valence mean, valence SD, arousal mean, arousal SD) of frame-level estimates.
#: The paper gives no numbers for the neutral condition (no significant difference; both slightly
#: negative, BD more negative).
GROUP_VA: dict[str, dict[str, tuple[float, float, float, float]]] = {
    "happy": {"BD": (0.411, 0.089, 0.423, 0.092), "MDD": (0.316, 0.096, 0.322, 0.098)},
    "sad": {"BD": (-0.326, 0.067, -0.313, 0.066), "MDD": (-0.253, 0.076, -0.217, 0.071)},
}

#: BD vs MDD, subject-level 5-fold CV (mean ± SD over folds).
BD_MDD_ACCURACY = (0.889, 0.016)
BD_MDD_AUC = (0.940, 0.014)

#: AffectNet figures of the paper's estimator.
AFFECTNET = {"V-CCC": 0.79, "A-CCC": 0.71, "V-RMSE": 0.30, "A-RMSE": 0.29, "E-ACC": 0.70, "E-ACC-8": 0.7125}


def affectnet_line() -> str:
    """One line for printing beside FaceLens's own figures."""
    a = AFFECTNET
    return (f"V-CCC {a['V-CCC']:.2f}, A-CCC {a['A-CCC']:.2f}, V-RMSE {a['V-RMSE']:.2f}, A-RMSE {a['A-RMSE']:.2f}, "
            f"E-ACC {a['E-ACC']:.2f} (8-class {a['E-ACC-8']:.4f})")
