#!/usr/bin/env python3
"""Makes tests/data/gemma3: a tiny random-weight Gemma 3 text model
(Gemma3ForCausalLM) and transformers' outputs on it, for tests/gemma3.

usage: make_gemma3_reference.py SHARED_ASSETS_DIR OUT_DIR
Needs torch and transformers (fixture generation only; CI needs neither).

The text config is google/gemma-3-4b-it's (read from SHARED_ASSETS_DIR, with
Gemma3TextConfig's defaults for the keys it leaves out: 5 sliding layers per
global one, QK-norm, query_pre_attn_scalar, two RoPE bases, linear RoPE
scaling x8 on the global layers, no logit softcapping) shrunk: a 512-token
vocabulary of its own (no Gemma file is copied or needed), width 64, 2 query
heads sharing 1 KV head, head_dim 32, 6 layers (sliding, sliding, global, ...)
and a sliding window of 8, so the 24-token prompt and the greedy continuation
run well past it. Weights and RMSNorm offsets are random (seed 0), chosen so
that greedy tokens vary and every block matters. Everything runs in float32, eager attention.

Files, raw little-endian, shapes in reference.json:
  model/config.json, model/model.safetensors   the tiny model (tied LM head)
  text_ids.i32            (24)      the prompt: token ids drawn at random
  text_logits.f32         (24, 512) prefill logits at every prompt position
  text_greedy.i32         (16)      greedy continuation (no EOS stop), each
                                    step recomputed over the whole sequence
  text_logits_final.f32   (512)     logits that choose the 16th greedy token
  softcap_logits.f32      (24, 512) prefill logits of the same weights with
                                    final_logit_softcapping 3.0 and attention
                                    scores softcapped at 2.0 (the eager
                                    attention's softcap keyword)
  image_token_type.u8     (24)      token_type_ids of a prompt with two image
                                    blocks (positions 4..9 and 12..21; 10 > the
                                    window)
  image_embeds.f32        (24, 64)  its input embeddings: scaled token
                                    embeddings, random rows at image positions
  image_logits.f32        (24, 512) prefill logits under Gemma 3's image mask
                                    (bidirectional within each block; the
                                    window still bounds the sliding layers)
"""
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import Gemma3ForCausalLM, Gemma3TextConfig
from transformers.models.gemma3.modeling_gemma3 import (
    create_masks_for_vision_model, get_block_sequence_ids_for_mask)

SOURCE = "google__gemma-3-4b-it"
N_PROMPT = 24
N_GREEDY = 16
VOCAB = 512
IMAGE_BLOCKS = [(4, 10), (12, 22)]  # [start, end) positions of image tokens


def write(out, name, array, dtype):
    a = np.ascontiguousarray(np.asarray(array, dtype=dtype))
    (out / name).write_bytes(a.astype(a.dtype.newbyteorder("<")).tobytes())
    return list(a.shape)


def tiny_config(real_text, **overrides):
    """The 4B text config as transformers completes it, with small sizes."""
    full = Gemma3TextConfig(**real_text).to_dict()
    keep = {k: full[k] for k in ("hidden_activation", "rms_norm_eps", "query_pre_attn_scalar",
                                 "final_logit_softcapping", "attn_logit_softcapping",
                                 "rope_parameters", "tie_word_embeddings")}
    assert keep["final_logit_softcapping"] is None and keep["attn_logit_softcapping"] is None
    assert keep["rope_parameters"]["full_attention"]["rope_type"] == "linear"
    args = dict(keep, vocab_size=VOCAB, hidden_size=64, intermediate_size=96,
                num_hidden_layers=6, num_attention_heads=2, num_key_value_heads=1,
                head_dim=32, sliding_window=8, max_position_embeddings=128,
                layer_types=["sliding_attention", "sliding_attention", "full_attention"] * 2,
                pad_token_id=0, bos_token_id=2, eos_token_id=1)
    # 4B has query_pre_attn_scalar == head_dim; a different value here checks
    # that the scale comes from it
    args["query_pre_attn_scalar"] = 24
    args.update(overrides)
    config = Gemma3TextConfig(**args)
    config.architectures = ["Gemma3ForCausalLM"]
    return config


@torch.no_grad()
def main():
    assets, out = Path(sys.argv[1]) / SOURCE, Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    real_text = json.loads((assets / "config.json").read_text())["text_config"]
    config = tiny_config(real_text)

    torch.manual_seed(0)
    model = Gemma3ForCausalLM(config).eval()
    for name, p in model.named_parameters():
        # RMSNorm weights are offsets from 1 (std 1: signs mix); embedding rows
        # of norm 1 (no row dominates the tied LM head, greedy tokens vary);
        # projections std 1/sqrt(fan_in)
        if "norm" in name:
            p.copy_(torch.randn_like(p))
        elif "embed" in name:
            e = torch.randn_like(p)
            p.copy_(e / e.norm(dim=1, keepdim=True))
        else:
            p.copy_(torch.randn_like(p) * p.shape[-1] ** -0.5)
    model.config._attn_implementation = "eager"
    model_dir = out / "model"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    model.save_pretrained(model_dir, safe_serialization=True)
    generation = model_dir / "generation_config.json"
    if generation.exists():
        generation.unlink()
    model = Gemma3ForCausalLM.from_pretrained(model_dir, dtype=torch.float32,
                                              attn_implementation="eager").eval()
    assert all(p.dtype == torch.float32 for p in model.parameters())
    shapes, meta = {}, {}

    # ---- text: prefill logits at every position, then greedy ----
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, VOCAB, (N_PROMPT,), generator=g)
    ids[0] = config.bos_token_id
    logits = model(input_ids=ids[None]).logits[0]
    shapes["text_ids.i32"] = write(out, "text_ids.i32", ids.numpy(), np.int32)
    shapes["text_logits.f32"] = write(out, "text_logits.f32", logits.numpy(), np.float32)
    seq, greedy, margins = ids.tolist(), [], []
    for step in range(N_GREEDY):
        last = model(input_ids=torch.tensor([seq])).logits[0, -1]  # no cache
        top2 = torch.topk(last, 2).values
        margins.append(float(top2[0] - top2[1]))
        token = int(torch.argmax(last))
        if step == N_GREEDY - 1:
            shapes["text_logits_final.f32"] = write(out, "text_logits_final.f32",
                                                    last.numpy(), np.float32)
        greedy.append(token)
        seq.append(token)
    shapes["text_greedy.i32"] = write(out, "text_greedy.i32", greedy, np.int32)
    meta["text_greedy"] = greedy
    meta["text_greedy_min_top2_margin"] = min(margins)

    # ---- softcapping (Gemma 2 style; off in Gemma 3 releases) ----
    # Gemma3Attention never passes config.attn_logit_softcapping on (transformers
    # 5.24 ignores it); the softcap keyword reaches the same eager attention
    # function Gemma 2 uses.
    capped = Gemma3ForCausalLM(tiny_config(real_text, final_logit_softcapping=3.0)).eval()
    capped.load_state_dict(model.state_dict())
    capped.config._attn_implementation = "eager"
    capped_logits = capped(input_ids=ids[None], softcap=2.0).logits[0]
    assert (capped_logits - capped(input_ids=ids[None]).logits[0]).abs().max() > 0.01
    shapes["softcap_logits.f32"] = write(out, "softcap_logits.f32", capped_logits.numpy(),
                                         np.float32)

    # ---- image blocks: Gemma 3's token_type_ids mask on supplied embeddings ----
    token_type = torch.zeros(N_PROMPT, dtype=torch.long)
    for start, end in IMAGE_BLOCKS:
        token_type[start:end] = 1
    embeds = model.model.embed_tokens(ids[None])
    image_rows = torch.randn(int(token_type.sum()), config.hidden_size, generator=g)
    embeds[0, token_type.bool()] = image_rows
    block_ids = get_block_sequence_ids_for_mask(token_type[None])
    masks = create_masks_for_vision_model(
        config=model.config, inputs_embeds=embeds, attention_mask=None, cache=None,
        position_ids=torch.arange(N_PROMPT)[None], block_sequence_ids=block_ids)
    image_logits = model(inputs_embeds=embeds, attention_mask=masks).logits[0]
    plain_logits = model(inputs_embeds=embeds).logits[0]
    meta["image_mask_changes_logits_by"] = float((image_logits - plain_logits).abs().max())
    shapes["image_token_type.u8"] = write(out, "image_token_type.u8", token_type.numpy(), np.uint8)
    shapes["image_embeds.f32"] = write(out, "image_embeds.f32", embeds[0].numpy(), np.float32)
    shapes["image_logits.f32"] = write(out, "image_logits.f32", image_logits.numpy(), np.float32)

    meta.update({
        "generator": "tests/gen/make_gemma3_reference.py",
        "text_config_from": SOURCE + "/config.json (not copied)",
        "torch": torch.__version__.split("+")[0],
        "transformers": transformers.__version__,
        "numpy": np.__version__,
        "compute_dtype": "float32",
        "attn_implementation": "eager",
        "seed": 0,
        "image_blocks": IMAGE_BLOCKS,
        "shapes": shapes,
    })
    (out / "reference.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
