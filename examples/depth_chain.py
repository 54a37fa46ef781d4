"""Exploding and vanishing gradients: a chain of 50 one-neuron linear layers (lesson section 4).

prediction = x * w1 * ... * w50. With every w = 2 the gradients explode (d pred / d w1 = 2^49);
with w = 0.5 they vanish (0.5^49). Coloured by gradient magnitude, both show at a glance.

Run: python examples/depth_chain.py [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

import graphviz_ad as gad


def build(w: float = 2.0, depth: int = 50) -> nn.Module:
    layers = [nn.Linear(1, 1, bias=False) for _ in range(depth)]
    with torch.no_grad():
        for layer in layers:
            layer.weight.fill_(w)
    return nn.Sequential(*layers)


def build_exploding() -> nn.Module:
    return build(2.0)


def build_vanishing() -> nn.Module:
    return build(0.5)


def main(out_dir: str = "examples_out") -> dict[float, gad.Trace]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    traces = {}
    for w, name in ((2.0, "exploding"), (0.5, "vanishing")):
        model = build(w)
        t = gad.trace(model, torch.ones(1, 1)).backward()
        t.render(out / f"chain_{name}.svg", grad_color=True, rankdir="LR", depth=0)
        t.render(out / f"chain_{name}_layers.svg", grad_color=True, rankdir="LR", depth=None)
        pred = t.graph.node(t.graph.outputs[0]).value.scalar()
        g1 = t.node("0.weight").grad.scalar()
        print(f"w={w}: prediction {pred:.8g}, d prediction / d w1 = {g1:.8g}")
        traces[w] = t
    return traces


if __name__ == "__main__":
    main(*sys.argv[1:])
