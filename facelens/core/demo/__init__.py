"""Demo: the embedded synthetic demo session (a warped public-domain portrait with a scripted expression timeline)."""

from facelens.core.demo.session import build_demo

__all__ = ["build_demo"]
