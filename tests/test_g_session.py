"""G over a whole session: mirror images agree, segment order does not matter, a pause restarts G,
and the analysis stores exactly what the session rule gives."""
from __future__ import annotations

import numpy as np
import pytest

from facelens.core.affect.g_runtime import GRunner, load_default_g
from facelens.core.affect.g_session import GAP_S, g_session, in_memory, reset_points
from facelens.core.face.morphable import SessionFitter, load_default
from facelens.core.face.morphable.mirror import mirror_index, mirror_meshes


def _session(seed: int = 0, n_seg: int = 3, per: int = 15):
    """Model meshes of one synthetic person: segments of different expressions, 2-s pauses between."""
    morph = load_default()
    rng = np.random.default_rng(seed)
    ident = rng.normal(size=morph.n_identity) * morph.identity_sd
    base = morph.mean + np.einsum("k,kvc->vc", ident, morph.identity_basis)
    meshes, times, t = [], [], 0.0
    for _ in range(n_seg):
        level = rng.normal(size=morph.n_expression) * morph.expression_sd * 1.5
        for _ in range(per):
            e = level + rng.normal(size=morph.n_expression) * morph.expression_sd * 0.1
            meshes.append(base + np.einsum("k,kvc->vc", e, morph.expression_basis))
            times.append(t)
            t += 0.1
        t += 2.0
    fer = rng.dirichlet(np.ones(7), size=len(meshes))
    return np.asarray(meshes), np.asarray(times), fer, morph


def test_mirror_index_is_an_involution_and_mirroring_twice_gives_the_mesh_back():
    m = mirror_index()
    assert np.array_equal(m[m], np.arange(478)) and (m != np.arange(478)).sum() > 400
    meshes, _, _, _ = _session(per=2)
    np.testing.assert_array_equal(mirror_meshes(mirror_meshes(meshes)), meshes)
    assert not np.allclose(mirror_meshes(meshes), meshes)  # the synthetic face is not symmetric


def test_a_session_and_its_mirror_image_give_the_same_valence_and_arousal():
    meshes, t, fer, morph = _session()
    g = load_default_g()
    ok = np.ones(len(t), bool)
    a = g_session(in_memory(meshes, ok), t, fer, morph, g)
    b = g_session(in_memory(mirror_meshes(meshes), ok), t, fer, morph, g)
    np.testing.assert_allclose(a.valence_arousal, b.valence_arousal, atol=1e-9)
    # without the mirror average a single network would tell the two apart
    single = [GRunner(g).step(np.concatenate([morph_fit, fer], 1), ok)[0]
              for morph_fit in (a.expression, g_session(in_memory(mirror_meshes(meshes), ok), t, None, morph).expression)]
    assert np.abs(single[0] - single[1]).max() > 1e-3


def test_segment_order_does_not_change_a_segments_values():
    meshes, t, fer, morph = _session(n_seg=3, per=12)
    g = load_default_g()
    seg = np.repeat(np.arange(3), 12)
    ok = np.ones(len(t), bool)
    ref = g_session(in_memory(meshes, ok), t, fer, morph, g)
    order = [2, 0, 1]
    idx = np.concatenate([np.flatnonzero(seg == k) for k in order])
    new_t = np.concatenate([np.arange(12) * 0.1 + i * 3.2 for i in range(3)])  # same 2-s pauses
    perm = g_session(in_memory(meshes[idx], ok), new_t, fer[idx], morph, g)
    back = np.empty_like(perm.valence_arousal)
    back[idx] = perm.valence_arousal
    np.testing.assert_allclose(back, ref.valence_arousal, atol=1e-9)
    np.testing.assert_allclose(perm.identity, ref.identity, atol=1e-9)


def test_a_pause_longer_than_the_gap_starts_g_afresh():
    t = np.array([0.0, 0.1, 0.2, 0.2 + GAP_S + 0.5, 0.2 + GAP_S + 0.6])
    ok = np.array([True, True, True, True, True])
    assert reset_points(t, ok).tolist() == [3]
    assert reset_points(t, ok, last_t=-5.0).tolist() == [0, 3]
    assert reset_points(t, np.array([True, True, False, True, True])).tolist() == [3]
    meshes, times, fer, morph = _session(n_seg=2, per=10)
    g = load_default_g()
    ok = np.ones(len(times), bool)
    whole = g_session(in_memory(meshes, ok), times, fer, morph, g)
    second = slice(10, 20)
    x = whole.expression[second]
    fm = SessionFitter(morph)
    fm.update(mirror_meshes(meshes), ok)
    xm = fm.refit(mirror_meshes(meshes), ok).expression[second]
    fresh = [GRunner(g).step(np.concatenate([c, fer[second]], 1), ok[second])[0] for c in (x, xm)]
    np.testing.assert_allclose(whole.valence_arousal[second], 0.5 * (fresh[0] + fresh[1]), atol=1e-12)


def test_chunking_changes_the_session_values_only_at_rounding_level():
    meshes, t, fer, morph = _session()
    g = load_default_g()
    ok = np.ones(len(t), bool)
    ok[[3, 17]] = False
    a = g_session(in_memory(meshes, ok), t, fer, morph, g)
    b = g_session(in_memory(meshes, ok, size=7), t, fer, morph, g)
    np.testing.assert_allclose(a.valence_arousal, b.valence_arousal, atol=1e-9)
    np.testing.assert_array_equal(a.valence_arousal, g_session(in_memory(meshes, ok), t, fer, morph, g).valence_arousal)
    assert np.isnan(a.valence_arousal[[3, 17]]).all() and np.isnan(a.expression[[3, 17]]).all()


@pytest.mark.slow
def test_the_analysis_stores_the_session_rule(media, tmp_path):
    """A video analysed with G: coef_id, coef_exp, valence/arousal/emotions are what
    g_session gives on the stored columns (not the provisional streaming values)."""
    from facelens.core.affect.g_stage import GEstimator
    from facelens.core.analysis.pipeline import analyze_to_file
    from facelens.core.analysis.recon_stage import fit_inputs
    from facelens.core.results import SessionResults

    out = analyze_to_file(media / "videos/liveportrait_d3.mp4", tmp_path / "g.h5", va="g")
    with SessionResults.open(out) as r:
        cols = {"landmarks": r.landmarks(slice(None)), "rotation": r.rotation, "translation": r.translation,
                "scale": r.scale, "quality": r.quality}
        pf, ok = fit_inputs(cols)
        est = GEstimator.default(r.emotion_labels)
        want = g_session(in_memory(pf, ok), r.time_s, np.asarray(r.emotions_appearance), load_default(), est.model)
        np.testing.assert_allclose(r.valence, want.valence_arousal[:, 0].astype(np.float32), atol=1e-6)
        np.testing.assert_allclose(r.emotions, est.to_results_order(want.probabilities).astype(np.float32), atol=1e-6)
        np.testing.assert_allclose(r.coef_exp, want.expression.astype(np.float32), atol=1e-6)
        np.testing.assert_allclose(r.coef_id, want.identity_frames.astype(np.float32), atol=1e-6)
        assert np.isfinite(np.asarray(r.coef_id)[r.usable]).all()
        np.testing.assert_allclose(r.meta["session_identity"], want.identity, atol=1e-5)  # the person's reference
        # the appearance input is the raw FER2013 posterior, not the fused one
        assert np.isfinite(r.emotions_appearance[r.usable]).all()


@pytest.mark.slow
def test_the_circumplex_run_gets_the_same_fit_from_the_session_pass_alone(media, tmp_path):
    """With the circumplex estimator nothing is fitted while streaming; the session pass writes the
    same coefficients a G run stores (they depend on the meshes only)."""
    from facelens.core.analysis.pipeline import analyze_to_file
    from facelens.core.results import SessionResults

    video = media / "videos/liveportrait_d3.mp4"
    g = analyze_to_file(video, tmp_path / "g.h5", va="g")
    c = analyze_to_file(video, tmp_path / "c.h5", va="circumplex")
    with SessionResults.open(g) as a, SessionResults.open(c) as b:
        assert b.meta["va_estimator"] == "circumplex" and np.isfinite(b.coef_exp[b.usable]).all()
        for name in ("coef_exp", "coef_id", "fit_residual"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert b.meta["session_identity"] == a.meta["session_identity"]


@pytest.mark.slow
def test_an_analysis_cancelled_in_its_session_pass_resumes_to_the_same_file(media, tmp_path):
    """Cancel once the session pass has started (its fitting threads are busy), resume: every
    stored column equals an analysis that ran through."""
    from facelens.core.analysis.contract import AnalysisCancelled
    from facelens.core.analysis.pipeline import analyze_to_file, run_analysis
    from facelens.core.results import SessionResults

    video = media / "videos/liveportrait_d3.mp4"
    whole = analyze_to_file(video, tmp_path / "whole.h5", va="g")
    stop = {"now": False}
    with pytest.raises(AnalysisCancelled):
        for p in run_analysis(video, tmp_path / "cut.h5", cancel=lambda: stop["now"]):
            stop["now"] = stop["now"] or p.message == "finalising"
    assert not (tmp_path / "cut.h5").exists()
    list(run_analysis(video, tmp_path / "cut.h5", resume=True))
    with SessionResults.open(whole) as a, SessionResults.open(tmp_path / "cut.h5") as b:
        for name in ("quality", "valence", "arousal", "coef_exp", "coef_id", "fit_residual", "emotions"):
            np.testing.assert_array_equal(np.asarray(getattr(a, name)), np.asarray(getattr(b, name)), err_msg=name)
        assert a.meta["session_identity"] == b.meta["session_identity"]
