"""A single neuron and its squared loss, autograd against the hand derivation (lesson section 2).

prediction = tanh(x*w + b), loss = (y_true - prediction)^2 at w=-0.5, b=0.5, x=1, y_true=7:
loss = 49, dloss/dw = -2x(y_t - y_p)(1 - y_p^2) = -14, dloss/db = -2(y_t - y_p)(1 - y_p^2) = -14.

Run: python examples/single_neuron.py [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

import graphviz_ad as gad


def neuron_loss(x, w, b, y_true):
    prediction = torch.tanh(x * w + b)
    loss = (y_true - prediction) ** 2
    return loss


def main(out_dir: str = "examples_out") -> gad.Trace:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    x, y_true = torch.tensor(1.0), torch.tensor(7.0)
    w, b = torch.tensor(-0.5, requires_grad=True), torch.tensor(0.5, requires_grad=True)
    t = gad.trace(neuron_loss, x, w, b, y_true).backward()
    t.render(out / "single_neuron.svg", rankdir="LR")
    t.stepper(rankdir="LR").save(out / "single_neuron_steps.html")
    y_p = t.node("prediction").value.scalar()
    hand_w = -2 * 1.0 * (7.0 - y_p) * (1 - y_p**2)
    hand_b = -2 * (7.0 - y_p) * (1 - y_p**2)
    print(f"loss {t.node('loss').value.scalar():g}; dloss/dw autograd {t.node('w').grad.scalar():g} hand {hand_w:g}; "
          f"dloss/db autograd {t.node('b').grad.scalar():g} hand {hand_b:g}")
    return t


if __name__ == "__main__":
    main(*sys.argv[1:])
