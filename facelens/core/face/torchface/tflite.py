"""Read a ``.tflite`` flatbuffer into plain Python objects (no TensorFlow).

The schema classes ship inside mediapipe 0.10.21
(``mediapipe/tasks/metadata/schema_py_generated.py``), so reading the models needs
nothing beyond the mediapipe wheel that already holds them. Float16 weights sit
behind ``DEQUANTIZE`` ops; :func:`read_model` folds those into float32 constants so
that the executor never sees them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# tflite TensorType codes -> numpy dtypes (only the ones these models use).
_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}

# Builtin options we decode, by the option table's class name in the schema.
_ACTIVATIONS = {0: "none", 1: "relu", 2: "relu_n1_to_1", 3: "relu6"}


@dataclass
class Tensor:
    """One tensor of the graph: its name, NHWC shape (batch 1) and constant data if any."""

    name: str
    shape: tuple[int, ...]
    data: np.ndarray | None = None


@dataclass
class Op:
    """One operator: its kind (builtin name or custom code), tensor ids and options."""

    kind: str
    inputs: list[int]
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)
    version: int = 1


@dataclass
class Model:
    """A single-subgraph tflite model."""

    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]

    def tensor_id(self, name: str) -> int:
        """Index of the tensor called ``name`` (KeyError if absent)."""
        for i, t in enumerate(self.tensors):
            if t.name == name:
                return i
        raise KeyError(name)


def mediapipe_model_path(relative: str) -> Path:
    """Path of a model file shipped inside the installed mediapipe wheel.

    Parameters
    ----------
    relative : str
        Path below the ``mediapipe`` package, e.g.
        ``"modules/face_landmark/face_landmark_with_attention.tflite"``.
    """
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("mediapipe is not installed; its wheel holds the face models")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise FileNotFoundError(f"model file missing from the mediapipe wheel: {relative}")
    return path


def _options(s: Any, op: Any, kind: str) -> dict[str, Any]:
    """Decode the builtin options that the executor needs for ``kind``."""
    table = op.BuiltinOptions()
    if table is None:
        return {}

    def init(cls: Any) -> Any:
        o = cls()
        o.Init(table.Bytes, table.Pos)
        return o

    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        cls = s.Conv2DOptions if kind == "CONV_2D" else s.DepthwiseConv2DOptions
        o = init(cls)
        return {
            "padding": "same" if o.Padding() == 0 else "valid",
            "stride": (o.StrideH(), o.StrideW()),
            "dilation": (o.DilationHFactor(), o.DilationWFactor()),
            "activation": _ACTIVATIONS[o.FusedActivationFunction()],
        }
    if kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        o = init(s.Pool2DOptions)
        return {
            "padding": "same" if o.Padding() == 0 else "valid",
            "stride": (o.StrideH(), o.StrideW()),
            "kernel": (o.FilterHeight(), o.FilterWidth()),
            "activation": _ACTIVATIONS[o.FusedActivationFunction()],
        }
    if kind in ("ADD", "MUL"):
        o = init(s.AddOptions if kind == "ADD" else s.MulOptions)
        return {"activation": _ACTIVATIONS[o.FusedActivationFunction()]}
    if kind == "CONCATENATION":
        o = init(s.ConcatenationOptions)
        return {"axis": o.Axis(), "activation": _ACTIVATIONS[o.FusedActivationFunction()]}
    if kind == "RESHAPE":
        o = init(s.ReshapeOptions)
        return {"new_shape": [int(v) for v in o.NewShapeAsNumpy()] if o.NewShapeLength() else None}
    if kind == "STRIDED_SLICE":
        o = init(s.StridedSliceOptions)
        return {"begin_mask": o.BeginMask(), "end_mask": o.EndMask(), "shrink_axis_mask": o.ShrinkAxisMask()}
    return {}


def read_model(path: str | os.PathLike[str]) -> Model:
    """Parse a tflite file, folding DEQUANTIZE(float16 constant) into float32 constants.

    Parameters
    ----------
    path : path-like
        The ``.tflite`` file.

    Returns
    -------
    Model
        Tensors, operators (DEQUANTIZE removed) and graph inputs/outputs.
    """
    from flatbuffers import flexbuffers
    from mediapipe.tasks.metadata import schema_py_generated as s

    buf = Path(path).read_bytes()
    m = s.Model.GetRootAsModel(buf, 0)
    if m.SubgraphsLength() != 1:
        raise ValueError(f"{path}: expected one subgraph, found {m.SubgraphsLength()}")
    g = m.Subgraphs(0)
    builtin_names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}

    tensors: list[Tensor] = []
    for i in range(g.TensorsLength()):
        t = g.Tensors(i)
        shape = tuple(int(v) for v in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        b = m.Buffers(t.Buffer())
        data = None
        if b is not None and b.DataLength():
            raw = b.DataAsNumpy().tobytes()
            data = np.frombuffer(raw, dtype=_DTYPES[t.Type()]).reshape(shape).copy()
        tensors.append(Tensor(t.Name().decode(), shape, data))

    ops: list[Op] = []
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        code = m.OperatorCodes(op.OpcodeIndex())
        num = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        kind = builtin_names[num] if num != s.BuiltinOperator.CUSTOM else code.CustomCode().decode()
        ins = [int(v) for v in op.InputsAsNumpy()] if op.InputsLength() else []
        outs = [int(v) for v in op.OutputsAsNumpy()]
        if kind == "DEQUANTIZE":
            src = tensors[ins[0]]
            if src.data is None:
                raise ValueError(f"{path}: DEQUANTIZE of a non-constant tensor {src.name}")
            tensors[outs[0]].data = src.data.astype(np.float32)
            continue
        if num == s.BuiltinOperator.CUSTOM:
            raw_opts = op.CustomOptionsAsNumpy()
            blob = bytes(raw_opts) if not isinstance(raw_opts, int) else b""
            options = dict(flexbuffers.Loads(blob)) if len(blob) > 2 else {}
        else:
            options = _options(s, op, kind)
        ops.append(Op(kind, ins, outs, options, code.Version()))

    inputs = [int(v) for v in g.InputsAsNumpy()]
    outputs = [int(v) for v in g.OutputsAsNumpy()]
    return Model(tensors, ops, inputs, outputs)
