"""The Python transcript writes a reflected call in the source's order: ``1 - e`` is ``e.__rsub__(1)``, which the
recorder sees with its operands the other way round (it used to read ``sub of 1, e``, order unknown)."""

from __future__ import annotations

import torch

import graphviz_ad as gad


def test_reflected_and_plain_calls_read_in_source_order():
    def f(x, y):
        e = torch.log(x)
        g = 1 - e
        h = 2 / g
        k = h - y
        m = k / 3
        return m ** 2

    t = gad.trace(f, torch.tensor(2.0, requires_grad=True), torch.tensor(0.5, requires_grad=True)).backward()
    text = t.stepper().text()
    for expected in ("g = 1 - e", "h = 2 / g", "k = h - y", "m = k / 3", "f = m**2"):
        assert expected in text, (expected, text)
    assert " of " not in text  # no 'sub of 1, e'
    reflected = {n.label for n in t.nodes if "reflected" in n.flags}
    assert reflected == {"g", "h"}
    # the numbers are autograd's, whatever the display order
    x, y = torch.tensor(2.0, requires_grad=True), torch.tensor(0.5, requires_grad=True)
    f(x, y).backward()
    assert t.node("x").grad.scalar() == x.grad.item() and t.node("y").grad.scalar() == y.grad.item()
