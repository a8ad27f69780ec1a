#!/usr/bin/env python3
"""Makes tests/data/qwen2_5_vl-video and tests/data/qwen2_5_vl-swa from the tiny
model in tests/data/qwen2_5_vl-model (made by make_qwen2_5_vl_reference.py):
what transformers' Qwen2_5_VLProcessor and Qwen2_5_VLForConditionalGeneration
give for a video question, and for the same model with sliding-window
attention, for tests/qwen2_5_vl/test_video.c.

usage: TORCHVISION_PATH=<dir holding torchvision> \
       make_qwen2_5_vl_video_reference.py [DATA_DIR]
DATA_DIR defaults to tests/data. torchvision is put first on sys.path by this
script only: Qwen2_5_VLProcessor's video processor (Qwen2VLVideoProcessor)
resizes frames with it (uint8, antialiased bicubic), which is the reference.

Video frames: frame k of a video is the W x H pattern image
(x*x + 3*y*y + 7*x*y + 50*c + (x ^ y) + 37*k) mod 256, W x H = 100 x 70 (not
multiples of 28: smart_resize makes 112 x 56, wider and shorter). Each video
comes with transformers VideoMetadata (total_num_frames, fps, frames_indices),
so the processor's sampled fps is len(indices) / total * fps; a caller of
vlm_session_add_video_turn gives the same video as timestamps index / fps and
duration total / fps.

qwen2_5_vl-video/ (raw little-endian; shapes and values in reference.json):
  {case}_pixels.f32   (n_patches, 1176) pixel_values_videos
  {case}_ids.i32      (n) prompt ids: chat template + processor
  {case}_positions.i32 (3, n) get_rope_index position ids
  {case}_logits.f32   (vocab) logits of the last prompt position
  {case}_greedy.i32   (16) greedy continuation, each step recomputed whole
  cases: video4 (4 frames, grid_t 2), video3 (3 frames: the last one repeated)
  mixed_ids.i32 / mixed_logits.f32 / mixed_greedy.i32: a conversation with
                      video3, an answer, then the 150 x 100 pattern image
  reference.json "video_processor_configs": min / max pixels and resample that
                      Qwen2VLVideoProcessor takes from a few config texts;
                      "sample_frames": the frames its sample_frames picks
  capped_pixels.f32   video4's frames with cap_pixels_per_frame, max_video_tokens 10
qwen2_5_vl-swa/: the same model with use_sliding_window true, sliding_window 8
  and max_window_layers 1 (layers 1 and 2 slide), a complete model directory,
  and image_* files (ids, last logits, greedy) for the 150 x 100 pattern image
  question of make_qwen2_5_vl_reference.py (48 prompt tokens: the window is
  much shorter). The generator checks that the window changes the logits.
"""
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, os.environ["TORCHVISION_PATH"])

import numpy as np
import torch
import transformers
from PIL import Image
from transformers import (AutoProcessor, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration,
                          Qwen2_5_VLProcessor)
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor
from transformers.video_utils import VideoMetadata

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_qwen2_5_vl_reference import greedy, save  # noqa: E402  (the same steps)

N_GREEDY = 16
WIDTH, HEIGHT = 100, 70
CASES = {  # name: (total_num_frames, fps, frames_indices)
    "video4": (4, 1.0, [0, 1, 2, 3]),  # as vlm-cli --frames DIR --fps 1 gives 4 files
    "video3": (10, 4.0, [0, 3, 6]),
}
WINDOW = 8
MAX_WINDOW_LAYERS = 1


def pattern(width, height, k=0):
    x = np.arange(width, dtype=np.int64)[None, :, None]
    y = np.arange(height, dtype=np.int64)[:, None, None]
    c = np.arange(3, dtype=np.int64)[None, None, :]
    return ((x * x + 3 * y * y + 7 * x * y + 50 * c + (x ^ y) + 37 * k) % 256).astype(np.uint8)


def load_model(model_dir, config=None):
    kwargs = {"attn_implementation": "eager", "dtype": torch.float32}
    if config is not None:
        kwargs["config"] = config
    return Qwen2_5_VLForConditionalGeneration.from_pretrained(model_dir, **kwargs).eval()


def video_case(model, processor, name, out, ref):
    total, fps, indices = CASES[name]
    frames = np.stack([pattern(WIDTH, HEIGHT, k) for k in range(len(indices))])
    messages = [{"role": "user", "content": [{"type": "video"},
                                             {"type": "text", "text": "Describe the video."}]}]
    prompt = processor.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    metadata = VideoMetadata(total_num_frames=total, fps=fps, frames_indices=indices)
    inputs = processor(text=[prompt], videos=[frames], video_metadata=[metadata],
                       do_sample_frames=False, return_tensors="pt")
    inputs.pop("attention_mask", None)
    with torch.no_grad():
        model.model.rope_deltas = None
        positions, delta = model.model.get_rope_index(
            inputs["input_ids"], inputs["mm_token_type_ids"],
            video_grid_thw=inputs["video_grid_thw"],
            second_per_grid_ts=inputs["second_per_grid_ts"])
        model.model.rope_deltas = None
        logits = model(**inputs).logits[0, -1]
        tokens = greedy(model, dict(inputs), N_GREEDY)
    save(out, f"{name}_pixels.f32", inputs["pixel_values_videos"].numpy(), np.float32, ref)
    save(out, f"{name}_ids.i32", inputs["input_ids"][0].numpy(), np.int32, ref)
    save(out, f"{name}_positions.i32", positions[:, 0].numpy(), np.int32, ref)
    save(out, f"{name}_logits.f32", logits.numpy(), np.float32, ref)
    save(out, f"{name}_greedy.i32", tokens, np.int32, ref)
    ref[name] = {"prompt": prompt, "frames": len(indices), "size": [WIDTH, HEIGHT],
                 "total_num_frames": total, "fps": fps, "frames_indices": indices,
                 "timestamps": [i / fps for i in indices], "duration": total / fps,
                 "video_grid_thw": [int(x) for x in inputs["video_grid_thw"][0]],
                 "second_per_grid_ts": [float(x) for x in inputs["second_per_grid_ts"]],
                 "rope_delta": int(delta[0, 0]), "n_tokens": int(inputs["input_ids"].shape[1])}


def mixed_case(model, model_dir, processor, out, ref):
    """A conversation with a video (video3), an answer, then an image (the
    150 x 100 pattern): videos and images in one prompt. The image's pixel
    values come from Qwen2VLImageProcessorPil, which libvlm matches for
    images (the processor loaded here would use torchvision's)."""
    pre = json.loads((model_dir / "preprocessor_config.json").read_text())
    pil = Qwen2VLImageProcessorPil(**{k: pre[k] for k in (
        "min_pixels", "max_pixels", "patch_size", "temporal_patch_size", "merge_size",
        "image_mean", "image_std")})
    mixed = Qwen2_5_VLProcessor(image_processor=pil, tokenizer=processor.tokenizer,
                                video_processor=processor.video_processor)
    total, fps, indices = CASES["video3"]
    frames = np.stack([pattern(WIDTH, HEIGHT, k) for k in range(len(indices))])
    messages = [
        {"role": "user", "content": [{"type": "video"},
                                     {"type": "text", "text": "Describe the video."}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A red square."}]},
        {"role": "user", "content": [{"type": "image"},
                                     {"type": "text", "text": "Describe this image."}]},
    ]
    prompt = processor.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                     tokenize=False)
    metadata = VideoMetadata(total_num_frames=total, fps=fps, frames_indices=indices)
    inputs = mixed(text=[prompt], images=[Image.fromarray(pattern(150, 100))], videos=[frames],
                   video_metadata=[metadata], do_sample_frames=False, return_tensors="pt")
    inputs.pop("attention_mask", None)
    with torch.no_grad():
        model.model.rope_deltas = None
        logits = model(**inputs).logits[0, -1]
        tokens = greedy(model, dict(inputs), N_GREEDY)
    save(out, "mixed_ids.i32", inputs["input_ids"][0].numpy(), np.int32, ref)
    save(out, "mixed_logits.f32", logits.numpy(), np.float32, ref)
    save(out, "mixed_greedy.i32", tokens, np.int32, ref)
    ref["mixed"] = {"prompt": prompt, "video": "video3", "image_size": [150, 100],
                    "n_tokens": int(inputs["input_ids"].shape[1])}


def video_processor_defaults(ref):
    """What Qwen2VLVideoProcessor makes of a few video_preprocessor_config.json
    texts: min / max pixels (size shortest_edge / longest_edge) and resample."""
    configs = [{"video_processor_type": "Qwen2VLVideoProcessor"},
               {"video_processor_type": "Qwen2VLVideoProcessor", "max_pixels": 200704},
               {"video_processor_type": "Qwen2VLVideoProcessor",
                "size": {"shortest_edge": 6272, "longest_edge": 401408}, "resample": 2},
               {"video_processor_type": "Qwen2VLVideoProcessor", "cap_pixels_per_frame": True,
                "max_video_tokens": 10}]
    ref["video_processor_configs"] = []
    for config in configs:
        kwargs = {k: v for k, v in config.items() if k != "video_processor_type"}
        vp = Qwen2VLVideoProcessor(**kwargs)
        ref["video_processor_configs"].append({
            "json": config, "min_pixels": vp.size["shortest_edge"],
            "max_pixels": vp.size["longest_edge"], "resample": int(vp.resample),
            "cap_pixels_per_frame": bool(vp.cap_pixels_per_frame),
            "max_video_tokens": vp.max_video_tokens})


def capped_case(processor, out, ref):
    """video4's frames with cap_pixels_per_frame and a budget of 10 tokens
    over the model's video processor settings: each frame bounded by its share
    (smaller than the 112 x 56 the plain budget gives)."""
    size = processor.video_processor.size
    vp = Qwen2VLVideoProcessor(min_pixels=size["shortest_edge"], max_pixels=size["longest_edge"],
                               cap_pixels_per_frame=True, max_video_tokens=10)
    frames = np.stack([pattern(WIDTH, HEIGHT, k) for k in range(4)])
    capped = vp(videos=[frames], do_sample_frames=False, return_tensors="pt")
    save(out, "capped_pixels.f32", capped["pixel_values_videos"].numpy(), np.float32, ref)
    ref["capped"] = {"frames": 4, "max_video_tokens": 10,
                     "video_grid_thw": [int(x) for x in capped["video_grid_thw"][0]]}


# (total_num_frames, video fps, fps asked (0: the default, 2), max_frames (0: 768))
SAMPLING = [(4, 1.0, 0, 0), (10, 4.0, 2, 0), (37, 30.0, 2, 0), (300, 30.0, 2, 0),
            (7, 3.0, 1, 0), (100, 25.0, 0.5, 0), (1000, 24.0, 0, 0), (3, 30.0, 2, 0),
            (5000, 29.97, 0, 0), (5000, 29.97, 3, 40), (90, 30.0, 4.5, 7)]


def sampling_cases(processor, ref):
    """Qwen2VLVideoProcessor.sample_frames with fps (qwen-vl-utils' 2 when not
    asked): the frames vlm_session_video_frames must pick."""
    vp = processor.video_processor
    ref["sample_frames"] = []
    for total, video_fps, fps, max_frames in SAMPLING:
        kwargs = {"fps": fps or 2.0}
        if max_frames:
            kwargs["max_frames"] = max_frames
        indices = vp.sample_frames(VideoMetadata(total_num_frames=total, fps=video_fps), **kwargs)
        ref["sample_frames"].append({"total_frames": total, "video_fps": video_fps, "fps": fps,
                                     "max_frames": max_frames,
                                     "indices": [int(i) for i in indices]})


def image_inputs(model_dir):
    """The image question of make_qwen2_5_vl_reference.py, from its fixtures
    (pixel values from the PIL image processor, which libvlm matches for
    images; the processor here would use torchvision's)."""
    ref = json.loads((model_dir / "reference.json").read_text())
    ids = torch.from_numpy(np.fromfile(model_dir / "ref_image_ids.i32", np.int32).astype(np.int64))
    pixels = np.fromfile(model_dir / "ref_image_pixels.f32", np.float32)
    image_id = json.loads((model_dir / "config.json").read_text())["image_token_id"]
    return {"input_ids": ids[None], "mm_token_type_ids": (ids == image_id).to(torch.int32)[None],
            "pixel_values": torch.from_numpy(pixels.reshape(-1, 1176)),
            "image_grid_thw": torch.tensor([ref["ref_image"]["grid_thw"]])}


def swa_case(model_dir, out, ref):
    config = Qwen2_5_VLConfig.from_pretrained(model_dir)
    text = config.text_config
    text.use_sliding_window = True
    text.sliding_window = WINDOW
    text.max_window_layers = MAX_WINDOW_LAYERS
    text.layer_types = ["sliding_attention" if i >= MAX_WINDOW_LAYERS else "full_attention"
                        for i in range(text.num_hidden_layers)]
    swa = load_model(model_dir, config)
    full = load_model(model_dir)
    inputs = image_inputs(model_dir)
    with torch.no_grad():
        swa.model.rope_deltas = None
        logits = swa(**inputs).logits[0]
        full.model.rope_deltas = None
        full_logits = full(**inputs).logits[0]
        tokens = greedy(swa, inputs, N_GREEDY)
    n = logits.shape[0]
    # transformers honours the window (eager attention, sliding mask): rows
    # past the window differ, rows inside it do not
    assert torch.allclose(logits[:WINDOW], full_logits[:WINDOW], atol=1e-5)
    diff = float((logits[-1] - full_logits[-1]).abs().max())
    assert n > 4 * WINDOW and diff > 1e-2, (n, diff)
    swa.save_pretrained(out, safe_serialization=True)
    for f in ("tokenizer.json", "tokenizer_config.json", "preprocessor_config.json",
              "generation_config.json"):
        shutil.copy(model_dir / f, out / f)
    save(out, "image_ids.i32", inputs["input_ids"][0].numpy(), np.int32, ref)
    save(out, "image_logits.f32", logits[-1].numpy(), np.float32, ref)
    save(out, "image_greedy.i32", tokens, np.int32, ref)
    ref["image"] = {"n_tokens": n, "sliding_window": WINDOW,
                    "max_window_layers": MAX_WINDOW_LAYERS,
                    "last_logits_max_diff_from_full_attention": diff}


def main():
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "data"
    model_dir = data / "qwen2_5_vl-model"
    versions = {"torch": torch.__version__, "transformers": transformers.__version__}
    processor = AutoProcessor.from_pretrained(model_dir)
    processor.video_processor.cap_pixels_per_frame = False  # the 5.24 default, without its warning

    out = data / "qwen2_5_vl-video"
    out.mkdir(exist_ok=True)
    ref = {"versions": versions, "model": "qwen2_5_vl-model",
           "video_processor": {"size": dict(processor.video_processor.size),
                               "resample": int(processor.video_processor.resample)}}
    model = load_model(model_dir)
    for name in CASES:
        video_case(model, processor, name, out, ref)
    mixed_case(model, model_dir, processor, out, ref)
    video_processor_defaults(ref)
    sampling_cases(processor, ref)
    capped_case(processor, out, ref)
    (out / "reference.json").write_text(json.dumps(ref, indent=2) + "\n")

    out = data / "qwen2_5_vl-swa"
    out.mkdir(exist_ok=True)
    for old in out.iterdir():
        if old.name != "README.md":
            old.unlink()
    ref = {"versions": versions}
    swa_case(model_dir, out, ref)
    (out / "reference.json").write_text(json.dumps(ref, indent=2) + "\n")


if __name__ == "__main__":
    main()
