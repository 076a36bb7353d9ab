"""G as the affect stage's valence/arousal/emotion estimator (``AffectStage.default(va="g")``).

G reads the frame's expression coefficients (the morphable fit of the same block) and the raw
FER2013 posterior (stored as ``emotions_appearance``), and gives ``valence``, ``arousal`` and the
``emotions`` column (its 7-class head, reordered to the results file's labels). The default
estimator's fusion is not run: its neutral baseline depends on the order of the session.

These streaming values are provisional: when every frame is known, the analysis replaces them by
:func:`facelens.core.affect.g_session.g_session` (the person's reference from the whole session, mirror average). Both
start G from a fresh state after a pause of more than ``g_session.GAP_S`` seconds.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from facelens.core.affect.choice import DEFAULT_ESTIMATOR, ESTIMATORS
from facelens.core.affect.g_runtime import G_LABELS, GModel, GModelError, load_default_g
from facelens.core.affect.g_session import make_runner, step_with_resets

_FER_TO_G = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happy", "sad": "sad",
             "surprise": "surprise", "neutral": "neutral"}
__all__ = ["DEFAULT_ESTIMATOR", "ESTIMATORS", "GEstimator"]


class GEstimator:
    """One session of G over (coefficients, appearance posterior) in time order."""

    def __init__(self, model: GModel, labels: Sequence[str], device: str | None = None) -> None:
        self.model = model
        self.device = device  # None: numpy; else the torch device (core.common.devices.array_backend_device)
        self.runner = make_runner(model, device=device)
        self.labels = list(labels)
        self.uses_appearance = model.card.get("inputs", "coef+appearance") == "coef+appearance"
        self._to_results = [G_LABELS.index(_FER_TO_G[lab]) for lab in self.labels]
        self._last_t = float("nan")  # time of the last usable frame G saw

    @classmethod
    def default(cls, labels: Sequence[str], device: str | None = None) -> GEstimator:
        """The shipped G (:class:`~facelens.core.affect.g_runtime.GModelError` when missing)."""
        return cls(load_default_g(), labels, device)

    def reset(self) -> None:
        self.runner.reset()
        self._last_t = float("nan")

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

    def _step(self, coef: np.ndarray, appearance: np.ndarray, usable: np.ndarray,
              times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = self.inputs(coef, appearance)
        ok = np.asarray(usable, bool) & np.all(np.isfinite(x), axis=1)
        va, probs, self._last_t = step_with_resets(self.runner, x, ok, np.asarray(times, np.float64), self._last_t)
        return va, probs

    def apply(self, appearance: np.ndarray, coef: np.ndarray | None, usable: np.ndarray,
              times: np.ndarray) -> dict[str, np.ndarray]:
        """``emotions`` (G's head), ``emotions_appearance`` (the raw posterior), ``valence``, ``arousal``."""
        if coef is None:
            raise ValueError("the G estimator needs the morphable fit's coefficients (coef_exp)")
        va, probs = self._step(coef, appearance, usable, times)
        return {"emotions": probs[:, self._to_results].astype(np.float32),
                "emotions_appearance": np.asarray(appearance, np.float32),
                "valence": va[:, 0].astype(np.float32), "arousal": va[:, 1].astype(np.float32)}

    def replay(self, coef: np.ndarray, appearance: np.ndarray, usable: np.ndarray, times: np.ndarray) -> None:
        """Rebuild the LSTM state from stored frames (resume)."""
        self._step(coef, appearance, usable, times)

    def to_results_order(self, probs: np.ndarray) -> np.ndarray:
        """G's probabilities (N, 7) in the results file's emotion order."""
        return np.asarray(probs)[:, self._to_results]

    def card(self) -> dict:
        c = self.model.card
        return {"id": "va-g", "task": "valence/arousal + 7 expressions (G: LSTM + 4-layer MLP)",
                "version": f"inputs {c.get('inputs', '?')}", "source": {"kind": "shipped", "path": "g/facelens_g.npz"},
                "training_data": c.get("training_data", ""), "notes": "models/g/MODEL_CARD.md",
                "device": self.device or "cpu", "backend": "numpy" if self.device is None else "torch"}
