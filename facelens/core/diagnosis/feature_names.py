"""Plain-language names and units of the subject features (one owner for CLI, GUI and report).

:func:`plain_name` turns a model feature name (``features.FEATURE_NAMES``) into words a clinician
can read, with its unit; :func:`describe_driver` phrases one prediction driver. Unknown names are
returned as they are, so a newer model never crashes an older display.
"""
from __future__ import annotations

import math

_INERTIA = ("how slowly {ax} changes in the {{L}} segments (lag-1 autocorrelation at 10 fps; "
            "the 0.3-s smoothing alone gives about 0.7)")
LABEL_WORDS = {"happy": "happy", "sad": "sad", "neutral": "neutral"}
_PER_LABEL = {
    "v_mean": ("average valence (pleasantness) in the {L} segments", "VA units, -1 to +1"),
    "a_mean": ("average arousal (activation) in the {L} segments", "VA units, -1 to +1"),
    "v_sd": ("how much valence varies in the {L} segments (SD)", "VA units"),
    "a_sd": ("how much arousal varies in the {L} segments (SD)", "VA units"),
    "v_mssd": ("moment-to-moment valence instability in the {L} segments (MSSD per 0.1-s step)",
               "VA units squared"),
    "a_mssd": ("moment-to-moment arousal instability in the {L} segments (MSSD per 0.1-s step)",
               "VA units squared"),
    "v_inertia": (_INERTIA.format(ax="valence"), "-1 to +1"),
    "a_inertia": (_INERTIA.format(ax="arousal"), "-1 to +1"),
    "v_minus_neutral": ("valence in the {L} segments relative to the person's neutral segments", "VA units"),
    "a_minus_neutral": ("arousal in the {L} segments relative to the person's neutral segments", "VA units"),
}
_SPECIAL = {
    "valence_contrast": ("difference in average valence between happy and sad segments", "VA units"),
    "arousal_contrast": ("difference in average arousal between happy and sad segments", "VA units"),
}


#: Expression components of the morphable model by what they move (models/morphable/MODEL_CARD.md;
#: feature ``c1`` is the contact sheet's ``exp 0``).
COMPONENT_WORDS = {"c1": "lip spread/smile", "c2": "jaw/mouth opening", "c3": "lips and chin"}
_COEF = {"mean": "average {C} movement in the {L} segments (morphable component exp {k})",
         "sd": "how much the {C} movement varies in the {L} segments (SD, component exp {k})",
         "mssd": "moment-to-moment change of the {C} movement in the {L} segments (MSSD per step, exp {k})"}
_COEF_UNIT = {"mean": "cm", "sd": "cm", "mssd": "cm squared"}


def _coef_name(rest: str, label: str) -> tuple[str, str] | None:
    comp, _, stat = rest.partition("_")
    if comp not in COMPONENT_WORDS or stat not in _COEF:
        return None
    return _COEF[stat].format(C=COMPONENT_WORDS[comp], L=label, k=int(comp[1:]) - 1), _COEF_UNIT[stat]


def plain_name(feature: str) -> tuple[str, str]:
    """``(words, unit)`` for a model feature name."""
    if feature in _SPECIAL:
        return _SPECIAL[feature]
    if feature.startswith("has_"):
        lab = feature[4:]
        return (f"whether the {LABEL_WORDS.get(lab, lab)} segments had enough usable time", "1 yes, 0 no")
    for lab, word in LABEL_WORDS.items():
        if feature.startswith(lab + "_"):
            rest = feature[len(lab) + 1:]
            if rest in _PER_LABEL:
                words, unit = _PER_LABEL[rest]
                return words.format(L=word), unit
            coef = _coef_name(rest, word)
            if coef is not None:
                return coef
    return feature, ""


def describe_driver(feature: str, value: float, contribution: float, imputed: bool) -> str:
    """One line: what the feature is, its value with unit, and which way it pushed the prediction."""
    words, unit = plain_name(feature)
    direction = "towards BD" if contribution > 0 else "towards MDD"
    measured = not imputed and math.isfinite(value)
    shown = f"{value:.3g}" if measured else "not measured (training average used)"
    unit_txt = f" {unit}" if unit and measured else ""
    return f"{words}: {shown}{unit_txt}; pushed {direction} ({contribution:+.2f} log-odds)"
