"""A Hugging Face model's default picture reads like the model: no library-wrapper clusters, gradient-free mask
and position plumbing folded, no empty cluster, unique names, no no-op casts, at most about 60 boxes; the
numbers in every box still autograd's; ``show_all`` draws everything as recorded."""

from __future__ import annotations

import copy
import re

import pytest
import torch

import graphviz_ad as gad
from graphviz_ad.render.collapse import LIBRARY_MAX_NODES, resolve_view
from graphviz_ad.render.tidy import CASTS, PLUMBING_OP
from tests.helpers import needs_dot
from tests.hf_models import ARCH_PARAMS, build

pytest.importorskip("transformers")

_BOX = re.compile(r"^\s+(\w+) \[id=\"", re.M)


def _traced(arch: str) -> tuple[gad.Trace, torch.nn.Module]:
    model, kw = build(arch)
    plain = copy.deepcopy(model)
    torch.manual_seed(1)
    plain(**kw).loss.backward()
    torch.manual_seed(1)
    return gad.trace(model, **kw).backward(), plain


def _boxes(dot: str) -> list[str]:
    return [b for b in _BOX.findall(dot) if b not in ("legend", "legend_grad")]


@pytest.mark.parametrize("arch", ARCH_PARAMS)
def test_the_default_picture_reads_like_the_model(arch):
    t, plain = _traced(arch)
    dot = t.to_dot()
    assert "gad-cluster-function" not in dot  # no library frames, no forward frames
    assert len(_boxes(dot)) <= LIBRARY_MAX_NODES
    view, mapping = resolve_view(t.graph, "auto")
    # no empty cluster: each holds a box or a cluster that does
    holds = {n.cluster for n in view.nodes}
    parents = {c.id: c.parent for c in view.clusters}
    for c in list(holds):
        while c is not None:
            holds.add(c)
            c = parents.get(c)
    assert {c.id for c in view.clusters} <= holds
    # labels unique within their cluster
    names = [(n.cluster, n.label) for n in view.nodes if n.kind in ("op", "output") and n.label != n.op]
    assert len(names) == len(set(names))
    by_id = view.node_index
    for n in view.nodes:
        # the plumbing is folded: nothing drawn that carries no gradient and holds indices or a mask
        if n.kind in ("op", "const") and n.op != PLUMBING_OP and n.id not in view.outputs:
            assert not ("no_grad" in n.flags and n.value is not None and n.value.device != "python"
                        and (n.value.dtype == "bool" or n.value.dtype.startswith("int"))), n
        # no cast that changes nothing
        if n.op in CASTS and len(n.operands) == 1 and n.operands[0] in by_id:
            src = by_id[n.operands[0]].value
            assert (src.dtype, src.device) != (n.value.dtype, n.value.device), n
    assert any(n.op == PLUMBING_OP for n in t.graph.nodes) is False  # a view: the trace is untouched
    if arch != "vit":  # a ViT has no mask
        assert any(n.op == PLUMBING_OP for n in view.nodes)
    # every number drawn is autograd's: the trace's own values, and the parameters' gradients a plain run's
    originals = t.graph.node_index
    plain_grads = {k: p.grad for k, p in plain.named_parameters()}
    for n in view.nodes:
        if n.id in originals:
            assert n.value is originals[n.id].value and n.grad is originals[n.id].grad
        if n.kind == "param" and n.grad is not None and n.grad.kind == "exact" and n.label in plain_grads:
            assert n.grad.data == plain_grads[n.label].tolist(), n.label
    assert all(mapping[k] in by_id for k in mapping)


@pytest.mark.parametrize("arch", ARCH_PARAMS)
def test_show_all_draws_the_library_frames_and_the_plumbing_as_recorded(arch):
    t, _ = _traced(arch)
    full = t.to_dot(show_all=True, depth=None)
    assert "gad-cluster-function" in full
    assert len(_boxes(full)) == len(t.nodes)  # every recorded node, plumbing included
    assert PLUMBING_OP not in full
    assert len(_boxes(t.to_dot(show_all=True))) > len(_boxes(t.to_dot()))


@needs_dot
@pytest.mark.parametrize("arch", ARCH_PARAMS)
def test_the_default_svg_is_drawn(arch):
    t, _ = _traced(arch)
    svg = t.to_svg()
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    assert "mask and position plumbing" in svg or arch == "vit"


@pytest.mark.slow
@needs_dot
def test_the_stepper_steps_through_a_folded_view():
    t, _ = _traced("gpt2")
    s = t.stepper()
    frames = s.frames()
    assert len(frames) == len(t.steps) + 2
    assert "mask and position plumbing" in frames[0]
    assert "[step" in s.text() or s.text()
