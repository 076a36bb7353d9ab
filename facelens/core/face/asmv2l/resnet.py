"""ResNet-18 in plain torch (torchvision does not import beside this torch build).

He et al. 2016, "Deep Residual Learning for Image Recognition", Table 1, 18-layer column: a 7x7/2 stem
with 3x3/2 max-pool, then four stages of two basic blocks (two 3x3 convolutions each) with
``width * (1, 2, 4, 8)`` channels, stride 2 at the first block of stages 2-4 with a 1x1 projection
shortcut. ``width=64`` is the published network (11.2 M parameters without the classifier); smaller
widths are the CPU configurations of :mod:`facelens.core.face.asmv2l.network`.
"""
from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 projection) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.short: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.short = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.short(x))


class ResNet18(nn.Module):
    """ResNet-18 trunk without pooling/classifier: (B,3,H,W) -> (B, 8*width, H/32, W/32).

    Parameters
    ----------
    width
        Channels of the first stage (64 in the paper).
    """

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.out_channels = 8 * width
        self.stem = nn.Sequential(nn.Conv2d(3, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        stages = []
        c = width
        for k, mult in enumerate((1, 2, 4, 8)):
            c_out = width * mult
            stride = 1 if k == 0 else 2
            stages.append(nn.Sequential(BasicBlock(c, c_out, stride), BasicBlock(c_out, c_out)))
            c = c_out
        self.stages = nn.Sequential(*stages)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for m in self.modules():  # zero-init the last BN of each block: blocks start as identities
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))
