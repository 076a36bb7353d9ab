"""Learning the morphable model from pose-free meshes (numpy only).

Method (``docs/morphable.md``):

1. **Identity.** One neutral shape per person: a labelled neutral still, or the per-coordinate
   median over a video person's usable frames. The mean shape is their average; the identity
   basis is their principal components (PCA by SVD).
2. **Expression.** Deviations from the person's own shape: each video frame minus its person's
   median, and each expressive still minus the neutral shape predicted for that person from the
   expression-stable landmarks alone (eye corners, nose, forehead, face sides:
   ``geometry.STABLE_LANDMARKS``) through the identity basis and its prior. Videos and stills get
   equal total weight; each video person at most ``max_frames`` evenly spaced frames. The
   expression directions (``exp_method="fisher"``, the default) are those whose within-person
   variance is largest *against the between-person variance of neutral faces*: generalised
   eigenvectors of the deviations' second moment and the people's covariance, so that a
   direction along which neutral faces of different people differ (a long face and an open jaw
   look alike) is not taken for expression. ``exp_method="pca"`` is the plain uncentred PCA of
   the deviations (the first shipped model).
3. **Noise and frame weights.** The shapes are fitted back (:func:`fit_session`); the RMS of the
   unexplained coordinates gives ``noise_sd``, three times the median single-frame residual the
   scale of the robust frame weights.

The iris points follow gaze, not expression: before learning, each iris is put at its eye
contour's centre (fixed offsets, as in ``geometry.derive_template``), so in both bases the irises
move with the lids and the fit gives them no weight.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from facelens.core.face import geometry
from facelens.core.face.morphable.fit import fit_session
from facelens.core.face.morphable.model import N_VERTICES, MorphableModel, default_vertex_weight


@dataclass
class BuildData:
    """Pose-free meshes (template frame) to learn from.

    Attributes
    ----------
    neutral_stills
        (P, 478, 3) one neutral shape per person.
    expressive_stills
        (M, 478, 3) expressive faces of people without a neutral shape of their own.
    videos
        Per video person: (T, 478, 3) usable frames.
    sources
        Free-text description of where each part came from (goes into the model's metadata).
    """

    neutral_stills: np.ndarray
    expressive_stills: np.ndarray
    videos: list[np.ndarray] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)


def rigid_irises(shapes: np.ndarray) -> np.ndarray:
    """Copy of (N, 478, 3) shapes with each iris placed at its eye contour's centre."""
    out = np.array(shapes, np.float64, copy=True)
    offsets = geometry.IRIS_RADIUS_CM * np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0]], float)
    for ring, iris in ((geometry.RIGHT_EYE_RING, geometry.RIGHT_IRIS), (geometry.LEFT_EYE_RING, geometry.LEFT_IRIS)):
        out[:, list(iris)] = out[:, list(ring)].mean(axis=1, keepdims=True) + offsets
    return out


def _pca(x: np.ndarray, weights: np.ndarray | None, k: int | None, min_var: float,
         centred: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows (k, D), SDs (k,), explained fractions (k,) of weighted rows of ``x`` (N, D)."""
    w = np.ones(len(x)) if weights is None else np.asarray(weights, float)
    w = w / w.sum()
    xc = x - (w @ x if centred else 0.0)
    _, s, vt = np.linalg.svd(np.sqrt(w)[:, None] * xc, full_matrices=False)
    var = s**2
    frac = var / var.sum()
    if k is None:
        k = int(np.searchsorted(np.cumsum(frac), min_var) + 1)
    k = min(k, len(s))
    return vt[:k], np.sqrt(var[:k]), frac[:k]


def _predict_neutral(shapes: np.ndarray, mean: np.ndarray, basis: np.ndarray, sd: np.ndarray,
                     noise: float) -> np.ndarray:
    """Neutral shapes (N, D) predicted from the expression-stable landmarks through the identity basis."""
    idx = np.concatenate([3 * geometry.STABLE_LANDMARKS + c for c in range(3)])
    a_s = basis[:, idx]  # (K, S)
    lhs = a_s @ a_s.T / noise**2 + np.diag(1.0 / sd**2)
    coef = np.linalg.solve(lhs, a_s @ (shapes[:, idx] - mean[idx]).T / noise**2).T
    return mean + coef @ basis


def _fisher_basis(dev: np.ndarray, w: np.ndarray, people: np.ndarray, resid_var: float, k: int,
                  reg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows (k, D), SDs (k,), variance fractions (k,) of the expression directions told apart best
    from identity: the ``k`` leading generalised eigenvectors ``v`` of ``C_exp v = l (C_id + reg
    resid_var I) v`` (within-person second moment against between-person covariance), their
    patterns ``C_exp v`` orthonormalised and rotated to the principal axes of ``C_exp`` inside
    that span (largest variance first)."""
    wn = w / w.sum()
    c_exp = (dev * wn[:, None]).T @ dev
    pc = people - people.mean(axis=0)
    c_id = pc.T @ pc / len(pc) + reg * resid_var * np.eye(pc.shape[1])
    chol = np.linalg.cholesky(c_id)  # C_id = L L': the problem becomes symmetric in L^-1 C_exp L^-T
    li = np.linalg.inv(chol)
    _, u = np.linalg.eigh(li @ c_exp @ li.T)
    vecs = li.T @ u[:, ::-1][:, :k]
    q, _ = np.linalg.qr(c_exp @ vecs)
    evals, rot = np.linalg.eigh(q.T @ c_exp @ q)
    order = np.argsort(evals)[::-1]
    var = np.maximum(evals[order], 1e-10)
    return (q @ rot[:, order]).T, np.sqrt(var), var / float(np.trace(c_exp))


#: Components of the shipped model. Chosen on a selection split of the neutral stills (benchmarks/
#: morphable_quality.py --selection, docs/morphable.md): more identity components let a still's fit
#: explain a person's face as identity; 12 is the largest expression count whose held-out leakage
#: on the selection people stayed at or below 0.45 of the 20 measures'.
K_ID, K_EXP = 100, 12


def build_model(data: BuildData, k_id: int | None = K_ID, k_exp: int | None = K_EXP, min_var: float = 0.98,
                max_frames: int = 300, orthogonal: bool = False, exp_method: str = "fisher",
                fisher_reg: float = 1.0) -> MorphableModel:
    """Learn a :class:`MorphableModel` from ``data`` (method in the module docstring).

    ``k_id`` / ``k_exp`` fix the number of components (at most one fewer than the people for
    identity); ``None``: as many as explain ``min_var`` of the variance (identity; expression with
    ``exp_method="pca"``).
    """
    neutral = rigid_irises(data.neutral_stills).reshape(len(data.neutral_stills), -1)
    videos = [rigid_irises(v) for v in data.videos if len(v)]
    refs = [np.median(v, axis=0).reshape(-1) for v in videos]
    people = np.concatenate([neutral] + [r[None] for r in refs]) if refs else neutral
    if len(people) < 3:
        raise ValueError(f"need at least 3 people for an identity basis, got {len(people)}")
    mean = people.mean(axis=0)
    k_id = None if k_id is None else min(k_id, len(people) - 1)
    id_rows, id_sd, id_frac = _pca(people, None, k_id, min_var, centred=True)
    resid_var = float(max(((people - mean) ** 2).sum(axis=1).mean() - (id_sd**2).sum(), 1e-8)) / people.shape[1]
    devs, weights = [], []
    if videos:
        for v, ref in zip(videos, refs):
            step = max(1, int(np.ceil(len(v) / max_frames)))
            d = v[::step].reshape(-1, people.shape[1]) - ref
            devs.append(d)
            weights.append(np.full(len(d), 1.0 / len(d) / len(videos)))
    if len(data.expressive_stills):
        ex = rigid_irises(data.expressive_stills).reshape(len(data.expressive_stills), -1)
        d = ex - _predict_neutral(ex, mean, id_rows, id_sd, np.sqrt(resid_var))
        devs.append(d)
        weights.append(np.full(len(d), 1.0 / len(d)))
    if not devs:
        raise ValueError("no expression data (videos or expressive stills)")
    dev = np.concatenate(devs)
    w = np.concatenate(weights)
    if orthogonal:  # expression directions orthogonal to the identity span
        dev = dev - (dev @ id_rows.T) @ id_rows
    if exp_method == "fisher":
        exp_rows, exp_sd, exp_frac = _fisher_basis(dev, w, people, resid_var, min(k_exp or K_EXP, dev.shape[1]), fisher_reg)
    elif exp_method == "pca":
        exp_rows, exp_sd, exp_frac = _pca(dev, w, k_exp, min_var, centred=False)
    else:
        raise ValueError(f"unknown expression method '{exp_method}' (use fisher or pca)")
    meta = {
        "format_note": "vertices = mean + identity_basis' id + expression_basis' exp (template frame, cm)",
        "sources": data.sources,
        "n_people_identity": len(people), "n_neutral_stills": len(neutral), "n_video_people": len(videos),
        "n_expression_samples": len(dev), "n_expressive_stills": len(data.expressive_stills),
        "identity_variance_explained": [round(float(f), 5) for f in id_frac],
        "expression_variance_explained": [round(float(f), 5) for f in exp_frac],
        "min_var": min_var, "max_frames": max_frames, "orthogonal": orthogonal,
        "expression_method": exp_method, "fisher_reg": fisher_reg if exp_method == "fisher" else None,
    }
    model = MorphableModel(mean=mean.reshape(N_VERTICES, 3), identity_basis=id_rows, expression_basis=exp_rows,
                           identity_sd=id_sd, expression_sd=exp_sd, noise_sd=float(np.sqrt(resid_var)),
                           vertex_weight=default_vertex_weight(), meta=meta)
    return _calibrate(model, neutral, data.expressive_stills, videos)


def _calibrate(model: MorphableModel, neutral: np.ndarray, expressive: np.ndarray,
               videos: Sequence[np.ndarray]) -> MorphableModel:
    """Set ``noise_sd`` and the frame-weight scale from fitting the build data back."""
    stills = np.concatenate([neutral.reshape(-1, N_VERTICES, 3)]
                            + ([rigid_irises(expressive)] if len(expressive) else []))
    used = model.vertex_weight > 0
    errs, rhos = [], []
    for batch in [stills[i:i + 1] for i in range(len(stills))] + list(videos):
        fit = fit_session(batch, np.ones(len(batch), bool), model=model, causal=False)
        recon = model.vertices(fit.identity_frames, fit.expression)
        errs.append((batch - recon)[:, used].reshape(-1))
        rhos.append(fit.residual)
    err = np.concatenate(errs)
    rho = np.concatenate(rhos)
    meta = dict(model.meta, fit_residual_scale=float(3.0 * np.median(rho)),
                build_residual_iod={"mean": float(rho.mean()), "p95": float(np.percentile(rho, 95))})
    return replace(model, noise_sd=float(np.sqrt(np.mean(err**2))), meta=meta)
