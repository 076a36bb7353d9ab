"""How many CPU threads the in-process inference runtimes (torch, onnxruntime) may use.

The analysis runs them single-threaded on CPU (the decoder and mediapipe occupy the other core);
elsewhere they use what torch would choose. torch follows the setting when it is loaded; a run that
never needs torch does not import it just to set a thread count.
"""
from __future__ import annotations

import os
import sys

_override: int | None = None


def cpu_threads() -> int:
    """Intra-op threads for CPU inference now."""
    torch = sys.modules.get("torch")
    if _override is not None:
        if torch is not None and torch.get_num_threads() != _override:
            torch.set_num_threads(_override)  # torch was loaded after the setting was made
        return _override
    if torch is not None:
        return max(int(torch.get_num_threads()), 1)
    return max(1, min(os.cpu_count() or 1, 8))


def set_cpu_threads(n: int | None) -> None:
    """Set (``None``: clear) the thread count; torch follows when it is loaded."""
    global _override
    _override = n
    torch = sys.modules.get("torch")
    if torch is not None and n is not None:
        torch.set_num_threads(n)


def nvidia_device_present() -> bool:
    """True when the machine exposes an NVIDIA GPU device (Linux device nodes, WSL's GPU bridge).

    Without one CUDA cannot be available, so ``auto`` device choice can say "cpu" without importing
    torch (about 240 MB of memory in an analysis that otherwise never needs it).
    """
    if not sys.platform.startswith("linux"):
        return True  # no cheap check elsewhere: ask torch
    return any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia", "/dev/dxg"))
