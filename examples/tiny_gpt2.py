"""A tiny random-weight GPT-2 from Hugging Face transformers, built from a config (nothing downloaded),
traced as its users call it: ``model(input_ids=..., attention_mask=..., labels=...)``.

Run: python examples/tiny_gpt2.py [OUT_DIR]        (needs ``pip install transformers``)
CLI: graphviz-ad model examples/tiny_gpt2.py:build --input 1x8 --loss labels -o gpt2.svg
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel

import graphviz_ad as gad


def build() -> GPT2LMHeadModel:
    """Two layers, 16 wide, a 64-token vocabulary; seeded weights, training mode (dropout on)."""
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=64, n_positions=16, n_embd=16, n_layer=2, n_head=2, bos_token_id=0,
                        eos_token_id=0)
    return GPT2LMHeadModel(config).train()


def main(out_dir: str = "examples_out") -> gad.Trace:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = build()
    ids = torch.randint(0, 64, (1, 8), generator=torch.Generator().manual_seed(1))
    t = gad.trace(model, input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids)
    t.backward()  # from the output's loss, as Hugging Face's Trainer does
    t.render(out / "tiny_gpt2.svg")  # the default picture: the model, mask plumbing folded
    t.render(out / "tiny_gpt2_all.svg", show_all=True, depth=None)  # everything as recorded
    print(f"loss {t.output.loss.item():.6g}; {len(t.nodes)} nodes, {len(t.steps)} backward steps; "
          f"wrote {out / 'tiny_gpt2.svg'}")
    return t


if __name__ == "__main__":
    main(*sys.argv[1:])
