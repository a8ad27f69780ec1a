#!/usr/bin/env python3
"""Makes tests/data/gemma3-vlm: a tiny random-weight Gemma3ForConditionalGeneration
as a complete hub directory, and transformers' outputs on it, for tests/gemma3.

usage: make_gemma3_vlm_reference.py SHARED_ASSETS_DIR OUT_DIR
Needs torch, transformers, tokenizers and Pillow (fixture generation only).

The model is google/gemma-3-4b-it's config (read from SHARED_ASSETS_DIR)
shrunk: text width 64, 4 layers (sliding, sliding, global, sliding) with a
sliding window of 8, far shorter than the prompts; a SigLIP tower of width 32,
2 layers; a vocabulary of 384 built here with the tokenizers library (a BPE
with Gemma's pipeline: "▁" for spaces, byte fallback, and Gemma's special
tokens). The vision side keeps patch 14 and the projector's 4x4 average pool,
but the image side is 224 (16x16 patches -> 16 tokens per image) instead of
896 (64x64 -> 256): frames of 896^2 would not fit the fixture budget. The
processor files say the same (size 224x224, image_seq_length 16).

The chat template, preprocessor_config.json and the rest of the tokenizer
settings are gemma-3-4b-it's (Gemma terms of use; see README.md).

Reference outputs (raw little-endian; shapes in reference.json):
  images: three synthetic RGB images computed from a formula both sides
  implement (image_rgb below): 301x257 (odd size, no pan & scan), 1000x300
  (panorama: 3 crops, the last narrower) and 300x700 (portrait: 2 crops).
  pixel_table.f32      (3, 256)   the processor's rescale + normalize of each
                                  8-bit value per channel (a ramp image run
                                  through the same image processor)
  frames.u8            (8, 3, 224, 224) pixel_values with pan & scan ON, all
                                  images, as indices into pixel_table: the
                                  generator checks that pixel_table[c][index]
                                  gives back transformers' pixel_values
                                  bit for bit. With pan & scan off the frames
                                  are the first frame of each image (checked).
  vision_features.f32  (16, 64)   get_image_features of image 0 (projector out)
  prompt_ids.i32       (n)        apply_chat_template(tokenize=True) of a user
                                  turn holding image 0 and a question
  prompt_token_type.u8 (n)        its token_type_ids
  prompt_logits.f32    (n, 384)   prefill logits at every position
  pan_ids.i32, pan_last_logits.f32 (vocab), pan_greedy.i32 (8)
                                  the same for image 1 with pan & scan on
                                  (4 frames): ids, last prefill logits, greedy
  greedy.i32           (16)       greedy continuation (no EOS stop), each step
                                  recomputed over the whole sequence
  texts.json                      chat renderings, expansions and ids
  alt-names/                      the same weights under the other tensor
                                  names checkpoints use: the Hub 4.x tower
                                  "vision_tower.vision_model.", the projector
                                  and the text model after "model." (text in
                                  bfloat16 to keep the fixture small)
"""
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import PIL
import tokenizers
import torch
import transformers
from PIL import Image
from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import BPE
from tokenizers.trainers import BpeTrainer
from transformers import (AutoProcessor, Gemma3Config, Gemma3ForConditionalGeneration)

SOURCE = "google__gemma-3-4b-it"
VOCAB = 384
IMAGE_SIZE = 224
TOKENS_PER_IMAGE = 16
N_GREEDY = 16
IMAGE_SIZES = [(301, 257), (1000, 300), (300, 700)]  # (width, height)
SPECIAL = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>",
           "<start_of_image>", "<end_of_image>"]
IMAGE_TOKEN = "<image_soft_token>"  # the last id, as in Gemma (262144 after the BPE vocab)
CORPUS = [
    "Describe this image in one sentence.", "What is in the picture?",
    "You are a helpful assistant that looks at images carefully.",
    "Here is the original image and here are some crops to help you see better",
    "The image shows a colorful pattern of stripes and squares.",
    "Compare the two pictures and tell me what is different.",
    "A cat is sitting on the mat near the window.",
    "model user system image picture crops original better help see",
]


def image_rgb(width, height):
    """The test images: the same integer formula in tests/gemma3."""
    y, x = np.mgrid[0:height, 0:width].astype(np.int64)
    planes = [(x * (3 + c) + y * (5 + 2 * c) + ((x ^ y) & 63) * 2 + ((x * y) >> 5)) % 256
              for c in range(3)]
    return np.stack(planes, axis=-1).astype(np.uint8)


def write(out, name, array, dtype):
    a = np.ascontiguousarray(np.asarray(array, dtype=dtype))
    (out / name).write_bytes(a.astype(a.dtype.newbyteorder("<")).tobytes())
    return list(a.shape)


def build_tokenizer():
    """A small BPE with Gemma's pipeline and special tokens at Gemma-like ids."""
    trainer_model = Tokenizer(BPE(unk_token="<unk>", byte_fallback=True))
    trainer_model.normalizer = normalizers.Replace(" ", "\u2581")
    trainer_model.pre_tokenizer = pre_tokenizers.Split(" ", "merged_with_previous")
    n_bytes = 256
    learned = VOCAB - len(SPECIAL) - n_bytes - 1
    trainer = BpeTrainer(vocab_size=learned, show_progress=False, special_tokens=[])
    trainer_model.train_from_iterator(CORPUS * 4, trainer)
    trained = json.loads(trainer_model.to_str())["model"]
    vocab = {t: i for i, t in enumerate(SPECIAL)}
    for b in range(n_bytes):
        vocab["<0x%02X>" % b] = len(vocab)
    for piece, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        if piece not in vocab and len(vocab) < VOCAB - 1:
            vocab[piece] = len(vocab)
    merges = [m for m in trained["merges"]
              if all(p in vocab for p in (m if isinstance(m, list) else m.split(" ")))
              and "".join(m if isinstance(m, list) else m.split(" ")) in vocab]
    vocab[IMAGE_TOKEN] = len(vocab)
    assert len(vocab) == VOCAB, len(vocab)
    tok = Tokenizer(BPE(vocab=vocab, merges=[tuple(m) if isinstance(m, list) else tuple(m.split(" "))
                                            for m in merges],
                        unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    tok.pre_tokenizer = pre_tokenizers.Split(" ", "merged_with_previous")
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                     decoders.Fuse()])
    tok.add_special_tokens([t for t in SPECIAL if t != "<mask>"] + [IMAGE_TOKEN])
    tok.add_tokens([tokenizers.AddedToken("<mask>", special=False, normalized=False)])
    from tokenizers.processors import TemplateProcessing
    tok.post_processor = TemplateProcessing(single="<bos> $A", pair="<bos> $A <bos> $B",
                                            special_tokens=[("<bos>", vocab["<bos>"])])
    return tok, vocab


def tiny_config(real, vocab):
    text = dict(real["text_config"])
    text.update(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=4,
                num_attention_heads=2, num_key_value_heads=1, head_dim=32, sliding_window=8,
                query_pre_attn_scalar=24, max_position_embeddings=256,
                layer_types=["sliding_attention", "sliding_attention", "full_attention",
                             "sliding_attention"],
                pad_token_id=vocab["<pad>"], bos_token_id=vocab["<bos>"],
                eos_token_id=[vocab["<eos>"], vocab["<end_of_turn>"]])
    vision = dict(real["vision_config"])
    vision.update(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=2, image_size=IMAGE_SIZE, patch_size=14)
    top = {k: v for k, v in real.items() if k not in ("text_config", "vision_config",
                                                      "transformers_version", "torch_dtype")}
    top.update(text_config=text, vision_config=vision, mm_tokens_per_image=TOKENS_PER_IMAGE,
               boi_token_index=vocab["<start_of_image>"], eoi_token_index=vocab["<end_of_image>"],
               image_token_index=vocab[IMAGE_TOKEN],
               eos_token_id=[vocab["<eos>"], vocab["<end_of_turn>"]])
    config = Gemma3Config(**top)
    config.architectures = ["Gemma3ForConditionalGeneration"]
    return config


def hub_files(assets, out, tok, vocab):
    """Everything but the weights, as the Hub holds it."""
    tok.save(str(out / "tokenizer.json"))
    real_tc = json.loads((assets / "tokenizer_config.json").read_text())
    tc = {k: v for k, v in real_tc.items() if k != "added_tokens_decoder"}
    tc["added_tokens_decoder"] = {
        str(vocab[t]): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                        "single_word": False, "special": t != "<mask>"}
        for t in SPECIAL + [IMAGE_TOKEN]}
    (out / "tokenizer_config.json").write_text(json.dumps(tc, indent=2, ensure_ascii=False) + "\n")
    shutil.copyfile(assets / "special_tokens_map.json", out / "special_tokens_map.json")
    shutil.copyfile(assets / "chat_template.json", out / "chat_template.json")
    pre = json.loads((assets / "preprocessor_config.json").read_text())
    pre.update(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
               image_seq_length=TOKENS_PER_IMAGE)
    (out / "preprocessor_config.json").write_text(json.dumps(pre, indent=2) + "\n")
    proc = json.loads((assets / "processor_config.json").read_text())
    proc["image_seq_length"] = TOKENS_PER_IMAGE
    (out / "processor_config.json").write_text(json.dumps(proc, indent=2) + "\n")
    gen = json.loads((assets / "generation_config.json").read_text())
    gen.update(bos_token_id=vocab["<bos>"], pad_token_id=vocab["<pad>"],
               eos_token_id=[vocab["<eos>"], vocab["<end_of_turn>"]])
    gen.pop("transformers_version", None)
    (out / "generation_config.json").write_text(json.dumps(gen, indent=2) + "\n")


def write_alt_names(out):
    """model.safetensors renamed to the layouts the main file does not use."""
    from safetensors.torch import load_file, save_file
    renames = [("language_model.model.", "model.language_model."),
               ("vision_tower.", "vision_tower.vision_model."),
               ("multi_modal_projector.", "model.multi_modal_projector.")]
    tensors = {}
    for name, t in load_file(str(out / "model.safetensors")).items():
        for old, new in renames:
            if name.startswith(old):
                if old.startswith("language"):
                    t = t.to(torch.bfloat16)
                tensors[new + name[len(old):]] = t.contiguous()
                break
        else:
            raise ValueError(name)
    alt = out / "alt-names"
    alt.mkdir()
    save_file(tensors, str(alt / "model.safetensors"), metadata={"format": "pt"})
    (alt / "model.safetensors").chmod(0o644)
    shutil.copyfile(out / "config.json", alt / "config.json")


def randomize(model):
    torch.manual_seed(0)
    for name, p in model.named_parameters():
        # RMSNorm weights are offsets from 1 (std 1); LayerNorm weights near 1;
        # embedding rows of norm 1; projections std 1/sqrt(fan_in)
        if "layer_norm" in name or "layernorm" in name and "vision" in name:
            p.copy_(1.0 + 0.3 * torch.randn_like(p) if name.endswith("weight")
                    else 0.3 * torch.randn_like(p))
        elif "norm" in name:
            p.copy_(torch.randn_like(p))
        elif "embed_tokens" in name:
            e = torch.randn_like(p)
            p.copy_(e / e.norm(dim=1, keepdim=True))
        elif "position_embedding" in name:
            p.copy_(0.5 * torch.randn_like(p))
        elif name.endswith("bias"):
            p.copy_(0.1 * torch.randn_like(p))
        elif "mm_input_projection_weight" in name:
            p.copy_(torch.randn_like(p) * p.shape[0] ** -0.5)  # (vision, text): fan_in first
        else:
            fan_in = p[0].numel() if p.dim() > 1 else p.shape[-1]
            p.copy_(torch.randn_like(p) * fan_in ** -0.5)


@torch.no_grad()
def main():
    assets, out = Path(sys.argv[1]) / SOURCE, Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():  # everything but the hand-written README.md
        if old.is_dir():
            shutil.rmtree(old)
        elif old.name != "README.md":
            old.unlink()
    real = json.loads((assets / "config.json").read_text())
    tok, vocab = build_tokenizer()
    config = tiny_config(real, vocab)
    model = Gemma3ForConditionalGeneration(config).eval()
    randomize(model)
    model.save_pretrained(out, safe_serialization=True)
    for extra in ("generation_config.json",):
        (out / extra).unlink(missing_ok=True)
    hub_files(assets, out, tok, vocab)
    (out / "model.safetensors").chmod(0o644)
    write_alt_names(out)
    model = Gemma3ForConditionalGeneration.from_pretrained(
        out, dtype=torch.float32, attn_implementation="eager").eval()
    assert all(p.dtype == torch.float32 for p in model.parameters())
    processor = AutoProcessor.from_pretrained(out)
    image_processor = processor.image_processor
    shapes, meta = {}, {"image_processor_class": type(image_processor).__name__}

    # ---- pixel values ----
    images = [Image.fromarray(image_rgb(w, h)) for w, h in IMAGE_SIZES]
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
    ramp_px = image_processor(Image.fromarray(ramp), do_resize=False,
                              return_tensors="np")["pixel_values"][0]  # (3, 1, 256)
    table = ramp_px[:, 0, :].astype(np.float32)
    assert all(np.all(np.diff(table[c]) > 0) for c in range(3))
    shapes["pixel_table.f32"] = write(out, "pixel_table.f32", table, np.float32)
    # through the processor, which fills in the pan & scan settings the
    # preprocessor_config.json leaves null
    def process(pas):
        kwargs = processor._merge_kwargs(tokenizer_init_kwargs=processor.tokenizer.init_kwargs,
                                         do_pan_and_scan=pas, return_tensors="np")
        return processor._process_images(images, **kwargs["images_kwargs"])

    (off, off_repl), (on, on_repl) = process(False), process(True)
    meta["num_crops_off"] = [int(n) for n in np.asarray(off["num_crops"]).reshape(-1)]
    meta["num_crops_on"] = [int(n) for n in np.asarray(on["num_crops"]).reshape(-1)]
    px_on, px_off = on["pixel_values"], off["pixel_values"]
    assert px_on.shape[1:] == (3, IMAGE_SIZE, IMAGE_SIZE)
    indices = np.zeros(px_on.shape, dtype=np.uint8)
    for c in range(3):
        idx = np.searchsorted(table[c], px_on[:, c])
        assert np.array_equal(table[c][idx], px_on[:, c]), "pixel_values not on the table"
        indices[:, c] = idx
    first = np.cumsum([0] + [1 + n for n in meta["num_crops_on"]])[:-1]
    assert np.array_equal(px_off, px_on[first]), "pan & scan changed the original frames"
    shapes["frames.u8"] = write(out, "frames.u8", indices, np.uint8)

    # ---- vision features of image 0 ----
    pixels0 = torch.from_numpy(px_off[:1])
    features = model.model.get_image_features(pixels0).pooler_output[0]
    shapes["vision_features.f32"] = write(out, "vision_features.f32", features.numpy(),
                                          np.float32)

    # ---- chat renderings and expansions ----
    texts = {}
    conversations = {
        "user_image": [{"role": "user", "content": [
            {"type": "image"}, {"type": "text", "text": "Describe this image."}]}],
        "system_multi_turn": [
            {"role": "system", "content": "You are a helpful assistant.  "},
            {"role": "user", "content": [{"type": "image"}, {"type": "image"},
                                         {"type": "text", "text": "  Compare them.\n"}]},
            {"role": "assistant", "content": [{"type": "text", "text": " A cat. "}]},
            {"role": "user", "content": [{"type": "text", "text": "\u3000And now?\t"}]}],
        "text_only": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
    }
    for name, messages in conversations.items():
        for gen in (False, True):
            key = "%s%s" % (name, "_gen" if gen else "")
            texts["chat_" + key] = processor.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=gen)
    texts["expand_off"], texts["expand_on"] = off_repl, on_repl
    prompt_images = {"odd": [images[0]], "pano": [images[1]]}
    for name, imgs in prompt_images.items():
        for pas in (False, True):
            text = processor.apply_chat_template(conversations["user_image"], tokenize=False,
                                                 add_generation_prompt=True)
            enc = processor(text=text, images=imgs, do_pan_and_scan=pas,
                            add_special_tokens=False)
            repl = (on_repl if pas else off_repl)[IMAGE_SIZES.index(imgs[0].size)]
            expanded, _ = processor.get_text_with_replacements([text], [repl], [], [])
            texts["prompt_%s_%s" % (name, "on" if pas else "off")] = {
                "text": expanded[0], "ids": enc["input_ids"][0],
                "token_type_ids": enc["token_type_ids"][0]}
    (out / "texts.json").write_text(json.dumps(texts, indent=1, ensure_ascii=False) + "\n")

    # ---- prefill logits and greedy with image 0 in the prompt ----
    messages = [{"role": "user", "content": [
        {"type": "image", "image": images[0]}, {"type": "text", "text": "Describe this image."}]}]
    enc = processor.apply_chat_template(messages, tokenize=True, return_dict=True,
                                        add_generation_prompt=True, return_tensors="pt")
    ids, token_type = enc["input_ids"], enc["token_type_ids"]
    assert ids[0].tolist() == texts["prompt_odd_off"]["ids"]
    assert torch.equal(enc["pixel_values"], pixels0)
    logits = model(input_ids=ids, pixel_values=pixels0, token_type_ids=token_type).logits[0]
    shapes["prompt_ids.i32"] = write(out, "prompt_ids.i32", ids[0].numpy(), np.int32)
    shapes["prompt_token_type.u8"] = write(out, "prompt_token_type.u8", token_type[0].numpy(),
                                           np.uint8)
    shapes["prompt_logits.f32"] = write(out, "prompt_logits.f32", logits.numpy(), np.float32)
    seq, types, greedy, margins = ids, token_type, [], []
    for step in range(N_GREEDY):
        last = model(input_ids=seq, pixel_values=pixels0, token_type_ids=types).logits[0, -1]
        top2 = torch.topk(last, 2).values
        margins.append(float(top2[0] - top2[1]))
        token = int(torch.argmax(last))
        greedy.append(token)
        seq = torch.cat([seq, torch.tensor([[token]])], dim=1)
        types = torch.cat([types, torch.zeros(1, 1, dtype=types.dtype)], dim=1)
    shapes["greedy.i32"] = write(out, "greedy.i32", greedy, np.int32)
    # the image rows matter: without them the first greedy token's logits move
    plain = model(input_ids=ids, token_type_ids=token_type,
                  pixel_values=torch.zeros_like(pixels0)).logits[0, -1]
    meta["image_changes_last_logits_by"] = float((plain - logits[-1]).abs().max())

    # ---- the same with pan & scan on: the panorama (image 1), 4 frames ----
    pan_messages = [{"role": "user", "content": [
        {"type": "image", "image": images[1]}, {"type": "text", "text": "Describe this image."}]}]
    enc = processor.apply_chat_template(pan_messages, tokenize=True, return_dict=True,
                                        add_generation_prompt=True, return_tensors="pt",
                                        do_pan_and_scan=True)
    pan_ids, pan_types, pixels = enc["input_ids"], enc["token_type_ids"], enc["pixel_values"]
    assert pixels.shape[0] == 4, pixels.shape
    last = model(input_ids=pan_ids, pixel_values=pixels, token_type_ids=pan_types).logits[0, -1]
    shapes["pan_ids.i32"] = write(out, "pan_ids.i32", pan_ids[0].numpy(), np.int32)
    shapes["pan_last_logits.f32"] = write(out, "pan_last_logits.f32", last.numpy(), np.float32)
    seq, types, pan_greedy = pan_ids, pan_types, []
    for step in range(8):
        token = int(torch.argmax(model(input_ids=seq, pixel_values=pixels,
                                       token_type_ids=types).logits[0, -1]))
        pan_greedy.append(token)
        seq = torch.cat([seq, torch.tensor([[token]])], dim=1)
        types = torch.cat([types, torch.zeros(1, 1, dtype=types.dtype)], dim=1)
    shapes["pan_greedy.i32"] = write(out, "pan_greedy.i32", pan_greedy, np.int32)

    meta.update({
        "generator": "tests/gen/make_gemma3_vlm_reference.py",
        "config_from": SOURCE,
        "torch": torch.__version__.split("+")[0],
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "pillow": PIL.__version__,
        "numpy": np.__version__,
        "compute_dtype": "float32",
        "attn_implementation": "eager",
        "seed": 0,
        "image_sizes": IMAGE_SIZES,
        "greedy": greedy,
        "greedy_min_top2_margin": min(margins),
        "n_prompt": int(ids.shape[1]),
        "shapes": shapes,
    })
    (out / "reference.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
