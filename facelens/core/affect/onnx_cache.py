"""The emotion model's ONNX export, kept beside the verified weights once it has been checked.

:class:`~facelens.core.affect.fer.FerEmotionModel` exports its torch module to ONNX and checks that
onnxruntime agrees with torch (softmax within 1e-5 on a probe batch) before using it. The checked
bytes are stored in the model cache under a name made of the weights' SHA-256, the torch version
that exported them and the opset, so later analyses load them straight into onnxruntime without
importing torch (about 240 MB less memory, and a faster start). Any mismatch of those keys, or an
unreadable file, means: export and check again.
"""
from __future__ import annotations

from importlib import metadata
from pathlib import Path

OPSET = 17


def _key(weights: Path) -> str | None:
    from facelens.core.common.hashing import sha256_file

    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None
    return f"fer2013-{sha256_file(weights)[:16]}-torch{torch_version}-opset{OPSET}.onnx"


def _folder() -> Path:
    from facelens.core.registry import cache_dir

    return cache_dir() / "derived"


def load(weights: Path) -> bytes | None:
    """The checked ONNX bytes for ``weights``, or ``None`` when none are stored for this torch version."""
    key = _key(weights)
    path = _folder() / key if key else None
    if path is None or not path.is_file():
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None


def save(weights: Path, onnx_bytes: bytes) -> None:
    """Store checked bytes (best effort: a read-only cache only costs the export next time)."""
    from facelens.core.common.atomic import atomic_write_bytes

    key = _key(weights)
    if key is None:
        return
    try:
        atomic_write_bytes(_folder() / key, onnx_bytes, make_parents=True, shared=True)
    except OSError:
        pass
