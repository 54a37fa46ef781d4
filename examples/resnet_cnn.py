"""A small ResNet-style CNN built from torch.nn (no downloads): residual blocks of Conv/BatchNorm/ReLU.

Run: python examples/resnet_cnn.py [OUT_DIR]
CLI: graphviz-ad model examples/resnet_cnn.py:build --input 1x3x64x64 --target 1 --loss cross_entropy -o cnn.svg
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

import graphviz_ad as gad


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNetCNN(nn.Module):
    def __init__(self, classes: int = 10, width: int = 16) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.layer1 = nn.Sequential(BasicBlock(width, width), BasicBlock(width, width))
        self.layer2 = nn.Sequential(BasicBlock(width, 2 * width, 2), BasicBlock(2 * width, 2 * width))
        self.layer3 = nn.Sequential(BasicBlock(2 * width, 4 * width, 2), BasicBlock(4 * width, 4 * width))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4 * width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def build() -> nn.Module:
    torch.manual_seed(0)
    return ResNetCNN()


def main(out_dir: str = "examples_out") -> gad.Trace:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = build()
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    target = torch.tensor([3])
    t = gad.trace(lambda: nn.functional.cross_entropy(model(x), target)).backward()
    t.render(out / "resnet_cnn.svg")  # automatic depth: readable without options
    t.render(out / "resnet_cnn_depth1.svg", depth=1)
    print(f"{len(t.nodes)} nodes, {len(t.steps)} backward steps; wrote {out / 'resnet_cnn.svg'}")
    return t


if __name__ == "__main__":
    main(*sys.argv[1:])
