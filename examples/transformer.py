"""A 6-layer transformer encoder from torch.nn (d_model 128) on a 1x32x128 input, with a mean-squared loss.

Run: python examples/transformer.py [OUT_DIR]
CLI: graphviz-ad model examples/transformer.py:build --input 1x32x128 --loss mse -o transformer.svg
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

import graphviz_ad as gad


def build(layers: int = 6, d_model: int = 128) -> nn.Module:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model, nhead=4, dim_feedforward=256, dropout=0.1, batch_first=True)
    model = nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)
    model.eval()  # dropout off, as at inference; train() works too
    return model


def main(out_dir: str = "examples_out") -> gad.Trace:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = build()
    x = torch.randn(1, 32, 128, generator=torch.Generator().manual_seed(1))
    t = gad.trace(lambda: model(x).pow(2).mean()).backward()
    t.render(out / "transformer.svg")  # automatic depth
    print(f"{len(t.nodes)} nodes, {len(t.steps)} backward steps; wrote {out / 'transformer.svg'}")
    return t


if __name__ == "__main__":
    main(*sys.argv[1:])
