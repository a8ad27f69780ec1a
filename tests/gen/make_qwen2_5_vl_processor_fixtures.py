#!/usr/bin/env python3
"""Fixtures for tests/qwen2_5_vl: the Qwen2.5-VL image processor against
transformers' Qwen2VLImageProcessorPil (the PIL-based reference), and the
grounding parser's table of answers.

    python3 tests/gen/make_qwen2_5_vl_processor_fixtures.py [SHARED_ASSETS]

SHARED_ASSETS defaults to ../shared/assets next to the repository. Writes
tests/data/qwen2_5_vl/: preprocessor_config.json (copied, Apache-2.0),
processor.json (cases and their expected shapes / sums / samples),
*.f32 (whole pixel_values of the small cases), smart_resize.json and
grounding.json.

Images are the arithmetic pattern the C test makes itself (plus 31 per video
frame), so no image files are stored.

Video: transformers 5 has only a torch video processor (torchvision resize,
not Pillow's). The expected video pixel_values are therefore made by a numpy
+ PIL reimplementation of the documented algorithm (each frame through the
PIL image processor's resize / rescale / normalize, last frame repeated to a
multiple of temporal_patch_size, (t, C, gh/2, 2, 14, gw/2, 2, 14) permuted
to rows (t, bh, bw, mh, mw) x (C, t, 14, 14)); processor.json records how far
the torch video processor is from it for each video ("torch_video_max_diff";
it needs torchvision, and says so when that is missing). For a video that
needs no resize the two must agree exactly; in any case a single frame through
the reimplementation must equal the PIL image processor's output, which
checks the patch order.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import transformers
from PIL import Image
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
    Qwen2VLImageProcessorPil, smart_resize)
try:  # the torch video processor needs torchvision
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor
except ImportError:
    Qwen2VLVideoProcessor = None

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "tests", "data", "qwen2_5_vl")
MODEL = "Qwen__Qwen2.5-VL-3B-Instruct"
WHOLE_LIMIT = 32          # cases with at most this many rows store the whole array
N_SAMPLES = 400


def pattern(width, height, frame=0):
    x = np.arange(width, dtype=np.int64)[None, :, None]
    y = np.arange(height, dtype=np.int64)[:, None, None]
    c = np.arange(3, dtype=np.int64)[None, None, :]
    return ((x * x + 3 * y * y + 7 * x * y + 50 * c + (x ^ y) + 31 * frame) % 256).astype(np.uint8)


def processor(config, min_pixels=None, max_pixels=None):
    kwargs = {k: config[k] for k in ("min_pixels", "max_pixels", "patch_size",
                                      "temporal_patch_size", "merge_size", "image_mean", "image_std")}
    if min_pixels:
        kwargs["min_pixels"] = min_pixels
    if max_pixels:
        kwargs["max_pixels"] = max_pixels
    return Qwen2VLImageProcessorPil(**kwargs)


def reimplemented_video(proc, frames):
    """The documented algorithm in numpy + PIL, frames of one size."""
    h, w = frames[0].shape[:2]
    rh, rw = smart_resize(h, w, 28, proc.size["shortest_edge"], proc.size["longest_edge"])
    chw = []
    for f in frames:
        img = Image.fromarray(f).resize((rw, rh), Image.Resampling.BICUBIC) if (rh, rw) != (h, w) \
            else Image.fromarray(f)
        a = (np.asarray(img).astype(np.float64) * (1 / 255)).astype(np.float32)
        a = (a - np.array(proc.image_mean, np.float32)) / np.array(proc.image_std, np.float32)
        chw.append(a.transpose(2, 0, 1))
    while len(chw) % 2:
        chw.append(chw[-1])
    v = np.stack(chw)                      # (T, C, H, W)
    t, c = v.shape[0] // 2, v.shape[1]
    gh, gw = rh // 14, rw // 14
    v = v.reshape(t, 2, c, gh // 2, 2, 14, gw // 2, 2, 14)
    v = v.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return v.reshape(t * gh * gw, c * 2 * 14 * 14), [t, gh, gw]


def store(case, pixel_values, name):
    rows = pixel_values.shape[0]
    flat = pixel_values.reshape(-1).astype(np.float32)
    if rows <= WHOLE_LIMIT:
        case["file"] = name + ".f32"
        flat.tofile(os.path.join(OUT, case["file"]))
    rng = np.random.default_rng(len(name) * 7919 + rows)
    index = np.sort(rng.choice(flat.size, size=min(N_SAMPLES, flat.size), replace=False))
    case["row_sums"] = [float(s) for s in pixel_values.astype(np.float64).sum(axis=1)]
    case["row_abs_sums"] = [float(s) for s in np.abs(pixel_values.astype(np.float64)).sum(axis=1)]
    case["sample_index"] = [int(i) for i in index]
    case["sample_value"] = [float(flat[i]) for i in index]


def image_cases(config):
    cases = []
    # (name, width, height, min_pixels, max_pixels): 0 = the config's
    for name, w, h, mn, mx in [
        ("odd_sides", 61, 45, 0, 0),          # neither side a multiple of 28
        ("exact", 84, 56, 0, 0),              # no resize at all
        ("tiny", 20, 15, 0, 0),               # below min_pixels, sides < 28
        ("portrait", 90, 300, 0, 28 * 28 * 20),
        ("panorama", 1000, 60, 0, 0),
        ("max_pixels", 640, 480, 0, 28 * 28 * 64),   # hits the (lowered) budget
        ("min_budget", 150, 100, 28 * 28 * 40, 0),   # a raised min_pixels scales up
    ]:
        proc = processor(config, mn or None, mx or None)
        out = proc(images=[Image.fromarray(pattern(w, h))], return_tensors="np")
        pv = out["pixel_values"]
        thw = [int(v) for v in out["image_grid_thw"][0]]
        case = {"name": name, "width": w, "height": h, "frames": 1, "min_pixels": mn,
                "max_pixels": mx, "grid_thw": thw, "rows": int(pv.shape[0]),
                "cols": int(pv.shape[1]), "n_tokens": int(np.prod(thw)) // 4}
        store(case, pv, name)
        cases.append(case)
    return cases


def video_cases(config):
    cases = []
    for name, w, h, n, mn, mx in [
        ("video_exact", 84, 56, 4, 3136, 0),     # frames need no resize: torch must agree
        ("video_resized", 70, 50, 4, 0, 0),
        ("video_odd_frames", 61, 45, 3, 0, 0),   # 3 frames: the last one repeated
    ]:
        proc = processor(config, mn or None, mx or None)
        frames = [pattern(w, h, f) for f in range(n)]
        pv, thw = reimplemented_video(proc, frames)
        # the reimplementation's patch order, checked where a reference exists:
        # one frame (padded in time) must be exactly the PIL image processor's
        single = proc(images=[Image.fromarray(frames[0])], return_tensors="np")["pixel_values"]
        assert np.array_equal(reimplemented_video(proc, frames[:1])[0], single), name
        torch_thw, torch_diff = None, "torchvision not installed"
        if Qwen2VLVideoProcessor is not None:
            vp = Qwen2VLVideoProcessor(min_pixels=proc.size["shortest_edge"],
                                       max_pixels=proc.size["longest_edge"],
                                       image_mean=proc.image_mean, image_std=proc.image_std)
            video = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)
            ref = vp(videos=[video], return_tensors="np", do_sample_frames=False,
                     cap_pixels_per_frame=False)
            torch_thw = [int(v) for v in ref["video_grid_thw"][0]]
            torch_diff = float(np.abs(ref["pixel_values_videos"] - pv).max()) \
                if torch_thw == thw else None
            if name == "video_exact":
                assert torch_diff == 0.0, torch_diff
        case = {"name": name, "width": w, "height": h, "frames": n, "min_pixels": mn,
                "max_pixels": mx, "grid_thw": thw, "rows": int(pv.shape[0]),
                "cols": int(pv.shape[1]), "n_tokens": int(np.prod(thw)) // 4,
                "torch_video_grid_thw": torch_thw, "torch_video_max_diff": torch_diff}
        store(case, pv, name)
        cases.append(case)
    return cases


def smart_resize_table(config):
    """Sizes -> (h, w) or "error", straight from the reference function."""
    rows = []
    sizes = [(1, 1), (27, 27), (28, 28), (14, 42), (42, 14), (70, 70), (98, 126), (126, 98),
             (45, 61), (300, 90), (60, 1000), (480, 640), (1080, 1920), (3000, 4000),
             (4000, 3500), (8000, 8000), (10, 2000), (10, 2001), (1, 200), (1, 201),
             (5000, 25), (56, 11200), (56, 11201), (99, 99), (41, 41), (42, 42), (43, 43)]
    budgets = [(3136, 12845056), (3136, 28 * 28 * 1280), (3136, 28 * 28 * 4),
               (28 * 28 * 256, 28 * 28 * 1024), (1, 784)]
    for h, w in sizes:
        for mn, mx in budgets:
            try:
                rh, rw = smart_resize(h, w, 28, mn, mx)
                rh, rw = max(28, rh), max(28, rw)  # qwen-vl-utils' clamp; see the C header
                rows.append([h, w, mn, mx, rh, rw])
            except ValueError:
                rows.append([h, w, mn, mx, "error"])
    return rows


def prompt_expansion(config):
    """What Qwen2_5_VLProcessor puts in place of one <|image_pad|>: its own
    replace_image_token, called on a stand-in object because constructing the
    processor needs the torch video processor (torchvision)."""
    import types
    from transformers.models.qwen2_5_vl.processing_qwen2_5_vl import Qwen2_5_VLProcessor
    proc = processor(config)
    out = proc(images=[Image.fromarray(pattern(61, 45))], return_tensors="np")
    stand_in = types.SimpleNamespace(image_processor=proc, image_token="<|image_pad|>")
    pads = Qwen2_5_VLProcessor.replace_image_token(stand_in, out, 0)
    return {"width": 61, "height": 45,
            "expanded": "<|vision_start|>" + pads + "<|vision_end|>"}


# ---- grounding ----
# (answer, image w, h, resized w, h, expected items: (kind, reason, coords in
# the model's space or None, label)). Coordinates are scaled below with the
# documented rule: x * W / RW, y * H / RH, clamped to [0, W] x [0, H].
B, P, R = "box", "point", "rejected"
GROUNDING = [
    ('```json\n[\n\t{"bbox_2d": [135, 114, 1016, 672], "label": "cat"}\n]\n```', 1280, 853, 1288, 868,
     [(B, "ok", [135, 114, 1016, 672], "cat")]),
    ('```json\n[\n\t{"bbox_2d": [10, 20, 110, 220], "label": "car"},\n\t{"bbox_2d": [300, 40, 500, 260], "label": "car"}\n]\n```',
     640, 480, 644, 476, [(B, "ok", [10, 20, 110, 220], "car"), (B, "ok", [300, 40, 500, 260], "car")]),
    ('[{"bbox_2d": [0, 0, 28, 28], "label": "logo"}]', 56, 56, 56, 56, [(B, "ok", [0, 0, 28, 28], "logo")]),
    ('{"bbox_2d": [50, 60, 70, 80], "label": "cup"}', 200, 100, 196, 112, [(B, "ok", [50, 60, 70, 80], "cup")]),
    ('```json\n[\n\t{"point_2d": [320, 240], "label": "the red button"}\n]\n```', 1920, 1080, 1932, 1092,
     [(P, "ok", [320, 240], "the red button")]),
    ('```json\n[{"bbox_2d": [10, 10, 50, 50], "label": "a",},]\n```', 100, 100, 112, 112,
     [(B, "ok", [10, 10, 50, 50], "a")]),
    ("[{'bbox_2d': [5, 6, 7, 8], 'label': 'dog'}]", 100, 100, 112, 112, [(B, "ok", [5, 6, 7, 8], "dog")]),
    ('```json\n[\n\t{"bbox_2d": [10, 20, 30, 40], "label": "person"},\n\t{"bbox_2d": [50, 60, 70, 80], "label": "per',
     300, 300, 308, 308, [(B, "ok", [10, 20, 30, 40], "person"), (B, "ok", [50, 60, 70, 80], "per")]),
    ('```json\n[\n\t{"bbox_2d": [10, 20, 30, 40], "label": "person"},\n\t{"bbox_2d": [50, 60, 7',
     300, 300, 308, 308, [(B, "ok", [10, 20, 30, 40], "person"), (R, "truncated", None, "")]),
    ('[{"bbox_2d": [10, 20, 30, 40], "label": "a"}, {"bbo', 300, 300, 308, 308,
     [(B, "ok", [10, 20, 30, 40], "a"), (R, "truncated", None, "")]),
    ('[{"bbox_2d": [10, 20, 30], "label": "short"}]', 100, 100, 112, 112, [(R, "wrong_arity", None, "short")]),
    ('[{"point_2d": [10, 20, 30], "label": "p"}]', 100, 100, 112, 112, [(R, "wrong_arity", None, "p")]),
    ('[{"bbox_2d": [10, "twenty", 30, 40], "label": "x"}]', 100, 100, 112, 112, [(R, "not_a_number", None, "x")]),
    ('[{"bbox_2d": ["10", "20", "30", "40"], "label": "strings"}]', 100, 100, 112, 112,
     [(B, "ok", [10, 20, 30, 40], "strings")]),
    ('[{"label": "no coords"}, {"bbox_2d": [1, 2, 3, 4], "label": "ok"}]', 100, 100, 112, 112,
     [(R, "no_coordinates", None, "no coords"), (B, "ok", [1, 2, 3, 4], "ok")]),
    ('[{"bbox_2d": [100, 80, 20, 10], "label": "swapped"}]', 100, 100, 112, 112,
     [(B, "ok", [100, 80, 20, 10], "swapped")]),
    ('[{"bbox_2d": [-5, -3, 120, 500], "label": "outside"}]', 100, 100, 112, 112,
     [(B, "ok", [-5, -3, 120, 500], "outside")]),
    ('There are no cars in this image.', 100, 100, 112, 112, []),
    ('', 100, 100, 112, 112, []),
    ('The cat is here: {"bbox_2d": [10.5, 20.25, 30.75, 40], "label": "cat"} and that is all [1].',
     100, 100, 112, 112, [(B, "ok", [10.5, 20.25, 30.75, 40], "cat")]),
    ('{"bbox_2d": [1, 2, 3, 4], "label": "a"}\n{"bbox_2d": [5, 6, 7, 8], "label": "b"}', 100, 100, 112, 112,
     [(B, "ok", [1, 2, 3, 4], "a"), (B, "ok", [5, 6, 7, 8], "b")]),
    ('[{"bbox_2d": [[10, 20], [30, 40]], "label": "pairs"}]', 100, 100, 112, 112,
     [(B, "ok", [10, 20, 30, 40], "pairs")]),
    ('[{"bbox_2d": [1, 2, 3, 4], "point_2d": [2, 3], "label": "both"}]', 100, 100, 112, 112,
     [(B, "ok", [1, 2, 3, 4], "both"), (P, "ok", [2, 3], "both")]),
    ('[{bbox_2d: [1, 2, 3, 4], label: unquoted words}]', 100, 100, 112, 112,
     [(B, "ok", [1, 2, 3, 4], "unquoted words")]),
    ('[{"bbox_2d": [1, 2, 3, 4], "label": "caf\\u00e9 \\"au\\" lait"}]', 100, 100, 112, 112,
     [(B, "ok", [1, 2, 3, 4], 'café "au" lait')]),
    ('[{"bbox_2d": [1, 2, 3, 4], "label": "' + "x" * 80 + '"}]', 100, 100, 112, 112,
     [(B, "ok", [1, 2, 3, 4], "x" * 63)]),
    ('[{"bbox_2d": [1, 2, 3, 4], "label": "' + "é" * 40 + '"}]', 100, 100, 112, 112,
     [(B, "ok", [1, 2, 3, 4], "é" * 31)]),
    ('[{"bbox_2d": [1, 2, 3, 4], "label": "猫"}, "stray", 42]', 100, 100, 112, 112,
     [(B, "ok", [1, 2, 3, 4], "猫"), (R, "not_an_object", None, ""), (R, "not_an_object", None, "")]),
    ('[{"bbox_2d": null, "label": "nil"}]', 100, 100, 112, 112, [(R, "not_a_number", None, "nil")]),
    ('[{"bbox_2d": [1, 2, 3, NaN], "label": "nan"}]', 100, 100, 112, 112, [(R, "not_a_number", None, "nan")]),
    ('[{"bbox_2d": [1e1, 2E1, 3.0e1, 4e+1], "label": "exp"}]', 100, 100, 112, 112,
     [(B, "ok", [10, 20, 30, 40], "exp")]),
    ('[{"bbox_2d": [1, 2, 3, 4], "label": "a", "attributes": {"color": "red", "bbox_2d": [9]}}]',
     100, 100, 112, 112, [(B, "ok", [1, 2, 3, 4], "a")]),
    ('```json\n[{"bbox_2d": [10, 10, 20, 20], "label": "first"}]\n```\nand\n```json\n[{"point_2d": [5, 5], "label": "second"}]\n```',
     100, 100, 112, 112, [(B, "ok", [10, 10, 20, 20], "first"), (P, "ok", [5, 5], "second")]),
    ('[{"bbox_2d": [1, 2, 3, 4], "label": "open"', 100, 100, 112, 112, [(B, "ok", [1, 2, 3, 4], "open")]),
    ('[{"bbox_2d": [1, 2, 3, 4}, {"point_2d": [7, 8]}]', 100, 100, 112, 112,
     [(B, "ok", [1, 2, 3, 4], ""), (P, "ok", [7, 8], "")]),
    ('[{"point": [56, 28], "label": "alias"}, {"bbox": [0, 0, 56, 28], "label": "alias"}]', 50, 25, 56, 28,
     [(P, "ok", [56, 28], "alias"), (B, "ok", [0, 0, 56, 28], "alias")]),
    ('[{"bbox_2d": [1, 2, 3, 4], "label": "same size"}]', 100, 100, 0, 0, [(B, "ok", [1, 2, 3, 4], "same size")]),
]


def scale_item(kind, coords, w, h, rw, rh):
    sx = w / rw if rw else 1.0
    sy = h / rh if rh else 1.0
    clamp = lambda v, hi: min(max(v, 0.0), hi)  # noqa: E731
    if kind == B:
        x1, y1, x2, y2 = coords
        xs = sorted([x1 * sx, x2 * sx])
        ys = sorted([y1 * sy, y2 * sy])
        return [clamp(xs[0], w), clamp(ys[0], h), clamp(xs[1], w), clamp(ys[1], h)]
    if kind == P:
        x, y = clamp(coords[0] * sx, w), clamp(coords[1] * sy, h)
        return [x, y, x, y]
    return [0.0, 0.0, 0.0, 0.0]


def grounding_table():
    cases = []
    for answer, w, h, rw, rh, items in GROUNDING:
        cases.append({"answer": answer, "width": w, "height": h, "resized_width": rw,
                      "resized_height": rh,
                      "items": [{"kind": k, "reason": r, "label": label,
                                 "coords": scale_item(k, c, w, h, rw, rh)}
                                for k, r, c, label in items]})
    return cases


def main():
    assets = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "..", "shared", "assets")
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(assets, MODEL, "preprocessor_config.json")) as f:
        raw = f.read()
    config = json.loads(raw)
    with open(os.path.join(OUT, "preprocessor_config.json"), "w") as f:
        f.write(raw)
    cases = image_cases(config) + video_cases(config)
    meta = {"transformers": transformers.__version__, "torch": torch.__version__,
            "reference": "Qwen2VLImageProcessorPil (images); numpy+PIL reimplementation (video)",
            "cases": cases, "prompt": prompt_expansion(config)}
    with open(os.path.join(OUT, "processor.json"), "w") as f:
        json.dump(meta, f, separators=(",", ":"))
    with open(os.path.join(OUT, "smart_resize.json"), "w") as f:
        json.dump({"factor": 28, "rows": smart_resize_table(config)}, f)
    with open(os.path.join(OUT, "grounding.json"), "w", encoding="utf-8") as f:
        json.dump({"cases": grounding_table()}, f, indent=1, ensure_ascii=False)
    for c in cases:
        print(c["name"], c["grid_thw"], c["rows"], "torch_video_max_diff", c.get("torch_video_max_diff"))


if __name__ == "__main__":
    main()
