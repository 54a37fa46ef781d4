"""The legend shows only what the picture draws; ‖g‖ (a tensor edge's gradient norm) is explained where drawn."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import graphviz_ad as gad
from tests.helpers import f, leaves, needs_dot


def test_no_gradient_legend_without_gradients():
    t = gad.trace(f, *leaves(1.0, 2.0, 3.0))
    assert "∇ gradient" not in t.to_dot() and "legend_grad" not in t.to_dot()
    t.backward()
    dot = t.to_dot()
    assert "∇ gradient" in dot and "‖g‖" not in dot  # scalar edges only: no norm drawn, none explained
    assert "∇ gradient" not in t.to_dot(grads=False)


def test_norm_of_tensor_edges_is_explained():
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    t = gad.trace(lambda x: net(x).sum(), torch.randn(2, 3)).backward()
    dot = t.to_dot()
    assert "‖g‖ norm of a tensor edge’s gradient" in dot and "label=<<FONT COLOR=\"#AA3377\" POINT-SIZE=\"9\">‖g‖" in dot


@needs_dot
def test_the_stepper_hides_the_gradient_legend_in_the_forward_frame():
    s = gad.trace(f, *leaves(1.0, 2.0, 3.0)).backward().stepper()
    frames = s.frames()
    assert 'class="gad-frame gad-frame-forward"' in frames[0]
    assert ".gad-frame-forward .gad-legend-grad{visibility:hidden}" in frames[0]
    assert ".gad-stepper.gad-at-forward .gad-legend-grad{visibility:hidden}" in s.to_html()


@pytest.mark.browser
@pytest.mark.slow
@needs_dot
def test_the_page_shows_the_gradient_legend_once_gradients_are_drawn(watched, tmp_path):
    path = tmp_path / "s.html"
    gad.trace(f, *leaves(1.0, 2.0, 3.0)).backward().stepper().save(path)
    watched.open(path)
    page = watched.page
    visibility = "el => getComputedStyle(el).visibility"
    assert page.eval_on_selector(".gad-legend-grad", visibility) == "hidden"
    page.click(".gad-next")
    assert page.eval_on_selector(".gad-legend-grad", visibility) == "visible"
