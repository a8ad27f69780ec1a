#!/usr/bin/env python3
"""Makes tests/data/smolvlm-e2e: what transformers does with SmolVLM from
image to answer, for tests/smolvlm to reproduce.

usage: TORCHVISION_PATH=<dir> make_smolvlm_e2e.py MODEL_DIR DATA_DIR OUT_DIR
  MODEL_DIR  tests/data/tiny-smolvlm
  DATA_DIR   tests/data (for sample.jpg)
Needs torch, transformers, Pillow, numpy, jinja2 (fixture generation only;
CI needs none of them), and torchvision 0.29.2 importable from the directory
TORCHVISION_PATH names (put first on sys.path by this script only; the image
cases name their PIL-based processor class explicitly, so its presence does
not change them). Versions are recorded in expected.json.

The image processor reference is transformers' Idefics3ImageProcessorPil, the
PIL-based one (DESIGN.md); the generator also checks it against its own
numpy + PIL reimplementation of the algorithm (PREPROCESSING.md section 1).

Files (raw little-endian, described in expected.json):
  processor.json       image cases: size, pattern or file, processor config,
                       tile cap, rows/cols, expanded prompt ids, and either
                       a pixel file (small configs) or per-frame sums and
                       sampled values (the real 2048/512 config)
  small/preprocessor_config.json  SmolVLM's settings with small edges, so
                       whole pixel_values stay small
  pixels_*.f32         pixel_values (n_frames, 3, tile, tile) of small cases
  chat.json            conversations and the chat template's rendering
  sampler.json         fixed logits and which tokens survive each of
                       transformers' logits warpers; repetition penalty output
  expected.json        the two generation cases: prompt ids, greedy ids
  logits_*.f32         prefill logits of the last prompt position (vocab)
  video.json           SmolVLM2 video: num2words, sample_frames indices, and a
                       three-frame video question (prompt ids, greedy ids,
                       logits_video.f32)

Video reference: transformers' SmolVLMProcessor.replace_video_token and
SmolVLMVideoProcessor.sample_frames, called on stand-in objects (the video
processor class needs torchvision, which the prompt and the frame choice do
not use), and SmolVLM2's DEFAULT_CHAT_TEMPLATE. Video frame pixels come from
SmolVLMVideoProcessor itself (torchvision resize, one call per frame size,
frames concatenated); tests/gen/make_video_frame_fixtures.py checks those
pixels on their own.

Synthetic images: pixel (x, y, channel c) of a W x H pattern image is
(x*x + 3*y*y + 7*x*y + 50*c + (x ^ y)) mod 256; tests/smolvlm computes the same.
"""
import json
import os
import math
import sys
from pathlib import Path

sys.path.insert(0, os.environ["TORCHVISION_PATH"])

import numpy as np
import PIL
import torch
import transformers
from PIL import Image
from transformers import AutoTokenizer, Idefics3ForConditionalGeneration, Idefics3Processor
from transformers.models.idefics3 import Idefics3ImageProcessorPil
from transformers.generation.logits_process import (MinPLogitsWarper, RepetitionPenaltyLogitsProcessor,
                                                    TemperatureLogitsWarper, TopKLogitsWarper,
                                                    TopPLogitsWarper)

SMALL = {"size": {"longest_edge": 96}, "max_image_size": {"longest_edge": 24}}
N_SAMPLES = 1000
N_NEW_TOKENS = 32
QUESTION = "What is in this image?"
FOLLOW_UP = "Describe the colours, please."
E2E_MAX_TILES = 4   # keeps the e2e tests fast: 2x2 tiles + global


def pattern(width, height):
    x = np.arange(width, dtype=np.int64)[None, :, None]
    y = np.arange(height, dtype=np.int64)[:, None, None]
    c = np.arange(3, dtype=np.int64)[None, None, :]
    return ((x * x + 3 * y * y + 7 * x * y + 50 * c + (x ^ y)) % 256).astype(np.uint8)


def write(path, array, dtype):
    a = np.ascontiguousarray(np.asarray(array, dtype=dtype))
    path.write_bytes(a.astype(a.dtype.newbyteorder("<")).tobytes())


# ---- an independent reimplementation of the processor (PREPROCESSING.md 1) ----

def own_pixel_values(rgb, longest_edge, tile, resample=Image.LANCZOS):
    image = Image.fromarray(rgb)
    w, h = image.size
    aspect = w / h
    if w >= h:
        w2, h2 = longest_edge, int(longest_edge / aspect)
        h2 += h2 % 2
    else:
        h2, w2 = longest_edge, int(longest_edge * aspect)
        w2 += w2 % 2
    w2, h2 = max(w2, 1), max(h2, 1)
    image = image.resize((w2, h2), resample)
    aspect = w2 / h2
    if w2 >= h2:
        gw = math.ceil(w2 / tile) * tile
        gh = math.ceil(int(gw / aspect) / tile) * tile
    else:
        gh = math.ceil(h2 / tile) * tile
        gw = math.ceil(int(gh * aspect) / tile) * tile
    grid = image.resize((gw, gh), resample)
    frames = []
    if gw > tile or gh > tile:
        for r in range(gh // tile):
            for c in range(gw // tile):
                frames.append(grid.crop((c * tile, r * tile, (c + 1) * tile, (r + 1) * tile)))
        frames.append(grid.resize((tile, tile), resample))
    else:
        frames.append(grid)
    out = []
    for f in frames:
        a = np.asarray(f).astype(np.float64) * (1 / 255)
        a = a.astype(np.float32)
        a = (a - np.float32(0.5)) / np.float32(0.5)
        out.append(a.transpose(2, 0, 1))
    return np.stack(out)


def capped_edge(width, height, longest, tile, max_tiles):
    """The longest edge libvlm uses for a tile cap: the largest multiple of
    tile (starting from the configured edge) whose grid has <= max_tiles."""
    ip = Idefics3ImageProcessorPil(size={"longest_edge": longest}, max_image_size={"longest_edge": tile})
    def tiles(edge):
        _, rows, cols = ip.get_number_of_image_patches(height, width, {"size": {"longest_edge": edge}})
        return rows * cols
    if max_tiles == 0 or tiles(longest) <= max_tiles:
        return longest
    edge = (longest - 1) // tile * tile
    while edge > tile and tiles(edge) > max_tiles:
        edge -= tile
    return max(edge, tile)


# ---- processor cases ----

def processor_cases(model_dir, data_dir, out):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    real_cfg = json.loads((model_dir / "preprocessor_config.json").read_text())
    small_cfg = dict(real_cfg, **SMALL)
    (out / "small").mkdir(exist_ok=True)
    (out / "small" / "preprocessor_config.json").write_text(json.dumps(small_cfg, indent=2) + "\n")
    seq_len = json.loads((model_dir / "processor_config.json").read_text())["image_seq_len"]

    cases = []
    small = [("odd", 37, 23, 0), ("portrait", 23, 61, 0), ("panorama", 300, 20, 0),
             ("tiny", 1, 1, 0), ("two_by_three", 2, 3, 0), ("exact", 24, 24, 0),
             ("sliver", 129, 5, 0), ("odd_capped", 37, 23, 2), ("tiny_capped", 1, 1, 5),
             ("portrait_capped_1", 23, 61, 1)]
    real = [("sample_jpg", None, None, 0), ("sample_jpg_capped", None, None, E2E_MAX_TILES),
            ("tiny_real", 1, 1, 0)]
    for name, w, h, cap in small + real:
        is_small = (name, w, h, cap) in small
        cfg = small_cfg if is_small else real_cfg
        if w is None:
            rgb = np.asarray(Image.open(data_dir / "sample.jpg").convert("RGB"))
            source = {"file": "sample.jpg"}
        else:
            rgb = pattern(w, h)
            source = {"pattern": [w, h]}
        height, width = rgb.shape[:2]
        tile = cfg["max_image_size"]["longest_edge"]
        edge = capped_edge(width, height, cfg["size"]["longest_edge"], tile, cap)
        ip = Idefics3ImageProcessorPil(**{k: v for k, v in cfg.items()
                                          if k not in ("image_processor_type", "processor_class")})
        ip.size = {"longest_edge": edge}
        proc = Idefics3Processor(image_processor=ip, tokenizer=tokenizer, image_seq_len=seq_len)
        text = "User:<image>Describe.<end_of_utterance>"
        enc = proc(text=text, images=[Image.fromarray(rgb)], return_tensors="np")
        pv = enc["pixel_values"][0]
        info = ip(images=[Image.fromarray(rgb)], return_row_col_info=True)
        rows, cols = int(info["rows"][0][0]), int(info["cols"][0][0])
        own = own_pixel_values(rgb, edge, tile)
        assert own.shape == pv.shape and np.array_equal(own, pv), f"{name}: own reimplementation differs"
        case = dict(name=name, **source, config="small" if is_small else "real", max_tiles=cap,
                    longest_edge=edge, rows=rows, cols=cols, n_frames=int(pv.shape[0]), tile=tile,
                    prompt=text, prompt_ids=[int(i) for i in enc["input_ids"][0]])
        if is_small:
            case["pixels"] = f"pixels_{name}.f32"
            write(out / case["pixels"], pv, np.float32)
        else:
            flat = pv.reshape(-1)
            rng = np.random.default_rng(len(cases))
            idx = np.sort(rng.choice(flat.size, N_SAMPLES, replace=False))
            case["frame_sums"] = [float(f.astype(np.float64).sum()) for f in pv]
            case["frame_abs_sums"] = [float(np.abs(f.astype(np.float64)).sum()) for f in pv]
            case["sample_index"] = [int(i) for i in idx]
            case["sample_value"] = [float(v) for v in flat[idx]]
        cases.append(case)
        print(f"processor {name}: {width}x{height} -> {rows}x{cols} tiles, {pv.shape[0]} frames, "
              f"{len(case['prompt_ids'])} ids")
    (out / "processor.json").write_text(json.dumps({"image_seq_len": seq_len, "cases": cases}) + "\n")


# ---- chat template ----

def chat_cases(model_dir, out):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    template = json.loads((model_dir / "chat_template.json").read_text())["chat_template"]

    def content(text, n_images):
        return [{"type": "image"}] * n_images + [{"type": "text", "text": text}]

    conversations = {
        "image_and_text": [("user", "What is in this image?", 1)],
        "system_and_user": [("system", "You are terse.", 0), ("user", "Hello there", 0)],
        "two_turns": [("user", "What is this?", 1), ("assistant", "A cat on a mat.", 0),
                      ("user", "What colour is the cat?", 0)],
        "two_images": [("user", "Compare these two pictures.", 2)],
        "unicode_and_newlines": [("user", "Grüße\nline two  ", 0)],
        "empty_text_with_image": [("user", "", 1)],
    }
    cases = []
    for name, turns in conversations.items():
        messages = [{"role": r, "content": content(t, n)} for r, t, n in turns]
        for add_generation_prompt in (True, False):
            rendered = tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False,
                                                     add_generation_prompt=add_generation_prompt)
            cases.append({"name": name, "add_generation_prompt": add_generation_prompt,
                          "turns": [{"role": r, "text": t, "n_images": n} for r, t, n in turns],
                          "rendered": rendered})
    (out / "chat.json").write_text(json.dumps({"cases": cases}, ensure_ascii=False) + "\n")


# ---- sampler filters ----

def sampler_cases(out):
    rng = np.random.default_rng(7)
    vocab = 64
    # well separated logits (gaps >= 0.05), so no filter sits on a rounding edge
    logits = (rng.permutation(vocab) * 0.11 - 3.0 + rng.uniform(0, 0.05, vocab)).astype(np.float32)
    x = torch.from_numpy(logits)[None]
    ids = torch.zeros((1, 1), dtype=torch.long)
    settings = [dict(temperature=0.7), dict(temperature=1.0, top_k=5), dict(temperature=0.5, top_p=0.8),
                dict(temperature=1.3, min_p=0.2), dict(temperature=0.9, top_k=20, top_p=0.6, min_p=0.05),
                dict(temperature=1.0, top_p=0.3), dict(temperature=2.0, top_k=1)]
    cases = []
    for s in settings:
        scores = TemperatureLogitsWarper(s["temperature"])(ids, x.clone())
        if s.get("top_k"): scores = TopKLogitsWarper(s["top_k"])(ids, scores)
        if s.get("top_p", 1.0) < 1.0: scores = TopPLogitsWarper(s["top_p"])(ids, scores)
        if s.get("min_p"): scores = MinPLogitsWarper(s["min_p"])(ids, scores)
        survivors = sorted(int(i) for i in torch.nonzero(torch.isfinite(scores[0])).flatten())
        cases.append({"params": s, "survivors": survivors})
    context = [3, 3, 10, 17, 40, 63]
    penalized = RepetitionPenaltyLogitsProcessor(1.3)(torch.tensor([context]), x.clone())[0]
    (out / "sampler.json").write_text(json.dumps({
        "logits": [float(v) for v in logits], "cases": cases,
        "repetition": {"penalty": 1.3, "context": context,
                       "scores": [float(v) for v in penalized]}}) + "\n")


# ---- end to end ----

@torch.no_grad()
def e2e_cases(model_dir, data_dir, out):
    model = Idefics3ForConditionalGeneration.from_pretrained(
        model_dir, dtype=torch.float32, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    cfg = json.loads((model_dir / "preprocessor_config.json").read_text())
    image = Image.open(data_dir / "sample.jpg").convert("RGB")
    edge = capped_edge(image.size[0], image.size[1], cfg["size"]["longest_edge"],
                       cfg["max_image_size"]["longest_edge"], E2E_MAX_TILES)
    ip = Idefics3ImageProcessorPil(**{k: v for k, v in cfg.items()
                                      if k not in ("image_processor_type", "processor_class")})
    ip.size = {"longest_edge": edge}
    seq_len = json.loads((model_dir / "processor_config.json").read_text())["image_seq_len"]
    template = json.loads((model_dir / "chat_template.json").read_text())["chat_template"]
    proc = Idefics3Processor(image_processor=ip, tokenizer=tokenizer, image_seq_len=seq_len,
                             chat_template=template)

    def run(messages, name):
        text = proc.apply_chat_template(messages, add_generation_prompt=True)
        enc = proc(text=text, images=[image], return_tensors="pt")
        logits = model(**enc).logits[0, -1]
        write(out / f"logits_{name}.f32", logits.numpy(), np.float32)
        top2 = torch.topk(logits, 2).values
        generated = model.generate(**enc, max_new_tokens=N_NEW_TOKENS, do_sample=False)
        new = [int(t) for t in generated[0, enc["input_ids"].shape[1]:]]
        answer = tokenizer.decode(new, skip_special_tokens=True).lstrip()
        return {"prompt_text": text, "prompt_ids": [int(i) for i in enc["input_ids"][0]],
                "n_frames": int(enc["pixel_values"].shape[1]), "generated_ids": new,
                "answer": answer, "logits": f"logits_{name}.f32",
                "prefill_top2_margin": float(top2[0] - top2[1])}

    user1 = {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]}
    one = run([user1], "one_image")
    assistant = {"role": "assistant", "content": [{"type": "text", "text": one["answer"]}]}
    user2 = {"role": "user", "content": [{"type": "text", "text": FOLLOW_UP}]}
    two = run([user1, assistant, user2], "two_turns")
    print(f"e2e: one image {len(one['prompt_ids'])} + {len(one['generated_ids'])} tokens, "
          f"two turns {len(two['prompt_ids'])} + {len(two['generated_ids'])}")
    return {"max_image_tiles": E2E_MAX_TILES, "longest_edge": edge, "question": QUESTION,
            "follow_up": FOLLOW_UP, "max_new_tokens": N_NEW_TOKENS,
            "one_image": one, "two_turns": two}


# ---- SmolVLM2 video ----

class _Stand:
    """Attributes the reference methods read, without building the classes."""
    def __init__(self, **kw):
        self.__dict__.update(kw)


def _reference_sample_frames():
    """SmolVLMVideoProcessor.sample_frames, taken from transformers' source
    file: importing that module needs torchvision, the method does not."""
    import ast
    import transformers.models.smolvlm as package
    source = (Path(package.__file__).parent / "video_processing_smolvlm.py").read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == "sample_frames":
            node.decorator_list = []
            from transformers.video_utils import VideoMetadata
            namespace = {"np": np, "VideoMetadata": VideoMetadata, "Union": __import__("typing").Union}
            exec(compile(ast.Module([node], []), "video_processing_smolvlm.py", "exec"),
                 namespace)
            return namespace["sample_frames"]
    raise RuntimeError("sample_frames not found")


@torch.no_grad()
def video_cases(model_dir, out):
    from num2words import num2words
    from transformers.models.smolvlm import processing_smolvlm
    from transformers.video_utils import VideoMetadata
    sample_frames = _reference_sample_frames()

    numbers = [0, 1, 7, 13, 20, 21, 45, 64, 99, 100, 101, 110, 121, 200, 999, 1000, 1001, 1100,
               2345, 12001, 123456, 999999]
    words = {str(n): num2words(n) for n in numbers}

    sampler = _Stand(num_frames=64, fps=1)
    sampling = []
    for total, vfps, fps, max_frames in [(300, 30.0, 1.0, 64), (3000, 30.0, 1.0, 64), (10, 5.0, 2.0, 8),
                                         (1, 24.0, 1.0, 64), (7200, 24.0, 1.0, 64), (45, 30.0, 0.5, 64),
                                         (100, 25.0, 3.0, 4)]:
        md = VideoMetadata(total_num_frames=total, fps=vfps, duration=total / vfps)
        idx = sample_frames(sampler, md, num_frames=max_frames, fps=fps)
        sampling.append({"total_frames": total, "video_fps": vfps, "fps": fps, "max_frames": max_frames,
                         "indices": [int(i) for i in idx]})

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    seq_len = json.loads((model_dir / "processor_config.json").read_text())["image_seq_len"]
    sizes = [(60, 40), (62, 41), (64, 42)]
    timestamps, duration = [0.0, 2.0, 65.7], 70.2
    stand = _Stand(image_seq_len=seq_len, image_token="<image>", fake_image_token="<fake_token_around_image>",
                   global_image_token="<global-img>")
    md = VideoMetadata(total_num_frames=703, fps=10.0, duration=duration, frames_indices=[0, 20, 657])
    assert md.timestamps == timestamps
    video_text = processing_smolvlm.SmolVLMProcessor.replace_video_token(
        stand, {"pixel_values": np.zeros((1, len(sizes), 3, 1, 1)), "video_metadata": [md]}, 0)
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "What happens?"}]}]
    chat = tokenizer.apply_chat_template(messages, chat_template=processing_smolvlm.DEFAULT_CHAT_TEMPLATE,
                                         tokenize=False, add_generation_prompt=True)
    prompt = chat.replace("<video>", video_text)
    ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]

    cfg = json.loads((model_dir / "preprocessor_config.json").read_text())
    from transformers.models.smolvlm.video_processing_smolvlm import SmolVLMVideoProcessor
    vp = SmolVLMVideoProcessor(**{k: v for k, v in cfg.items()
                                  if k not in ("image_processor_type", "processor_class")})
    # one video per frame size (a video is one tensor); frames become 512 x 512
    pv = torch.cat([vp(videos=[pattern(w, h)[None]], input_data_format="channels_last",
                       return_tensors="pt")["pixel_values"] for w, h in sizes], dim=1)
    model = Idefics3ForConditionalGeneration.from_pretrained(
        model_dir, dtype=torch.float32, attn_implementation="eager").eval()
    input_ids = torch.tensor([ids])
    logits = model(input_ids=input_ids, pixel_values=pv).logits[0, -1]
    write(out / "logits_video.f32", logits.numpy(), np.float32)
    generated = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                               pixel_values=pv, max_new_tokens=8, do_sample=False)
    video = {"numbers": words, "sampling": sampling, "frame_sizes": sizes, "timestamps": timestamps,
             "duration": duration, "question": "What happens?", "prompt_text": prompt,
             "prompt_ids": [int(i) for i in ids], "generated_ids": [int(t) for t in generated[0, len(ids):]],
             "logits": "logits_video.f32"}
    (out / "video.json").write_text(json.dumps(video) + "\n")
    print(f"video: {len(ids)} prompt ids, {len(video['generated_ids'])} generated")


def main():
    model_dir, data_dir, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    processor_cases(model_dir, data_dir, out)
    chat_cases(model_dir, out)
    sampler_cases(out)
    expected = e2e_cases(model_dir, data_dir, out)
    video_cases(model_dir, out)
    expected.update({
        "generator": "tests/gen/make_smolvlm_e2e.py",
        "model": "tests/data/tiny-smolvlm",
        "image_processor": "Idefics3ImageProcessorPil (PIL-based), checked against the "
                           "generator's own numpy + PIL reimplementation (identical arrays)",
        "torch": torch.__version__.split("+")[0], "transformers": transformers.__version__,
        "pillow": PIL.__version__, "numpy": np.__version__,
        "num2words": __import__("importlib.metadata").metadata.version("num2words"),
        "compute_dtype": "float32", "attn_implementation": "eager",
    })
    (out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()
