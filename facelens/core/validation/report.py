"""The harness report: one self-contained Markdown file (tables + matplotlib plots embedded as PNG
data URIs) and the figures as JSON beside it."""
from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from facelens.core.affect.statement import VALIDITY_STATEMENT

TARGETS = {"icc": 0.9, "shift": 0.1, "corr_va": 0.6, "order": 0.02}


def _f(x: Any, nd: int = 3) -> str:
    return "–" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{nd}f}"


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "![plot](data:image/png;base64," + base64.b64encode(buf.getvalue()).decode() + ")"


def _family_plot(fam: dict[str, dict[str, float]], title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(fam)
    fig, ax = plt.subplots(1, 2, figsize=(9, 2.8))
    for c, ax_name in enumerate("va"):
        ax[0].bar(np.arange(len(names)) + 0.4 * c, [fam[n][f"seg_shift_{ax_name}"] for n in names], 0.4,
                  label="valence" if c == 0 else "arousal")
        ax[1].bar(np.arange(len(names)) + 0.4 * c, [fam[n][f"seg_icc_{ax_name}"] for n in names], 0.4)
    ax[0].axhline(TARGETS["shift"], color="k", ls="--", lw=0.8)
    ax[1].axhline(TARGETS["icc"], color="k", ls="--", lw=0.8)
    for a, t in zip(ax, ("largest segment-mean shift", "segment-mean ICC(2,1)")):
        a.set_xticks(np.arange(len(names)) + 0.2, names, rotation=30, fontsize=7)
        a.set_title(f"{title}: {t}", fontsize=8)
    ax[0].legend(fontsize=7)
    return _png(fig)


def _confusion_plot(conf: list[list[int]], classes: tuple[str, ...]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(conf)
    fig, ax = plt.subplots(figsize=(4, 3.5))
    ax.imshow(m, cmap="Blues")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(classes)), classes, rotation=45, fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("label")
    return _png(fig)


def markdown(result: dict[str, Any], command: str = "") -> str:
    """The report text (see module docstring)."""
    from facelens.core.validation.accuracy import CLASSES

    cfg = result["config"]
    lines = ["# FaceLens validity report", "", f"> {VALIDITY_STATEMENT}", ""]
    if command:
        lines += [f"Reproduce: `{command}`", ""]
    lines += [f"Clips ({len(cfg['clips'])}, first {cfg['max_seconds']:g} s each at 10 fps): "
              + ", ".join(Path(c).stem for c in cfg["clips"]), "",
              ("Targets: segment-mean ICC(2,1) ≥ 0.9 and shift ≤ 0.1 per family; |corr(V, A)| ≤ 0.6; "
               "segment-order effect ≤ 0.02."), ""]
    if result.get("accuracy_note"):
        lines += ["## Accuracy against labels", "", "Note: " + str(result["accuracy_note"]) + ".", ""]
    for name, acc in result.get("accuracy", {}).items():
        lines += [f"## Accuracy against labels: {name}", "",
                  "| n | scored | V-CCC | A-CCC | V-RMSE | A-RMSE | V r | A r | pred SD V/A | label SD V/A | 7-class acc |",
                  "|---|---|---|---|---|---|---|---|---|---|---|",
                  (f"| {acc['n']} | {acc['n_scored']} | {_f(acc['v_ccc'])} | {_f(acc['a_ccc'])} | "
                   f"{_f(acc['v_rmse'])} | {_f(acc['a_rmse'])} | {_f(acc['v_r'])} | {_f(acc['a_r'])} | "
                   f"{_f(acc['pred_sd'][0], 2)}/{_f(acc['pred_sd'][1], 2)} | {_f(acc['label_sd'][0], 2)}/"
                   f"{_f(acc['label_sd'][1], 2)} | {_f(acc['acc7'])} |"), "",
                  "Per-class recall: " + ", ".join(f"{c} {_f(r, 2)}" for c, r in acc["recall"].items()), "",
                  _confusion_plot(acc["confusion"], CLASSES), ""]
    for name, sp in result.get("identity", {}).items():
        if sp.get("n"):
            lines += [f"## Identity: {name}", "", "| n | V mean ± SD | A mean ± SD | share beyond 0.2 |", "|---|---|---|---|",
                      (f"| {sp['n']} | {_f(sp['v_mean'])} ± {_f(sp['v_sd'])} | {_f(sp['a_mean'])} ± "
                       f"{_f(sp['a_sd'])} | {_f(sp['share_beyond_0.2'], 2)} |"), ""]
    if result.get("label_corr_va"):
        lines += ["## |corr(V, A)| of the DiffusionFER labels themselves", "",
                  "The frame-wise |corr(V, A)| a perfectly calibrated estimator would give on a clip that shows "
                  "these expressions as often as the label set does (labels pooled over the faces of the classes):", "",
                  "| classes | faces | \\|corr(V, A)\\| of the labels |", "|---|---|---|"]
        lines += [f"| {k} | {v['n']} | {_f(v['abs_corr'], 2)} |" for k, v in result["label_corr_va"].items()]
        lines.append("")
    for est, r in result["estimators"].items():
        lines += [f"## Estimator `{est}`", "", "### Reliability under nuisance (worst variant per family)", "",
                  ("| family | seg ICC V | seg ICC A | seg shift V | seg shift A | on common frames V / A | "
                   "frame ICC V | frame ICC A | frame shift V | frame shift A |"),
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for fam, s in r["families"].items():
            lines.append(f"| {fam} | {_f(s['seg_icc_v'])} | {_f(s['seg_icc_a'])} | {_f(s['seg_shift_v'])} | "
                         f"{_f(s['seg_shift_a'])} | {_f(s.get('common_shift_v'))} / {_f(s.get('common_shift_a'))} | "
                         f"{_f(s['frame_icc_v'])} | {_f(s['frame_icc_a'])} | "
                         f"{_f(s['frame_shift_v'])} | {_f(s['frame_shift_a'])} |")
        lines += ["", ("Where a segment mean's shift comes from: the same segments averaged over only the instants "
                       "both runs kept (a quality gate that keeps other frames moves the mean even when every "
                       "frame reads the same); gate flips = instants one run kept and the other did not."), "",
                  "| variant | segments | seg shift V/A | on common frames V/A | gate flips | worst segment |",
                  "|---|---|---|---|---|---|"]
        for v in r["variants"]:
            common = v.get("common") or {"max_shift": [float("nan")] * 2}
            lines.append(f"| {v['name']} | {v['segments']['n']} | {_f(v['segments']['max_shift'][0])} / "
                         f"{_f(v['segments']['max_shift'][1])} | {_f(common['max_shift'][0])} / "
                         f"{_f(common['max_shift'][1])} | {v.get('flipped_frames', '–')} | {v['worst_segment']} |")
        lines += ["", _family_plot(r["families"], est), "", "### Discriminant validity: |corr(V, A)|", "",
                  "Frame-wise (the target), and within the labelled spans with each span's mean removed "
                  "(does arousal move on its own while the expression label stays the same?). Between a sad "
                  "and a happy span the labels themselves move valence and arousal the same way.", "",
                  "| clip | frame-wise \\|corr\\| | within labelled spans |", "|---|---|---|"]
        within = r.get("corr_va_within", {})
        lines += [f"| {c} | {_f(x, 2)} | {_f(within.get(c, float('nan')), 2)} |" for c, x in r["corr_va"].items()]
        lines += ["", "### Invariance", "", "| clip | order effect V | order effect A | pose effect V | pose effect A |",
                  "|---|---|---|---|---|"]
        for c in sorted(set(r["order"]) | set(r["pose"])):
            o, p = r["order"].get(c, {}), r["pose"].get(c, {})
            lines.append(f"| {c} | {_f(o.get('valence'))} | {_f(o.get('arousal'))} | {_f(p.get('valence'))} | "
                         f"{_f(p.get('arousal'))} |")
        for clip, sub in (r.get("subject") or {}).items():
            lines += ["", f"### Subject features and P(BD): {clip}", "",
                      f"Largest shift of the raw probability under nuisance: {_f(sub['p_raw_max_shift'])}", "",
                      "| variant | raw P(BD) | answer |", "|---|---|---|"]
            lines += [f"| {n} | {_f(row['p_raw'])} | {row['answer'][:160]} |" for n, row in sub["variants"].items()]
        if r.get("sensitivity"):
            lines += ["", "### Sensitivity of hand-set constants (±50 %)", "",
                      "| constant | value | -50 %: seg-mean shift | +50 %: seg-mean shift | |corr| at -50/+50 % |",
                      "|---|---|---|---|---|"]
            for row in r["sensitivity"]:
                lines.append(f"| {row['name']} | {row['value']:g} | {_f(row['shift'][0])} | {_f(row['shift'][1])} | "
                             f"{_f(row['corr'][0], 2)} / {_f(row['corr'][1], 2)} |")
        lines.append("")
    return "\n".join(lines)


def write(result: dict[str, Any], out_dir: Path, command: str = "") -> Path:
    """Write ``validity.md`` and ``validity.json`` into ``out_dir``; returns the Markdown path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {k: v for k, v in result.items() if k != "runs"}
    (out_dir / "validity.json").write_text(json.dumps(data, indent=1, default=float) + "\n", encoding="utf-8")
    md = out_dir / "validity.md"
    md.write_text(markdown(data, command), encoding="utf-8")
    return md
