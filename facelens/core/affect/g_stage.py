"""G as the affect stage's valence/arousal/emotion estimator (``AffectStage.default(va="g")``).

The stage still runs the default estimator first: its fused appearance posterior (FER2013 +
FACS-prototype evidence) is one of G's inputs and is stored as ``emotions_appearance``. G then
reads the frame's expression coefficients (the morphable fit of the same block) and that
posterior, and gives ``valence``, ``arousal`` and the ``emotions`` column (its 7-class head,
reordered to the results file's labels).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from facelens.core.affect.g_runtime import G_LABELS, GModel, GModelError, GRunner, load_default_g

_FER_TO_G = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happy", "sad": "sad",
             "surprise": "surprise", "neutral": "neutral"}
ESTIMATORS = ("circumplex", "g")


class GEstimator:
    """One session of G over (coefficients, appearance posterior) in time order."""

    def __init__(self, model: GModel, labels: Sequence[str]) -> None:
        self.model = model
        self.runner = GRunner(model)
        self.labels = list(labels)
        self.uses_appearance = model.card.get("inputs", "coef+appearance") == "coef+appearance"
        self._to_results = [G_LABELS.index(_FER_TO_G[lab]) for lab in self.labels]

    @classmethod
    def default(cls, labels: Sequence[str]) -> GEstimator:
        """The shipped G (:class:`~facelens.core.affect.g_runtime.GModelError` when missing)."""
        return cls(load_default_g(), labels)

    def reset(self) -> None:
        self.runner.reset()

    def check_coefficients(self, n_exp: int) -> None:
        """Refuse, before anything is analysed, a reconstruction whose expression coefficients are not
        the ones G was trained on (:class:`GModelError`, one line)."""
        want = self.model.n_inputs - (len(self.labels) if self.uses_appearance else 0)
        if int(n_exp) != want:
            raise GModelError(f"the G estimator was trained on {want} expression coefficients per frame, "
                              f"this reconstruction gives {int(n_exp)}: use the morphable fit "
                              "(--reconstruction fit) or retrain G with facelens train-va")

    def inputs(self, coef: np.ndarray, appearance: np.ndarray) -> np.ndarray:
        coef = np.asarray(coef, np.float64).reshape(len(coef), -1)
        x = coef if not self.uses_appearance else np.concatenate(
            [coef, np.asarray(appearance, np.float64).reshape(len(coef), -1)], axis=1)
        if x.shape[1] != self.model.n_inputs:
            raise GModelError(f"G expects {self.model.n_inputs} inputs per frame, got {x.shape[1]} "
                              f"({coef.shape[1]} expression coefficients): G was trained for another "
                              "morphable model (retrain it with facelens train-va)")
        return x

    def apply(self, out: dict[str, np.ndarray], coef: np.ndarray | None, usable: np.ndarray) -> dict[str, np.ndarray]:
        """Replace the default estimator's ``out`` (emotions, valence, arousal) by G's, keeping its
        posterior as ``emotions_appearance``."""
        if coef is None:
            raise ValueError("the G estimator needs the morphable fit's coefficients (coef_exp)")
        appearance = out["emotions"]
        va, probs = self.runner.step(self.inputs(coef, appearance), usable)
        return {"emotions": probs[:, self._to_results].astype(np.float32), "emotions_appearance": appearance,
                "valence": va[:, 0].astype(np.float32), "arousal": va[:, 1].astype(np.float32)}

    def replay(self, coef: np.ndarray, appearance: np.ndarray, usable: np.ndarray) -> None:
        """Rebuild the LSTM state from stored frames (resume)."""
        self.runner.step(self.inputs(coef, appearance), usable)

    def card(self) -> dict:
        c = self.model.card
        return {"id": "va-g", "task": "valence/arousal + 7 expressions (G: LSTM + 4-layer MLP)",
                "version": f"inputs {c.get('inputs', '?')}", "source": {"kind": "shipped", "path": "g/facelens_g.npz"},
                "training_data": c.get("training_data", ""), "notes": "models/g/MODEL_CARD.md"}
