"""G in torch, on the analysis device (the GPU when the analysis runs on one).

:class:`TorchGRunner` has :class:`~facelens.core.affect.g_runtime.GRunner`'s interface and rule: the
LSTM steps only over usable frames, in order, and keeps its state across unusable ones; the
four-layer MLP reads the LSTM's output and the standardised inputs; an ensemble averages its
members. Where the numpy runner loops over frames in Python, this one hands a block's usable frames
to ``torch.nn.LSTM`` in one call per member (cuDNN on a GPU). The weights are the shipped ``.npz``,
in float64 by default, so both runners agree up to rounding (``tests/test_fit_torch.py``).
Which runner an analysis uses: :func:`facelens.core.common.devices.array_backend_device`.
"""
from __future__ import annotations

import numpy as np
import torch

from facelens.core.affect.g_runtime import GModel


class TorchGRunner:
    """One session of G in time order on a torch device: :meth:`step` on batches, :meth:`reset`
    between sessions; ``n_seq`` sequences of the same length (a session and its mirror image) are
    stepped together, as in :class:`~facelens.core.affect.g_runtime.GRunner`."""

    def __init__(self, model: GModel, n_seq: int = 1, device: str = "cpu", dtype: torch.dtype = torch.float64) -> None:
        self.model = model
        self.n_seq = int(n_seq)
        self.device = torch.device(device)
        self.dtype = dtype

        def put(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=self.device)

        ms = model.members
        self._lstms = []
        for m in ms:
            lstm = torch.nn.LSTM(m.n_inputs, m.hidden, batch_first=True).to(device=self.device, dtype=dtype)
            lstm.load_state_dict({"weight_ih_l0": put(m.w_ih), "weight_hh_l0": put(m.w_hh),
                                  "bias_ih_l0": put(m.b),  # the file keeps b_ih + b_hh as one bias
                                  "bias_hh_l0": torch.zeros(len(m.b), dtype=dtype, device=self.device)})
            lstm.requires_grad_(False)
            self._lstms.append(lstm)
        self._mean = put(np.stack([m.mean for m in ms]))  # (M, K)
        self._std = put(np.stack([m.std for m in ms]))
        self._layers = [(put(np.stack([m.layers[j][0] for m in ms]).transpose(0, 2, 1)),
                         put(np.stack([m.layers[j][1] for m in ms]))) for j in range(len(model.layers))]
        self.reset()

    def reset(self) -> None:
        shape = (self.n_seq, len(self._lstms), self.model.hidden)
        self.h = torch.zeros(shape, dtype=self.dtype, device=self.device)
        self.c = torch.zeros(shape, dtype=self.dtype, device=self.device)

    @torch.no_grad()
    def step(self, x: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(valence/arousal (B, 2), probabilities (B, 7)); NaN where not usable. With ``n_seq`` > 1,
        ``x`` is (n_seq, B, K), ``usable`` (B,) is shared, and the outputs are (n_seq, B, ...)."""
        x = np.asarray(x, np.float64)
        multi = self.n_seq > 1
        xs = x.reshape(self.n_seq, x.shape[-2] if multi else len(x), -1)
        ok = np.asarray(usable, bool) & np.all(np.isfinite(xs), axis=(0, 2))
        xt = torch.as_tensor(xs, dtype=self.dtype, device=self.device)
        z = torch.nan_to_num((xt[:, None] - self._mean[None, :, None]) / self._std[None, :, None])  # (S, M, B, K)
        hs = torch.zeros(z.shape[:3] + (self.model.hidden,), dtype=self.dtype, device=self.device)
        idx = torch.as_tensor(np.flatnonzero(ok), device=self.device)
        if len(idx):
            for j, lstm in enumerate(self._lstms):
                out, (h, c) = lstm(z[:, j, idx], (self.h[:, j][None].contiguous(), self.c[:, j][None].contiguous()))
                hs[:, j, idx] = out
                self.h[:, j], self.c[:, j] = h[0], c[0]
        a = torch.cat([hs, z], dim=3)
        for k, (w, b) in enumerate(self._layers):
            a = torch.matmul(a, w[None]) + b[None, :, None]
            if k < len(self._layers) - 1:
                a = torch.relu(a)
        va = torch.tanh(a[..., :2]).mean(dim=1)  # (S, B, 2): the ensemble's average
        p = torch.softmax(a[..., 2:], dim=-1).mean(dim=1)
        va_np, p_np = va.cpu().numpy(), p.cpu().numpy()
        va_np[:, ~ok], p_np[:, ~ok] = np.nan, np.nan
        return (va_np, p_np) if multi else (va_np[0], p_np[0])
