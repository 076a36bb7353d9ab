"""Re-export of :mod:`facelens.core.affect.statement` (the owner; importable by every layer)."""
from __future__ import annotations

from facelens.core.affect.statement import VALIDITY_CAPTION, VALIDITY_STATEMENT

__all__ = ["VALIDITY_CAPTION", "VALIDITY_STATEMENT"]
