"""Contact sheet of a morphable model's expression components (matplotlib, offscreen).

Per component, the mean identity at -2 and +2 prior SD, seen from the front (x, y) and from the
subject's left (z, y), each mesh coloured by how far its points moved from the mean shape (each
row on its own scale, from 0 to the component's largest displacement at 2 SD).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facelens.core.face.morphable.model import MorphableModel
from facelens.core.face.topology import triangles


def contact_sheet(model: MorphableModel, out: Path, n: int = 12, sd: float = 2.0) -> Path:
    """Write a PNG with the first ``n`` expression components of ``model``; returns ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.tri import Triangulation

    n = min(n, model.n_expression)
    tris = triangles()
    frac = model.meta.get("expression_variance_explained", [])
    cols = 4
    fig, axes = plt.subplots(n, cols, figsize=(cols * 2.1, n * 2.3), squeeze=False)
    for k in range(n):  # each row on its own colour scale: small components stay visible
        vmax = float(sd * model.expression_sd[k] * np.linalg.norm(model.expression_basis[k], axis=1).max())
        coef = np.zeros(model.n_expression)
        for j, sign in enumerate((-1.0, 1.0)):
            coef[k] = sign * sd * model.expression_sd[k]
            v = model.vertices(None, coef)
            move = np.linalg.norm(v - model.mean, axis=1)
            for view, (h, name) in enumerate(((0, "front"), (2, "side"))):
                ax = axes[k, 2 * j + view]
                tri = Triangulation(v[:, h] if h == 0 else -v[:, h], v[:, 1], tris)
                ax.tripcolor(tri, move, shading="gouraud", cmap="magma", vmin=0.0, vmax=vmax)
                ax.triplot(tri, color="white", lw=0.08, alpha=0.5)
                ax.set_aspect("equal")
                ax.axis("off")
                if k == 0:
                    ax.set_title(f"{'-' if sign < 0 else '+'}{sd:g} SD, {name}", fontsize=8)
        share = f" ({100 * frac[k]:.1f} %, max {10 * vmax:.1f} mm)" if k < len(frac) else ""
        axes[k, 0].text(-0.05, 0.5, f"exp {k}{share}", transform=axes[k, 0].transAxes, rotation=90,
                        va="center", ha="right", fontsize=8)
    fig.suptitle("FaceLens morphable model: expression components\n(colour: displacement from the mean shape)",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    out = Path(out)
    fig.savefig(out, dpi=60)
    plt.close(fig)
    return out
