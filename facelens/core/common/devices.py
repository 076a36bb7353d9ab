"""Where the neural networks run: the one rule for the device strings ``auto``, ``cpu`` and ``cuda[:N]``.

Every stage that places a network (the torch face tracker, the emotion model, AsmV2L), the analysis
and the commands resolve a user's device string here. ``auto`` is CUDA when torch sees a GPU, else
the CPU; on a machine without an NVIDIA device it is the CPU without importing torch (startup time
and ~240 MB of memory for a run that otherwise never needs it; :func:`.threads.nvidia_device_present`).
"""
from __future__ import annotations

from facelens.core.common.threads import nvidia_device_present

#: The spellings offered to users (command-line choices, preferences); ``cuda:N`` is accepted too.
DEVICE_CHOICES = ("auto", "cpu", "cuda")


class DeviceError(RuntimeError):
    """A device string that is unknown or names a GPU this machine does not have (one-line message)."""


def _cuda_index(device: str) -> int | None:
    """``cuda`` -> 0, ``cuda:N`` -> N; None for any other spelling."""
    if device == "cuda":
        return 0
    head, _, index = device.partition(":")
    return int(index) if head == "cuda" and index.isdigit() else None


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cpu``; ``cuda`` / ``cuda:N`` as given
    when torch sees that GPU.

    Raises
    ------
    DeviceError
        An unknown spelling, or a CUDA device torch does not see.
    """
    if device == "cpu":
        return "cpu"
    index = 0 if device == "auto" else _cuda_index(device)
    if index is None:
        raise DeviceError(f"unknown device {device!r} (use auto, cpu or cuda[:N])")
    if device == "auto" and not nvidia_device_present():
        return "cpu"  # no NVIDIA driver device: CUDA cannot be there, and torch need not be imported to say so
    import torch

    available = torch.cuda.is_available()
    if device == "auto":
        return "cuda" if available else "cpu"
    if not available:
        raise DeviceError(f"device {device!r} requested but torch sees no CUDA GPU")
    count = torch.cuda.device_count()
    if index >= count:
        raise DeviceError(f"device {device!r} requested but torch sees {count} CUDA GPU{'s' if count > 1 else ''}")
    return device


def array_backend_device(device: str) -> str | None:
    """Where the morphable fit and G run for an analysis on ``device`` (a resolved device string):
    the CUDA device itself (their torch implementations, ``face.morphable.fit_torch`` and
    ``affect.g_torch``), or None for the numpy implementations on the CPU. On the CPU numpy is the
    faster of the two for a stream's small blocks (``benchmarks/morphable_speed.py --torch``) and
    needs no torch import."""
    return device if device.startswith("cuda") else None
