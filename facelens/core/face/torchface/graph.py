"""Execute a parsed tflite graph op by op as a batched torch module.

Every 4-D activation is kept in torch's NCHW layout; the tflite graph reasons in
NHWC, so the ops that depend on the memory order (RESHAPE, CONCATENATION,
STRIDED_SLICE, PAD and 4-D constants) translate at that point. The batch dimension
of every tensor (1 in the file) becomes N.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from . import custom_ops
from .tflite import Model, Op

_NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}


def _to_nchw(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 1, 2) if x.dim() == 4 else x


def _to_nhwc(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1) if x.dim() == 4 else x


def _same_pad(size: int, k: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TF 'SAME' padding: the odd pixel goes after (bottom/right), unlike torch's symmetric pad."""
    eff = (k - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


def _activate(x: torch.Tensor, act: str) -> torch.Tensor:
    if act == "none":
        return x
    if act == "relu":
        return F.relu(x)
    if act == "relu6":
        return F.hardtanh(x, 0.0, 6.0)
    if act == "relu_n1_to_1":
        return F.hardtanh(x, -1.0, 1.0)
    raise NotImplementedError(f"fused activation {act}")


class TFLiteGraph(torch.nn.Module):
    """A tflite model as a torch module; ``forward`` takes NCHW input, returns NHWC outputs.

    Parameters
    ----------
    model : Model
        Parsed by :func:`facelens.core.face.torchface.tflite.read_model`.

    Notes
    -----
    Only the operators of mediapipe's face detector and face meshes are supported
    (CONV_2D, DEPTHWISE_CONV_2D, PRELU, RELU, ADD, MUL, MAX_POOL_2D, PAD, RESHAPE,
    CONCATENATION, STRIDED_SLICE and the three mediapipe custom ops); anything else
    raises ``NotImplementedError`` at construction, not at run time.
    """

    def __init__(self, model: Model) -> None:
        super().__init__()
        self.model = model
        self._const_names: dict[int, str] = {}
        self._steps: list[Callable[[dict[int, torch.Tensor]], None]] = []
        for op in model.ops:
            self._steps.append(self._compile(op))
        # free each activation after its last reader: at batch 256 keeping all of them
        # alive would cost gigabytes of device memory
        last: dict[int, int] = {}
        for n, op in enumerate(model.ops):
            for i in op.inputs:
                if i >= 0 and not self._is_const(i):
                    last[i] = n
        keep = set(model.outputs)
        self._free: list[list[int]] = [[] for _ in model.ops]
        for tid, n in last.items():
            if tid not in keep:
                self._free[n].append(tid)
        self.input_id = model.inputs[0]
        self.output_names = [model.tensors[i].name for i in model.outputs]

    # ----- constants -------------------------------------------------------------
    def _const(self, tid: int, layout: str = "raw") -> str:
        """Register tensor ``tid`` (or a re-laid-out copy of it) as a buffer; returns its name."""
        key = f"c{tid}_{layout}"
        if not hasattr(self, key):
            data = self.model.tensors[tid].data
            if data is None:
                raise ValueError(f"tensor {self.model.tensors[tid].name} is not constant")
            arr = np.asarray(data)
            if layout == "conv":  # (out, kh, kw, in) -> (out, in, kh, kw)
                arr = arr.transpose(0, 3, 1, 2)
            elif layout == "dw":  # (1, kh, kw, C) -> (C, 1, kh, kw)
                arr = arr.transpose(3, 0, 1, 2)
            elif layout == "vec":  # flat per-channel vector (F.prelu)
                arr = arr.reshape(-1)
            elif layout == "chan":  # per-channel vector for an NCHW operand
                arr = arr.reshape(1, -1, 1, 1)
            elif layout == "nchw" and arr.ndim == 4:
                arr = arr.transpose(0, 3, 1, 2)
            self.register_buffer(key, torch.from_numpy(np.ascontiguousarray(arr)), persistent=False)
        return key

    def _is_const(self, tid: int) -> bool:
        return self.model.tensors[tid].data is not None

    def _shape(self, tid: int) -> tuple[int, ...]:
        return self.model.tensors[tid].shape

    # ----- compile each op into a closure over tensor ids --------------------------
    def _compile(self, op: Op) -> Callable[[dict[int, torch.Tensor]], None]:
        k, o, ins, out = op.kind, op.options, op.inputs, op.outputs[0]
        if k in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            return self._compile_conv(op)
        if k == "MAX_POOL_2D":
            kh, kw = o["kernel"]
            sh, sw = o["stride"]
            _, _, h, w = (1, 1, *self._shape(ins[0])[1:3])
            pads = (0, 0, 0, 0)
            if o["padding"] == "same":
                pt, pb = _same_pad(h, kh, sh)
                pl, pr = _same_pad(w, kw, sw)
                pads = (pl, pr, pt, pb)

            def pool(t: dict[int, torch.Tensor]) -> None:
                x = t[ins[0]]
                if any(pads):
                    x = F.pad(x, pads, value=float("-inf"))
                t[out] = _activate(F.max_pool2d(x, (kh, kw), (sh, sw)), o["activation"])

            return pool
        if k == "PAD":
            p = np.asarray(self.model.tensors[ins[1]].data).astype(int).tolist()
            if len(p) == 4:  # NHWC -> F.pad order (w, h, c)
                pads4 = (p[2][0], p[2][1], p[1][0], p[1][1], p[3][0], p[3][1])
            else:
                pads4 = tuple(v for pair in reversed(p[1:]) for v in pair)

            def pad(t: dict[int, torch.Tensor]) -> None:
                t[out] = F.pad(t[ins[0]], pads4)

            return pad
        if k in ("ADD", "MUL"):
            return self._compile_binary(op)
        if k == "RELU":
            return lambda t: t.__setitem__(out, F.relu(t[ins[0]]))
        if k == "PRELU":
            four_d = len(self._shape(ins[0])) == 4
            name = self._const(ins[1], "vec" if four_d else "raw")

            def prelu(t: dict[int, torch.Tensor]) -> None:
                x = t[ins[0]]
                a = getattr(self, name)
                # one fused kernel for NCHW; elsewhere torch.where (far faster than masks)
                t[out] = F.prelu(x, a) if four_d else torch.where(x >= 0, x, x * a)

            return prelu
        if k == "RESHAPE":
            tail = self._shape(out)[1:]

            def reshape(t: dict[int, torch.Tensor]) -> None:
                x = _to_nhwc(t[ins[0]])
                t[out] = _to_nchw(x.reshape(x.shape[0], *tail))

            return reshape
        if k == "CONCATENATION":
            nd = len(self._shape(out))
            axis = o["axis"] % nd
            axis = _NHWC_TO_NCHW_AXIS[axis] if nd == 4 else axis

            def concat(t: dict[int, torch.Tensor]) -> None:
                t[out] = _activate(torch.cat([t[i] for i in ins], dim=axis), o["activation"])

            return concat
        if k == "STRIDED_SLICE":
            return self._compile_strided_slice(op)
        if k == "Landmarks2TransformMatrix":
            return lambda t: t.__setitem__(out, custom_ops.landmarks_to_transform_matrix(t[ins[0]], o))
        if k == "TransformTensorBilinear":
            return lambda t: t.__setitem__(out, custom_ops.transform_tensor_bilinear(t[ins[0]], t[ins[1]], o))
        if k == "TransformLandmarks":
            return lambda t: t.__setitem__(out, custom_ops.transform_landmarks(t[ins[0]], t[ins[1]]))
        raise NotImplementedError(f"tflite op {k} is not supported")

    def _compile_conv(self, op: Op) -> Callable[[dict[int, torch.Tensor]], None]:
        o, ins, out = op.options, op.inputs, op.outputs[0]
        depthwise = op.kind == "DEPTHWISE_CONV_2D"
        wshape = self._shape(ins[1])
        w_name = self._const(ins[1], "dw" if depthwise else "conv")
        b_name = self._const(ins[2]) if len(ins) > 2 and ins[2] >= 0 else None
        groups = self._shape(ins[0])[3] if depthwise else 1
        kh, kw = wshape[1], wshape[2]
        sh, sw = o["stride"]
        dh, dw = o["dilation"]
        _, h, w, _ = self._shape(ins[0])
        pad_mode = "none"
        pads = (0, 0, 0, 0)
        if o["padding"] == "same":
            pt, pb = _same_pad(h, kh, sh, dh)
            pl, pr = _same_pad(w, kw, sw, dw)
            pads = (pl, pr, pt, pb)
            pad_mode = "sym" if (pl == pr and pt == pb) else "asym"
        act = o["activation"]

        def conv(t: dict[int, torch.Tensor]) -> None:
            x = t[ins[0]]
            bias = getattr(self, b_name) if b_name else None
            if pad_mode == "asym":
                x = F.pad(x, pads)
                y = F.conv2d(x, getattr(self, w_name), bias, (sh, sw), 0, (dh, dw), groups)
            else:
                y = F.conv2d(x, getattr(self, w_name), bias, (sh, sw), (pads[2], pads[0]), (dh, dw), groups)
            t[out] = _activate(y, act)

        return conv

    def _compile_binary(self, op: Op) -> Callable[[dict[int, torch.Tensor]], None]:
        ins, out, act = op.inputs, op.outputs[0], op.options.get("activation", "none")
        out_nd = len(self._shape(out))
        fetch: list[Any] = []
        for i in ins:
            if self._is_const(i):
                nd = len(self._shape(i))
                layout = "nchw" if nd == 4 else ("chan" if (out_nd == 4 and nd == 1) else "raw")
                fetch.append(self._const(i, layout))
            else:
                fetch.append(i)
        fn = torch.add if op.kind == "ADD" else torch.mul

        def binary(t: dict[int, torch.Tensor]) -> None:
            a, b = (getattr(self, f) if isinstance(f, str) else t[f] for f in fetch)
            t[out] = _activate(fn(a, b), act)

        return binary

    def _compile_strided_slice(self, op: Op) -> Callable[[dict[int, torch.Tensor]], None]:
        ins, out, o = op.inputs, op.outputs[0], op.options
        begin = np.asarray(self.model.tensors[ins[1]].data).tolist()
        end = np.asarray(self.model.tensors[ins[2]].data).tolist()
        strides = np.asarray(self.model.tensors[ins[3]].data).tolist()
        if o.get("shrink_axis_mask", 0):
            raise NotImplementedError("STRIDED_SLICE with shrink_axis_mask")
        sl: list[slice] = [slice(None)]  # the batch dimension is always kept whole
        for d in range(1, len(begin)):
            b = None if (o.get("begin_mask", 0) >> d) & 1 else begin[d]
            e = None if (o.get("end_mask", 0) >> d) & 1 else end[d]
            sl.append(slice(b, e, strides[d]))

        def strided(t: dict[int, torch.Tensor]) -> None:
            x = _to_nhwc(t[ins[0]])
            t[out] = _to_nchw(x[tuple(sl)])

        return strided

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the graph on an NCHW float batch; returns outputs by name, NHWC layout."""
        t: dict[int, torch.Tensor] = {self.input_id: x}
        for step, dead in zip(self._steps, self._free):
            step(t)
            for tid in dead:
                del t[tid]
        return {self.model.tensors[i].name: _to_nhwc(t[i]) for i in self.model.outputs}
