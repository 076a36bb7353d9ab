"""Accuracy rules: the labels' own |corr(V, A)| (the yardstick of the target) and no in-sample scoring of G."""
from __future__ import annotations

import numpy as np

from facelens.core.validation.accuracy import Labelled, label_abs_corr_va


def _labelled(classes: list[str], va: list[tuple[float, float]]) -> Labelled:
    n = len(classes)
    return Labelled([str(i) for i in range(n)], classes, np.asarray(va, float), np.full((n, 2), np.nan), [""] * n)


def test_two_classes_on_a_diagonal_correlate_fully() -> None:
    # happy up-right, sad down-left: pooled, V and A move together although each class alone is noise
    rng = np.random.default_rng(0)
    happy = [(0.5 + rng.normal(0, 0.05), 0.3 + rng.normal(0, 0.05)) for _ in range(50)]
    sad = [(-0.3 + rng.normal(0, 0.05), -0.2 + rng.normal(0, 0.05)) for _ in range(50)]
    angry = [(-0.5, 0.6)] * 50
    d = _labelled(["happy"] * 50 + ["sad"] * 50 + ["anger"] * 50, happy + sad + angry)
    both = label_abs_corr_va(d, ("happy", "sad"))
    assert both["n"] == 100 and both["abs_corr"] > 0.9
    alone = label_abs_corr_va(d, ("happy",))
    assert alone["abs_corr"] < 0.4
    # anger sits up-left: adding it breaks the diagonal
    assert label_abs_corr_va(d, ("happy", "sad", "anger"))["abs_corr"] < both["abs_corr"]


def test_too_few_faces_give_nan() -> None:
    d = _labelled(["happy", "sad"], [(0.5, 0.3), (-0.3, -0.2)])
    out = label_abs_corr_va(d, ("happy", "sad"))
    assert out["n"] == 2 and np.isnan(out["abs_corr"])


def test_values_stored_by_g_are_not_scored_in_sample() -> None:
    """G was trained on the DiffusionFER labels: its stored values must not be scored as accuracy."""
    import pytest

    from facelens.core.validation.accuracy import score

    d = _labelled(["happy", "sad", "neutral"], [(0.5, 0.3), (-0.3, -0.2), (0.0, 0.0)])
    d.pred_va = d.true_va.copy()
    d.pred_class = ["happy", "sad", "neutral"]
    assert score(d).v_ccc > 0.99  # values of an estimator fitted on nothing here are scored
    d.estimator = "g"
    with pytest.raises(ValueError, match="fitted on these labels"):
        score(d)
