"""The lesson's nested function f = tanh(ln(1 + z*2x/sin(y))) at x=1, y=2, z=3: graph, gradients, stepper.

Run: python examples/nested_function.py [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

import graphviz_ad as gad


def f(x, y, z):
    a = 2 * x
    b = torch.sin(y)
    c = a / b
    d = 1 + z * c
    e = torch.log(d)
    return torch.tanh(e)


def main(out_dir: str = "examples_out") -> gad.Trace:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t = gad.trace(f, *(torch.tensor(v, requires_grad=True) for v in (1.0, 2.0, 3.0)))
    t.backward()
    t.render(out / "nested.svg")
    t.stepper().save(out / "nested_steps.html")
    for n in t.nodes:
        if n.kind != "const":
            print(f"{n.label:>3}  value {n.value.scalar():.8g}  grad {n.grad.scalar():.8g}")
    return t


if __name__ == "__main__":
    main(*sys.argv[1:])
