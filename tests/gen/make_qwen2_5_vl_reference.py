#!/usr/bin/env python3
"""Makes tests/data/qwen2_5_vl-model: a tiny random-weight
Qwen2_5_VLForConditionalGeneration as a complete Hub directory, and
transformers' outputs on it, for tests/qwen2_5_vl.

usage: make_qwen2_5_vl_reference.py SHARED_ASSETS_DIR [OUT_DIR]
Needs torch, transformers and tokenizers (fixture generation only).

The config is Qwen/Qwen2.5-VL-3B-Instruct's (read from SHARED_ASSETS_DIR)
shrunk: text width 64, 4 query heads sharing 2 KV heads (head_dim 16,
mrope_section [2, 3, 3] over its 8 rotary pairs), 3 layers, a 400-token
vocabulary; vision width 32, 2 heads, depth 4 with block 2 the only full
attention one, window_size 56 (2 x 2 merged groups per window, so the
image's 4 x 5 groups split into 6 uneven windows); patch 14, merge 2,
temporal patch 2 and the token layout are kept. The tokenizer is a small
byte-level BPE of its own (trained here on a few sentences) plus Qwen's special
tokens, the config's token ids set to match; tokenizer_config.json carries the
real chat template. Weights are random (seed 0) and larger than the default
init, so greedy tokens vary and every block matters. Everything float32, eager
attention.

Files (raw little-endian; shapes in reference.json):
  config.json model.safetensors tokenizer.json tokenizer_config.json
  preprocessor_config.json generation_config.json   the model directory
  ref_image_pixels.f32   (n_patches, 1176) pixel_values of a 150x100 image
                         (Qwen2VLImageProcessorPil, the C processor's reference)
  ref_image_ids.i32      (n) prompt ids: processor + apply_chat_template
  ref_image_positions.i32 (3, n) get_rope_index position ids
  ref_image_features.f32 (n_image_tokens, 64) vision features after the merger
  ref_image_logits.f32   (n, vocab) prefill logits
  ref_image_greedy.i32   (16) greedy continuation, each step recomputed over
                         the whole sequence (no EOS stop)
  ref_video_*            the same for a 4-frame video (grid_t 2) given as
                         random pixel rows, fps 1.5 (second_per_grid_ts 4/3)
  ref_text_ids.i32 / ref_text_positions.i32 / ref_text_logits.f32
                         the language model alone on random ids with
                         arbitrary (t, h, w) positions (M-RoPE and biases)
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
import tokenizers
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (PreTrainedTokenizerFast, Qwen2_5_VLConfig,
                          Qwen2_5_VLForConditionalGeneration)
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

SOURCE = "Qwen__Qwen2.5-VL-3B-Instruct"
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>",
            "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]
CORPUS = [
    "You are a helpful assistant.",
    "Describe this image. What is in the picture? Describe the video.",
    "The picture shows a red square, a blue circle and a green line on a white page.",
    "system user assistant: yes, no, the, a, an, is, are, it, this, that, of, in, on.",
    "Count the objects and tell me where they are, from left to right.",
]
N_GREEDY = 16


def build_tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=380, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS * 20, trainer)
    tok.add_special_tokens(SPECIALS)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token=None)
    fast.model_max_length = 32768
    return fast


def make_config(shared, tokenizer):
    base = json.loads((shared / SOURCE / "config.json").read_text())
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIALS}
    cfg = dict(base)
    cfg.update(hidden_size=64, intermediate_size=128, num_hidden_layers=3,
               num_attention_heads=4, num_key_value_heads=2, vocab_size=400,
               max_position_embeddings=4096, max_window_layers=3,
               bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
               pad_token_id=ids["<|endoftext|>"],
               vision_start_token_id=ids["<|vision_start|>"],
               vision_end_token_id=ids["<|vision_end|>"],
               vision_token_id=ids["<|vision_pad|>"],
               image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
               torch_dtype="float32")
    cfg["rope_scaling"] = {"type": "mrope", "mrope_section": [2, 3, 3]}
    v = dict(base["vision_config"])
    v.update(depth=4, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
             window_size=56, fullatt_block_indexes=[2])
    cfg["vision_config"] = v
    cfg.pop("transformers_version", None)
    return Qwen2_5_VLConfig(**cfg)


def randomize(model):
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or ".norm1." in name or ".norm2." in name \
                    or "ln_q" in name or name.endswith("layernorm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p.shape[-1] if p.dim() == 2 else int(np.prod(p.shape[1:]))
                p.copy_(torch.randn(p.shape, generator=g) * (1.5 / fan_in ** 0.5))


def pattern(width, height):
    x = np.arange(width, dtype=np.int64)[None, :, None]
    y = np.arange(height, dtype=np.int64)[:, None, None]
    c = np.arange(3, dtype=np.int64)[None, None, :]
    return ((x * x + 3 * y * y + 7 * x * y + 50 * c + (x ^ y)) % 256).astype(np.uint8)


def process_image_prompt(image_processor, tokenizer, prompt, image):
    """What Qwen2_5_VLProcessor does for one image (its constructor needs the
    torchvision video processor, absent here): pixel values from the PIL image
    processor, each <|image_pad|> expanded to grid_t*grid_h*grid_w / merge^2
    copies, the text tokenized, mm_token_type_ids 1 on the image tokens."""
    pixels = image_processor(images=[image], return_tensors="pt")
    grid = pixels["image_grid_thw"]
    n = int(grid[0].prod()) // image_processor.merge_size ** 2
    text = prompt.replace("<|image_pad|>", "<|placeholder|>" * n).replace(
        "<|placeholder|>", "<|image_pad|>")
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    image_id = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    return {"input_ids": ids, "mm_token_type_ids": (ids == image_id).to(torch.int32),
            "pixel_values": pixels["pixel_values"], "image_grid_thw": grid}


def save(out, name, array, dtype, ref):
    a = np.ascontiguousarray(np.asarray(array, dtype=dtype))
    a.tofile(out / name)
    ref[name] = list(a.shape)


def greedy(model, inputs, n):
    """Greedy tokens, each step recomputing the whole sequence (mm_token_type_ids
    extended with text), so positions continue as get_rope_index puts them."""
    ids = inputs["input_ids"]
    types = inputs["mm_token_type_ids"]
    extra = {k: v for k, v in inputs.items() if k not in ("input_ids", "mm_token_type_ids",
                                                          "attention_mask")}
    out = []
    for _ in range(n):
        model.model.rope_deltas = None
        logits = model(input_ids=ids, mm_token_type_ids=types, **extra).logits[0, -1]
        t = int(torch.argmax(logits))
        out.append(t)
        ids = torch.cat([ids, torch.tensor([[t]])], dim=1)
        types = torch.cat([types, torch.zeros((1, 1), dtype=types.dtype)], dim=1)
    return out


def run_case(model, inputs, prefix, out, ref):
    with torch.no_grad():
        model.model.rope_deltas = None
        grid = inputs.get("image_grid_thw", inputs.get("video_grid_thw"))
        is_video = "video_grid_thw" in inputs
        pixels = inputs["pixel_values_videos" if is_video else "pixel_values"]
        positions, delta = model.model.get_rope_index(
            inputs["input_ids"], inputs["mm_token_type_ids"],
            image_grid_thw=inputs.get("image_grid_thw"), video_grid_thw=inputs.get("video_grid_thw"),
            second_per_grid_ts=inputs.get("second_per_grid_ts"))
        feats = model.model.visual(pixels, grid_thw=grid).pooler_output
        model.model.rope_deltas = None
        logits = model(**inputs).logits[0]
        tokens = greedy(model, inputs, N_GREEDY)
    save(out, f"{prefix}_pixels.f32", pixels.numpy(), np.float32, ref)
    save(out, f"{prefix}_ids.i32", inputs["input_ids"][0].numpy(), np.int32, ref)
    save(out, f"{prefix}_positions.i32", positions[:, 0].numpy(), np.int32, ref)
    save(out, f"{prefix}_features.f32", feats.numpy(), np.float32, ref)
    save(out, f"{prefix}_logits.f32", logits.numpy(), np.float32, ref)
    save(out, f"{prefix}_greedy.i32", tokens, np.int32, ref)
    ref[prefix] = {"grid_thw": [int(x) for x in grid[0]], "rope_delta": int(delta[0, 0]),
                   "n_tokens": int(inputs["input_ids"].shape[1]),
                   "second_per_grid_ts": [float(x) for x in inputs["second_per_grid_ts"]]
                   if "second_per_grid_ts" in inputs else None}


def main():
    shared = Path(sys.argv[1])
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else \
        Path(__file__).resolve().parents[1] / "data" / "qwen2_5_vl-model"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():  # everything but the hand-written README
        if old.name != "README.md":
            old.unlink()
    torch.manual_seed(0)

    tokenizer = build_tokenizer()
    template = json.loads((shared / SOURCE / "chat_template.json").read_text())["chat_template"]
    tokenizer.chat_template = template
    config = make_config(shared, tokenizer)
    config._attn_implementation = "eager"
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    model.config._attn_implementation = "eager"
    model.model.visual.config._attn_implementation = "eager"
    model.model.language_model.config._attn_implementation = "eager"
    randomize(model)
    model.save_pretrained(out, safe_serialization=True)
    gen = json.loads((shared / SOURCE / "generation_config.json").read_text())
    gen.update(bos_token_id=config.text_config.bos_token_id,
               pad_token_id=config.text_config.pad_token_id,
               eos_token_id=[tokenizer.convert_tokens_to_ids("<|im_end|>"),
                             tokenizer.convert_tokens_to_ids("<|endoftext|>")])
    (out / "generation_config.json").write_text(json.dumps(gen, indent=2) + "\n")

    pre = json.loads((shared / SOURCE / "preprocessor_config.json").read_text())
    image_processor = Qwen2VLImageProcessorPil(
        **{k: pre[k] for k in ("min_pixels", "max_pixels", "patch_size", "temporal_patch_size",
                               "merge_size", "image_mean", "image_std")})
    tokenizer.save_pretrained(out)
    (out / "preprocessor_config.json").write_text(
        (shared / SOURCE / "preprocessor_config.json").read_text())
    for extra in ("chat_template.jinja", "special_tokens_map.json"):
        if (out / extra).exists() and extra != "chat_template.jinja":
            (out / extra).unlink()
    tc = json.loads((out / "tokenizer_config.json").read_text())
    tc["chat_template"] = template
    (out / "tokenizer_config.json").write_text(json.dumps(tc, indent=2) + "\n")
    if (out / "chat_template.jinja").exists():
        (out / "chat_template.jinja").unlink()

    ref = {"versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                        "tokenizers": tokenizers.__version__},
           "vocab_size": config.text_config.vocab_size}

    # an image whose sides are not multiples of 28
    from PIL import Image
    image = Image.fromarray(pattern(150, 100))
    messages = [{"role": "user", "content": [{"type": "image"},
                                             {"type": "text", "text": "Describe this image."}]}]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = process_image_prompt(image_processor, tokenizer, prompt, image)
    ref["image_prompt"] = prompt
    ref["image_size"] = [150, 100]
    run_case(model, inputs, "ref_image", out, ref)

    # a 4-frame video (2 temporal patches), as random pixel rows
    gh, gw = 4, 6
    n_tokens = 2 * gh * gw // 4
    vs, ve, vp = (tokenizer.convert_tokens_to_ids(t) for t in
                  ("<|vision_start|>", "<|vision_end|>", "<|video_pad|>"))
    head = tokenizer("<|im_start|>user\n", add_special_tokens=False)["input_ids"]
    tail = tokenizer("Describe the video.<|im_end|>\n<|im_start|>assistant\n",
                     add_special_tokens=False)["input_ids"]
    ids = head + [vs] + [vp] * n_tokens + [ve] + tail
    types = [2 if t == vp else 0 for t in ids]
    g = torch.Generator().manual_seed(1)
    video = {"input_ids": torch.tensor([ids]), "mm_token_type_ids": torch.tensor([types]),
             "pixel_values_videos": torch.randn((2 * gh * gw, 1176), generator=g),
             "video_grid_thw": torch.tensor([[2, gh, gw]]),
             "second_per_grid_ts": torch.tensor([2 / 1.5])}
    run_case(model, video, "ref_video", out, ref)

    # the language model alone: random ids at arbitrary 3-D positions
    n = 12
    text_ids = torch.randint(0, config.text_config.vocab_size, (1, n), generator=g)
    positions = torch.stack([torch.arange(n) * 3 + 1, torch.arange(n) // 2 + 5,
                             (torch.arange(n) * 7) % 11])[:, None, :]
    with torch.no_grad():
        lm = model.model.language_model
        hidden = lm(input_ids=text_ids, position_ids=positions).last_hidden_state
        text_logits = model.lm_head(hidden)[0]
    save(out, "ref_text_ids.i32", text_ids[0].numpy(), np.int32, ref)
    save(out, "ref_text_positions.i32", positions[:, 0].numpy(), np.int32, ref)
    save(out, "ref_text_logits.f32", text_logits.numpy(), np.float32, ref)

    (out / "reference.json").write_text(json.dumps(ref, indent=2) + "\n")


if __name__ == "__main__":
    main()
