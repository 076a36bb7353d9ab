"""Print charts for the report, drawn with matplotlib (Agg, no display) as vector PDF.

Made for paper: black text, thin lines, label bands that carry a hatch pattern as well as a colour
(``facelens.core.annotation.labels``, the same colours as the app), so the chart still reads when printed in
greyscale; the circumplex density uses a grey ramp. Each function returns PDF bytes of one figure;
:func:`facelens.report.flowables.vector_chart` places them in the document without rasterising.
"""
from __future__ import annotations

import io
import itertools
import math
from typing import Any

import numpy as np

from facelens.core.annotation.labels import default_label_set
from facelens.core.report_content import AffectSeriesSection

VALENCE_COLOUR = "#0072B2"  # Okabe–Ito blue, as the GUI's valence curve (render/colors.VALENCE_HEX)
AROUSAL_COLOUR = "#D55E00"  # Okabe–Ito vermillion, as the GUI's arousal curve
FONT_SIZE = 7.5


def _mpl() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import logging

    # The AFM Helvetica of the core fonts has no "normal" weight entry; matplotlib's fallback to "medium"
    # is the same face, so its warning is noise on the user's terminal.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        # PDF core fonts: chart text stays real, searchable text, and nothing is embedded (embedding
        # and subsetting a TrueType font cost ~0.5 s per chart, most of the report's time).
        "pdf.use14corefonts": True, "font.family": "sans-serif",
        "axes.unicode_minus": False,  # core fonts have no U+2212
        "font.size": FONT_SIZE, "axes.linewidth": 0.6, "xtick.major.width": 0.6, "ytick.major.width": 0.6,
        "axes.spines.top": False, "axes.spines.right": False,
    })
    return plt


def _to_pdf(fig: Any, fmt: str = "pdf") -> bytes:
    """The figure as PDF bytes (vector) or, with ``fmt="png"``, a 200-dpi PNG (fallback)."""
    buf = io.BytesIO()
    if fmt == "png":
        fig.savefig(buf, format="png", dpi=200)
    else:
        fig.savefig(buf, format="pdf", metadata={"Creator": "FaceLens", "CreationDate": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _decimate(t: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the minimum and maximum of each bin for long series (the printed line looks the same)."""
    n = len(t)
    if n <= max_points:
        return t, y
    n_bins = max_points // 2
    edges = np.linspace(0, n, n_bins + 1).astype(np.int64)
    keep: list[int] = []
    for a, b in itertools.pairwise(edges):
        chunk = y[a:b]
        finite = np.isfinite(chunk)
        if not finite.any():
            keep.append(a)  # keeps the NaN gap visible
            continue
        idx = np.flatnonzero(finite)
        lo, hi = a + idx[np.argmin(chunk[idx])], a + idx[np.argmax(chunk[idx])]
        keep.extend(sorted({int(lo), int(hi)}))
        if not finite.all():
            keep.append(a + int(np.flatnonzero(~finite)[0]))
    k = np.unique(np.asarray(keep, dtype=np.int64))
    return t[k], y[k]


def timeseries_pdf(sec: AffectSeriesSection, width_in: float = 7.0, height_in: float = 3.1,
                  fmt: str = "pdf") -> bytes:
    """Valence and arousal over time (two panels) with the annotated segments shaded and hatched."""
    plt = _mpl()
    labels = default_label_set()
    fig, axes = plt.subplots(2, 1, figsize=(width_in, height_in), sharex=True,
                             gridspec_kw={"hspace": 0.12, "left": 0.075, "right": 0.985, "top": 0.87,
                                          "bottom": 0.13})
    t = sec.time_s
    end = float(t[-1]) if t.size else 1.0
    use_minutes = end > 180.0
    scale = 60.0 if use_minutes else 1.0
    seen: dict[str, Any] = {}
    for ax, y, name, colour in ((axes[0], sec.valence, "Valence", VALENCE_COLOUR),
                                (axes[1], sec.arousal, "Arousal", AROUSAL_COLOUR)):
        for lab, a, b in sec.segments:
            st = labels.style(lab)
            patch = ax.axvspan(a / scale, b / scale, facecolor=st.colour, alpha=0.22, edgecolor=st.colour,
                               hatch=st.hatch or None, linewidth=0.0)
            seen.setdefault(lab, patch)
        ax.axhline(0.0, color="0.45", linewidth=0.5, zorder=1)
        tt, yy = _decimate(t, y, 2400)  # ~1,200 min/max pairs: finer than print resolution
        ax.plot(tt / scale, yy, color=colour, linewidth=0.7, zorder=3)
        ax.set_ylim(-1.05, 1.05)
        ax.set_yticks([-1, -0.5, 0, 0.5, 1])
        ax.set_ylabel(name)
        ax.grid(axis="y", color="0.85", linewidth=0.4)
    axes[1].set_xlim(0, max(end, 1e-3) / scale)
    axes[1].set_xlabel("time (min)" if use_minutes else "time (s)")
    if seen:
        handles = []
        import matplotlib.patches as mpatches

        for lab in seen:
            st = labels.style(lab)
            handles.append(mpatches.Patch(facecolor=st.colour, alpha=0.35, hatch=st.hatch or None,
                                          edgecolor=st.colour, label=lab))
        fig.legend(handles=handles, loc="upper right", ncol=len(handles), frameon=False,
                   bbox_to_anchor=(0.985, 1.0), fontsize=FONT_SIZE)
    from facelens.core.annotation.exclusions import EXCLUDE_LABEL

    cut = any(lab.strip().lower() == EXCLUDE_LABEL for lab in seen)
    gaps = "Gaps: frames without a usable face" + (" or excluded by the reviewer" if cut else "")
    fig.text(0.075, 0.93, gaps, fontsize=FONT_SIZE - 0.5, color="0.35")
    return _to_pdf(fig, fmt)


def circumplex_pdf(sec: AffectSeriesSection, size_in: float = 2.9, fmt: str = "pdf") -> bytes:
    """Density of the valid frames on the valence/arousal plane (grey ramp: darker = more time)."""
    plt = _mpl()
    fig, ax = plt.subplots(figsize=(size_in, size_in * 0.93))
    fig.subplots_adjust(left=0.17, right=0.96, bottom=0.15, top=0.95)
    e = sec.density_edges
    dens = np.where(sec.density > 0, sec.density, np.nan)
    peak = float(np.nanmax(dens)) if np.isfinite(dens).any() else 1.0
    ax.pcolormesh(e, e, dens * 100.0, cmap="Greys", vmin=0.0, vmax=peak * 100.0, shading="flat",
                  edgecolors="none", rasterized=False)
    circle = np.linspace(0, 2 * math.pi, 181)
    ax.plot(np.cos(circle), np.sin(circle), color="0.55", linewidth=0.5)
    ax.axhline(0, color="0.55", linewidth=0.5)
    ax.axvline(0, color="0.55", linewidth=0.5)
    for (x, y, text) in ((0.62, 0.9, "pleasant\nactivated"), (-0.62, 0.9, "unpleasant\nactivated"),
                         (-0.62, -0.92, "unpleasant\ncalm"), (0.62, -0.92, "pleasant\ncalm")):
        ax.text(x, y, text, ha="center", va="center", fontsize=FONT_SIZE - 1.5, color="0.35")
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("valence")
    ax.set_ylabel("arousal")
    ax.set_xticks([-1, -0.5, 0, 0.5, 1])
    ax.set_yticks([-1, -0.5, 0, 0.5, 1])
    return _to_pdf(fig, fmt)


def probability_pdf(p: float, lo: float, hi: float, width_in: float = 4.2, height_in: float = 0.75,
                    fmt: str = "pdf") -> bytes:
    """The BD-vs-MDD probability on a 0–1 scale with the fold-model range as a bar."""
    plt = _mpl()
    fig, ax = plt.subplots(figsize=(width_in, height_in))
    fig.subplots_adjust(left=0.1, right=0.9, bottom=0.42, top=0.95)
    ax.plot([0, 1], [0, 0], color="0.6", linewidth=3, solid_capstyle="butt")
    ax.plot([lo, hi], [0, 0], color="0.15", linewidth=6, solid_capstyle="butt")
    ax.plot([p], [0], marker="v", color="black", markersize=7, transform=ax.transData)
    ax.axvline(0.5, color="0.4", linewidth=0.6, linestyle=":")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.5, 0.5)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_xticklabels(["0\nMDD", "0.25", "0.5", "0.75", "1\nBD"])
    return _to_pdf(fig, fmt)
