"""Colours shared by the 3D face view, the GUI plots and the printed report.

Label colours come from :mod:`facelens.core.annotation.labels` when it is installed (the label set is configurable
in ``resources/labels.toml``); :data:`FALLBACK_LABEL_COLORS` is only used for labels it does not know.
"""
from __future__ import annotations

import colorsys
import hashlib

#: Skin tone of the shaded face (RGBA, 0..1): a warm, neutral beige that reads well on dark and light.
SKIN_RGBA = (0.87, 0.72, 0.62, 1.0)
#: Background of the 3D viewport: a dark neutral grey, so the shaded face stands out.
VIEWPORT_BG_RGBA = (0.16, 0.18, 0.21, 1.0)
#: Valence and arousal curve colours (Okabe–Ito blue and vermillion: colour-blind safe).
VALENCE_HEX = "#0072B2"
AROUSAL_HEX = "#D55E00"
#: Overlay of the tracked mesh on the video frame.
MESH_OVERLAY_HEX = "#56B4E9"
#: Grey used for frames without a usable face.
GAP_HEX = "#9AA0A6"

# Okabe–Ito palette (colour-blind safe), used when a label has no configured colour.
FALLBACK_LABEL_COLORS = {
    "happy": "#E69F00",
    "sad": "#0072B2",
    "neutral": "#999999",
}
_EXTRA = ("#009E73", "#CC79A7", "#F0E442", "#56B4E9", "#D55E00")


def label_color(label: str) -> str:
    """Hex colour of a segment label, consistent everywhere the label is drawn.

    Parameters
    ----------
    label : str
        Segment label (e.g. ``"happy"``).

    Returns
    -------
    str
        ``#RRGGBB``.
    """
    try:  # the configurable label set (core.labels), when it is available
        from facelens.core.annotation import labels as _labels

        color = _labels.label_color(label)  # type: ignore[attr-defined]
        if color:
            return str(color)
    except Exception:  # noqa: BLE001 - any failure falls back to the fixed palette
        pass
    key = label.strip().lower()
    if key in FALLBACK_LABEL_COLORS:
        return FALLBACK_LABEL_COLORS[key]
    # A stable colour per unknown label (same label -> same colour across runs).
    h = int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16)
    return _EXTRA[h % len(_EXTRA)]


def hex_to_rgba(color: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    """``#RRGGBB`` to an RGBA tuple in 0..1."""
    c = color.lstrip("#")
    r, g, b = (int(c[i : i + 2], 16) / 255.0 for i in (0, 2, 4))
    return (r, g, b, alpha)


def lighten(color: str, amount: float = 0.5) -> str:
    """Mix a colour towards white (for shaded segment bands behind curves)."""
    r, g, b, _ = hex_to_rgba(color)
    h, l, s = colorsys.rgb_to_hls(r, g, b)
    l = l + (1.0 - l) * amount
    r, g, b = colorsys.hls_to_rgb(h, l, s)
    return f"#{round(r * 255):02X}{round(g * 255):02X}{round(b * 255):02X}"
