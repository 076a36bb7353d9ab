"""The valence/arousal/emotion estimators an analysis can use, and the default (one owner, no heavy imports).

``g``: the temporal regressor G over the morphable model's expression coefficients and the FER2013
posterior (:mod:`facelens.core.affect.g_session`); ``circumplex``: the FER2013 posterior fused with
the geometric measures, on word-norm circumplex coordinates (:mod:`facelens.core.affect.va`). The
default was chosen by the validity harness (docs/validity.md, "Which estimator is the default").
"""
from __future__ import annotations

ESTIMATORS = ("circumplex", "g")
DEFAULT_ESTIMATOR = "g"
