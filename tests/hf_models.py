"""Tiny random-weight Hugging Face models built from configs (never downloaded), called as their users call them."""

from __future__ import annotations

from typing import Any

import pytest
import torch

ARCHITECTURES = ("gpt2", "llama", "bert", "t5", "bart", "vit")
# GPT-2 in the quick loop, the others with the slow tests
ARCH_PARAMS = [pytest.param(a, marks=() if a == "gpt2" else pytest.mark.slow) for a in ARCHITECTURES]


def build(name: str, seed: int = 0) -> tuple[torch.nn.Module, dict[str, Any]]:
    """(model in training mode, the keyword arguments of a training forward with labels)."""
    tf = pytest.importorskip("transformers")
    torch.manual_seed(seed)
    ids = torch.randint(0, 64, (1, 6))
    mask = torch.ones_like(ids)
    if name == "gpt2":
        model = tf.GPT2LMHeadModel(tf.GPT2Config(vocab_size=64, n_positions=16, n_embd=16, n_layer=2, n_head=2,
                                                 bos_token_id=0, eos_token_id=0))
        kw = dict(input_ids=ids, attention_mask=mask, labels=ids)
    elif name == "llama":
        model = tf.LlamaForCausalLM(tf.LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32,
                                                   num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                                                   max_position_embeddings=16, bos_token_id=0, eos_token_id=0))
        kw = dict(input_ids=ids, attention_mask=mask, labels=ids)
    elif name == "bert":
        model = tf.BertForSequenceClassification(tf.BertConfig(
            vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
            max_position_embeddings=16, num_labels=3))
        kw = dict(input_ids=ids, attention_mask=mask, labels=torch.tensor([1]))
    elif name == "t5":
        model = tf.T5ForConditionalGeneration(tf.T5Config(
            vocab_size=64, d_model=16, d_kv=8, d_ff=32, num_layers=2, num_decoder_layers=2, num_heads=2,
            decoder_start_token_id=0, pad_token_id=0, eos_token_id=1))
        kw = dict(input_ids=ids, attention_mask=mask, labels=ids[:, :4])
    elif name == "bart":
        model = tf.BartForConditionalGeneration(tf.BartConfig(
            vocab_size=64, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
            decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=16,
            pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2, forced_eos_token_id=2))
        kw = dict(input_ids=ids, attention_mask=mask, labels=ids[:, :4])
    elif name == "vit":
        model = tf.ViTForImageClassification(tf.ViTConfig(
            image_size=8, patch_size=4, num_channels=3, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=32, num_labels=3))
        kw = dict(pixel_values=torch.randn(1, 3, 8, 8), labels=torch.tensor([2]))
    else:
        raise ValueError(name)
    model.train()
    return model, kw


def state(model: torch.nn.Module) -> dict[str, Any]:
    """Everything a trace must leave as it found: parameters, buffers, their .grad, training modes."""
    return {
        "params": {k: p.detach().clone() for k, p in model.named_parameters()},
        "buffers": {k: b.detach().clone() for k, b in model.named_buffers()},
        "grads": {k: None if p.grad is None else p.grad.clone() for k, p in model.named_parameters()},
        "training": [m.training for m in model.modules()],
    }


def same_state(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def eq(x: Any, y: Any) -> bool:
        return (x is None and y is None) or (x is not None and y is not None and torch.equal(x, y))
    return (all(torch.equal(a["params"][k], b["params"][k]) for k in a["params"])
            and a["buffers"].keys() == b["buffers"].keys()
            and all(torch.equal(a["buffers"][k], b["buffers"][k]) for k in a["buffers"])
            and all(eq(a["grads"][k], b["grads"][k]) for k in a["grads"])
            and a["training"] == b["training"])
