"""Hugging Face models as their users call them: ``gad.trace(model, input_ids=..., labels=...)``, then
``t.backward()`` starts from the output's scalar ``loss``, with autograd's numbers, and leaves the model as
it was."""

from __future__ import annotations

import copy

import pytest
import torch

import graphviz_ad as gad
from graphviz_ad.errors import BackwardError
from tests.hf_models import ARCH_PARAMS, build, same_state, state

pytestmark = pytest.mark.slow  # end to end: `-m "not slow"` leaves it out

pytest.importorskip("transformers")


def _plain(model: torch.nn.Module, kw: dict) -> tuple[torch.nn.Module, object]:
    """A plain copy's forward and ``loss.backward()``, with the same random numbers (dropout)."""
    plain = copy.deepcopy(model)
    torch.manual_seed(1)
    out = plain(**kw)
    out.loss.backward()
    return plain, out


@pytest.mark.parametrize("arch", ARCH_PARAMS)
def test_backward_starts_from_the_loss_and_leaves_the_model_as_found(arch):
    model, kw = build(arch)
    before = state(model)
    _, plain_out = _plain(model, kw)
    torch.manual_seed(1)
    t = gad.trace(model, **kw)
    assert torch.equal(t.output.loss, plain_out.loss)
    assert torch.equal(t.output.logits, plain_out.logits)
    t.backward()
    loss_node = next(n for n in t.nodes if n.id in t.graph.outputs and n.shape == ())
    assert t.steps[0].node == loss_node.id  # the engine started at the loss
    assert loss_node.grad is not None and loss_node.grad.data == 1.0
    assert same_state(state(model), before)
    assert not torch.nn.modules.module._global_forward_hooks
    assert not torch.nn.modules.module._global_forward_pre_hooks


@pytest.mark.parametrize("arch", ARCH_PARAMS)
def test_parameter_gradients_are_bit_equal_to_a_plain_run(arch):
    model, kw = build(arch)
    plain, _ = _plain(model, kw)
    torch.manual_seed(1)
    gad.trace(model, **kw).backward(accumulate=True)
    grads = dict(plain.named_parameters())
    for name, p in model.named_parameters():
        q = grads[name]
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            assert torch.equal(p.grad, q.grad), name


def test_a_recorded_parameter_gradient_is_autograds():
    model, kw = build("gpt2")
    plain, _ = _plain(model, kw)
    torch.manual_seed(1)
    t = gad.trace(model, **kw).backward()
    node = t.node("transformer.ln_f.bias")  # 16 numbers: kept whole
    assert node.grad.data == plain.transformer.ln_f.bias.grad.tolist()


def test_without_a_loss_the_error_names_the_outputs_and_how_to_pick_one():
    model, kw = build("gpt2")
    kw.pop("labels")
    t = gad.trace(lambda **k: (model(**k).logits, model(**k).logits.sum()), **kw)
    with pytest.raises(BackwardError) as info:
        t.backward()
    msg = str(info.value)
    assert "output[0] (1, 6, 64)" in msg and "output[1] ()" in msg
    assert ".loss" in msg and "gradient=" in msg


def test_an_explicit_gradient_still_seeds_every_output():
    model, kw = build("gpt2")
    t = gad.trace(model, **kw)
    seeds = [torch.ones_like(o) for o in t.output_tensors if o.requires_grad]
    t.backward(seeds)
    assert t.node("transformer.wte.weight").grad is not None
