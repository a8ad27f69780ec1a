#!/usr/bin/env python3
"""Makes tests/data/smolvlm: reference outputs of transformers' Idefics3 model
on the tiny random-weight fixture (tests/data/tiny-smolvlm), for the C tests
in tests/nn to reproduce.

usage: make_smolvlm_reference.py MODEL_DIR OUT_DIR
Needs torch and transformers (fixture generation only; CI needs neither).

Everything runs in float32 (the checkpoint's BF16 text weights are widened
exactly) with eager attention. Files, all raw little-endian, shapes in
reference.json:
  text_ids.i32            (20)    a fixed text prompt: BOS + 19 tokenizer ids
  text_logits_last.f32    (vocab) prefill logits of the last prompt position
  text_greedy.i32         (16)    greedy continuation (argmax, no EOS stop)
  text_logits_final.f32   (vocab) logits after prompt + 15 greedy tokens, the
                                  ones that choose the 16th
  vision_hidden.f32       (1024, 16) vision_model last_hidden_state (after
                                  post_layernorm) for the pixel_values below
  image_features.f32      (64, 16) connector output (pixel shuffle + proj)
  image_ids.i32           (79)    a one-image prompt as Idefics3Processor
                                  expands it (do_image_splitting=False)
  image_logits_last.f32   (vocab) prefill logits of its last position with the
                                  image features spliced in
pixel_values (1, 3, 512, 512) are not stored: element i (C, H, W order) is
splitmix64 output number i+1 from state PIXEL_SEED, top 24 bits k, k*2^-23 - 1
(exact in f32, range [-1, 1)). tests/nn regenerates them the same way.
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import AutoProcessor, Idefics3ForConditionalGeneration

PIXEL_SEED = 0x5EED
# "The quick brown fox jumps over the lazy dog while the cat sleeps on the
# warm mat." with SmolVLM-256M's tokenizer, after BOS <|im_start|> (1).
TEXT_IDS = [1, 504, 2365, 6354, 16438, 27003, 690, 260, 23790, 2767, 979, 260,
            2644, 2801, 99, 335, 260, 3091, 1171, 30]
N_GREEDY = 16
IMAGE_PROMPT = "<|im_start|>User:<image>Describe this picture.<end_of_utterance>\nAssistant:"


def splitmix64_pixels(n, seed):
    """Outputs 1..n of splitmix64 from state seed, mapped to [-1, 1)."""
    with np.errstate(over="ignore"):
        state = np.uint64(seed) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = state
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    k = (z >> np.uint64(40)).astype(np.float64)
    return (k * 2.0**-23 - 1.0).astype(np.float32)


def write(out, name, array, dtype):
    a = np.ascontiguousarray(np.asarray(array, dtype=dtype))
    (out / name).write_bytes(a.astype(a.dtype.newbyteorder("<")).tobytes())
    return list(a.shape)


@torch.no_grad()
def main():
    model_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    model = Idefics3ForConditionalGeneration.from_pretrained(
        model_dir, dtype=torch.float32, attn_implementation="eager").eval()
    assert all(p.dtype == torch.float32 for p in model.parameters())
    vocab = model.config.text_config.vocab_size
    shapes, meta = {}, {}

    # ---- text only: prefill logits and a greedy continuation ----
    ids = torch.tensor([TEXT_IDS])
    logits = model(input_ids=ids).logits[0]
    shapes["text_ids.i32"] = write(out, "text_ids.i32", TEXT_IDS, np.int32)
    shapes["text_logits_last.f32"] = write(out, "text_logits_last.f32", logits[-1].numpy(), np.float32)
    greedy, margins = [], []
    seq = list(TEXT_IDS)
    for step in range(N_GREEDY):
        # the whole sequence every step: a reference that uses no cache
        last = model(input_ids=torch.tensor([seq])).logits[0, -1]
        top2 = torch.topk(last, 2).values
        margins.append(float(top2[0] - top2[1]))
        token = int(torch.argmax(last))
        if step == N_GREEDY - 1:
            shapes["text_logits_final.f32"] = write(out, "text_logits_final.f32", last.numpy(), np.float32)
        greedy.append(token)
        seq.append(token)
    shapes["text_greedy.i32"] = write(out, "text_greedy.i32", greedy, np.int32)
    meta["text_greedy"] = greedy
    meta["text_greedy_min_top2_margin"] = min(margins)

    # ---- vision encoder and connector ----
    vc = model.config.vision_config
    side = vc.image_size
    pixels = torch.from_numpy(splitmix64_pixels(3 * side * side, PIXEL_SEED)).view(1, 3, side, side)
    hidden = model.model.vision_model(pixel_values=pixels).last_hidden_state
    features = model.model.connector(hidden)
    shapes["vision_hidden.f32"] = write(out, "vision_hidden.f32", hidden[0].numpy(), np.float32)
    shapes["image_features.f32"] = write(out, "image_features.f32", features[0].numpy(), np.float32)

    # ---- one-image prompt: features spliced at the <image> tokens ----
    processor = AutoProcessor.from_pretrained(model_dir)
    from PIL import Image
    placeholder = Image.new("RGB", (side, side))  # only the prompt expansion is used
    expanded = processor(text=IMAGE_PROMPT, images=[placeholder], do_image_splitting=False)
    image_ids = list(expanded["input_ids"][0])
    assert image_ids.count(model.config.image_token_id) == features.shape[1]
    logits = model(input_ids=torch.tensor([image_ids]), pixel_values=pixels[None]).logits[0]
    shapes["image_ids.i32"] = write(out, "image_ids.i32", image_ids, np.int32)
    shapes["image_logits_last.f32"] = write(out, "image_logits_last.f32", logits[-1].numpy(), np.float32)

    meta.update({
        "generator": "tests/gen/make_smolvlm_reference.py",
        "model": "tests/data/tiny-smolvlm",
        "torch": torch.__version__.split("+")[0],
        "transformers": transformers.__version__,
        "numpy": np.__version__,
        "compute_dtype": "float32",
        "attn_implementation": "eager",
        "vocab_size": vocab,
        "pixel_seed": PIXEL_SEED,
        "pixel_values_shape": [1, 3, side, side],
        "image_prompt": IMAGE_PROMPT,
        "shapes": shapes,
    })
    (out / "reference.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
