#!/usr/bin/env python3
"""The reference for a Q8_0 KV cache: transformers' Gemma 3 on the tiny
tests/data/gemma3-vlm model with every key (after RoPE) and value rounded
through ggml's Q8_0 (blocks of 32 along each head: scale d = amax / 127 kept
as f16, q = roundf(x / d)) before attention reads it, as libvlm stores them
with vlm_session_params.kv_cache_type = VLM_DTYPE_Q8_0. Writes into the
fixture directory:

  kv_q8_last_logits.f32  (vocab)  last prefill logits of the prompt of
                                  prompt_ids.i32 (image 0, "Describe this image.")
  kv_q8_greedy.i32       (16)     the greedy continuation, each step
                                  recomputed from the whole sequence

The keys and values of the whole sequence are rounded at every step, the same
values a cache holds. usage: make_kv_q8_reference.py [FIXTURE_DIR]
(default tests/data/gemma3-vlm). Needs torch and transformers (5.24 used).
"""
import sys
from pathlib import Path

import numpy as np
import torch
import transformers.models.gemma3.modeling_gemma3 as gemma3
from PIL import Image
from transformers import AutoProcessor, Gemma3ForConditionalGeneration

sys.path.insert(0, str(Path(__file__).parent))
from make_gemma3_vlm_reference import IMAGE_SIZES, N_GREEDY, image_rgb  # noqa: E402


def round_half_away(v):
    """roundf: to nearest, halves away from zero (torch.round: to even)."""
    a = v.abs()
    frac = a - a.floor()  # exact below 2^23
    return torch.sign(v) * torch.where(frac == 0.5, a.ceil(), torch.round(a))


def q8_0(x):
    """x rounded through Q8_0 blocks of its last dimension, in float32 as ggml."""
    b = x.float().reshape(-1, 32)
    d = b.abs().amax(dim=1, keepdim=True) / 127.0
    inv = torch.where(d != 0, 1.0 / d, torch.zeros_like(d))
    q = round_half_away(b * inv)
    return (q * d.half().float()).reshape(x.shape)


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/gemma3-vlm")
    model = Gemma3ForConditionalGeneration.from_pretrained(
        out, dtype=torch.float32, attn_implementation="eager").eval()
    processor = AutoProcessor.from_pretrained(out)
    assert model.config.text_config.head_dim % 32 == 0

    plain = gemma3.eager_attention_forward

    def rounded_kv(module, query, key, value, *args, **kwargs):
        return plain(module, query, q8_0(key), q8_0(value), *args, **kwargs)

    image = Image.fromarray(image_rgb(*IMAGE_SIZES[0]))
    messages = [{"role": "user", "content": [
        {"type": "image", "image": image}, {"type": "text", "text": "Describe this image."}]}]
    enc = processor.apply_chat_template(messages, tokenize=True, return_dict=True,
                                        add_generation_prompt=True, return_tensors="pt")
    ids, types, pixels = enc["input_ids"], enc["token_type_ids"], enc["pixel_values"]
    assert ids[0].numpy().astype(np.int32).tobytes() == (out / "prompt_ids.i32").read_bytes()

    with torch.no_grad():
        exact = model(input_ids=ids, pixel_values=pixels, token_type_ids=types).logits[0, -1]
        gemma3.eager_attention_forward = rounded_kv
        last = model(input_ids=ids, pixel_values=pixels, token_type_ids=types).logits[0, -1]
        seq, greedy = ids, []
        for _ in range(N_GREEDY):
            step = model(input_ids=seq, pixel_values=pixels, token_type_ids=types).logits[0, -1]
            token = int(torch.argmax(step))
            greedy.append(token)
            seq = torch.cat([seq, torch.tensor([[token]])], dim=1)
            types = torch.cat([types, torch.zeros(1, 1, dtype=types.dtype)], dim=1)
        gemma3.eager_attention_forward = plain
    moved = float((last - exact).abs().max())
    assert moved > 0, "the rounding did not reach the attention"
    (out / "kv_q8_last_logits.f32").write_bytes(last.numpy().astype(np.float32).tobytes())
    (out / "kv_q8_greedy.i32").write_bytes(np.asarray(greedy, dtype=np.int32).tobytes())
    print("Q8_0 keys and values move the last logits by %.4g; greedy %s" % (moved, greedy))


if __name__ == "__main__":
    main()
