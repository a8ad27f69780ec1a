#!/usr/bin/env python3
"""Makes tests/data/smolvlm-video: SmolVLM2 video frame pixels as transformers'
SmolVLMVideoProcessor computes them, and torchvision's uint8 resize on its own,
for tests/smolvlm/test_video_pixels.c.

usage: TORCHVISION_PATH=<dir holding torchvision 0.29.2> \
           python3 tests/gen/make_video_frame_fixtures.py [OUT_DIR]
  OUT_DIR defaults to tests/data/smolvlm-video next to this script.

Needs torch, transformers (5.24), numpy, and torchvision 0.29.2 importable
from the directory named by the TORCHVISION_PATH environment variable (it is
put first on sys.path here only, so the Python environment other fixture
generators use keeps no torchvision: transformers picks different image
processor classes when it is installed). Run it on x86-64 with AVX2, where
torch resizes uint8 images natively for BILINEAR too (see below). CI needs
none of this. Versions and the CPU capability are recorded in manifest.json.

The reference: SmolVLMVideoProcessor (transformers/models/smolvlm/
video_processing_smolvlm.py) resizes each frame with torchvision.transforms.v2
.functional.resize on the uint8 tensor, antialias=True: first the longest
edge to size.longest_edge (get_resize_output_image_size: even other side),
then to max_image_size x max_image_size. With torchvision >= 0.27 on CPU the
PIL filter maps to the same torch mode (LANCZOS stays LANCZOS; older
torchvision or GPU tensors get BICUBIC instead). torchvision keeps uint8 for
BICUBIC and LANCZOS, and for BILINEAR on AVX2 / AVX-512 / arm64, so the
intermediate frame is uint8. Then rescale and normalize fused into one
float32 normalize with mean / rescale_factor and std / rescale_factor.
Frames of one size go in as one video; different sizes as separate calls, so
no padding is involved.

Files (raw little-endian):
  manifest.json         versions, the configs, the video cases and the
                        resize cases, each naming its file or offset
  config_<name>.json    a SmolVLM preprocessor_config.json with small edges
                        (the real one's keys; size == video_sampling.video_size:
                        transformers takes size when both are given), some
                        with rescale or normalize off
  pixels_<case>.f32     pixel_values (n_frames, 3, tile, tile) of one video
  resize_expected.u8    every resize case's output (dh, dw, 3), concatenated
                        at the offsets the manifest gives

Sources are synthetic, computed the same way by the C test (w x h, channel c):
  pattern  (x*x + 3*y*y + 7*x*y + 50*c + (x ^ y)) mod 256  (make_smolvlm_e2e.py's)
  stripes  255 if ((x + 2*y + c) // 3) is odd, else 0  (hard edges: the
           negative lobes over- and undershoot, so clamping is exercised)
Each video has two frames: pattern, then stripes, passed with
input_data_format="channels_last" (transformers guesses the layout of frames
with a side of 1 or 3 pixels otherwise).

The real 2048 / 512 setting (tiny-smolvlm's) is one case whose pixel_values
are too large to store: manifest.json holds their sum per frame and values at
fixed sample positions instead.
"""
import json
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, os.environ["TORCHVISION_PATH"])

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
import transformers  # noqa: E402
from torchvision.transforms.v2 import functional as tvF  # noqa: E402
from transformers.models.smolvlm.video_processing_smolvlm import SmolVLMVideoProcessor  # noqa: E402

RESCALE = 0.00392156862745098
SMOLVLM_KEYS = {
    "image_processor_type": "Idefics3ImageProcessor",
    "processor_class": "SmolVLMProcessor",
    "do_convert_rgb": True,
    "do_image_splitting": True,
    "do_normalize": True,
    "do_pad": True,
    "do_rescale": True,
    "do_resize": True,
    "rescale_factor": RESCALE,
}
CONFIGS = {
    # SmolVLM2's own filter (LANCZOS) and mean/std, small edges
    "lanczos": {"resample": 1, "edge": 96, "tile": 48, "mean": [0.5] * 3, "std": [0.5] * 3},
    # other filters, CLIP mean/std (fused normalize with non-trivial constants)
    "bicubic": {"resample": 3, "edge": 80, "tile": 36,
                "mean": [0.48145466, 0.4578275, 0.40821073],
                "std": [0.26862954, 0.26130258, 0.27577711]},
    "bilinear": {"resample": 2, "edge": 64, "tile": 40, "mean": [0.5] * 3, "std": [0.5] * 3},
    # tiny-smolvlm's real edges
    "real": {"resample": 1, "edge": 2048, "tile": 512, "mean": [0.5] * 3, "std": [0.5] * 3},
    # a video size equal to the tile: frames of that size are not resized at all
    "same": {"resample": 1, "edge": 512, "tile": 512, "mean": [0.5] * 3, "std": [0.5] * 3},
    # rescale or normalize alone (not fused)
    "rescale_only": {"resample": 3, "edge": 50, "tile": 24, "mean": [0.5] * 3, "std": [0.5] * 3,
                     "override": {"do_normalize": False}},
    "normalize_only": {"resample": 1, "edge": 50, "tile": 24,
                       "mean": [0.48145466, 0.4578275, 0.40821073],
                       "std": [0.26862954, 0.26130258, 0.27577711],
                       "override": {"do_rescale": False}},
}
# (case, config, width, height): landscape, portrait, tiny (upscaled),
# already at the video size (first resize skipped), tile-sized (upscaled,
# then back), and odd sizes
VIDEOS = [
    ("lanczos_landscape", "lanczos", 160, 90),
    ("lanczos_portrait", "lanczos", 45, 120),
    ("lanczos_tiny", "lanczos", 5, 3),
    ("lanczos_at_edge", "lanczos", 96, 96),
    ("lanczos_tile", "lanczos", 48, 48),
    ("lanczos_odd", "lanczos", 131, 77),
    ("bicubic_landscape", "bicubic", 150, 61),
    ("bicubic_portrait", "bicubic", 33, 70),
    ("bicubic_tiny", "bicubic", 2, 7),
    ("bilinear_landscape", "bilinear", 123, 80),
    ("bilinear_portrait", "bilinear", 20, 90),
    ("bilinear_tiny", "bilinear", 1, 1),
    ("rescale_only", "rescale_only", 70, 41),
    ("normalize_only", "normalize_only", 33, 64),
]
STATS_VIDEOS = [
    ("real_landscape", "real", 64, 36),
    ("same_512", "same", 512, 512),
    ("same_wide", "same", 640, 360),
]
N_SAMPLES = 500
# (sw, sh, dw, dh): down 2x, down ~3.4x, up ~1.7x, up 4x, up one axis and
# down the other, one axis only, 1x1 up, 43x down, near 1
RESIZES = [
    (64, 48, 32, 24), (64, 48, 19, 13), (37, 23, 64, 40), (16, 12, 64, 48),
    (50, 30, 80, 12), (50, 30, 20, 30), (50, 30, 50, 77), (1, 1, 5, 3),
    (300, 4, 7, 4), (3, 200, 3, 9), (97, 61, 96, 60), (7, 9, 60, 40),
]
MODES = {1: tvF.InterpolationMode.LANCZOS, 2: tvF.InterpolationMode.BILINEAR,
         3: tvF.InterpolationMode.BICUBIC}


def pattern(width, height):
    x = np.arange(width, dtype=np.int64)[None, :, None]
    y = np.arange(height, dtype=np.int64)[:, None, None]
    c = np.arange(3, dtype=np.int64)[None, None, :]
    return ((x * x + 3 * y * y + 7 * x * y + 50 * c + (x ^ y)) % 256).astype(np.uint8)


def stripes(width, height):
    x = np.arange(width, dtype=np.int64)[None, :, None]
    y = np.arange(height, dtype=np.int64)[:, None, None]
    c = np.arange(3, dtype=np.int64)[None, None, :]
    return np.where(((x + 2 * y + c) // 3) % 2 == 1, 255, 0).astype(np.uint8)


SOURCES = {"pattern": pattern, "stripes": stripes}


def write(path, array, dtype):
    a = np.ascontiguousarray(np.asarray(array, dtype=dtype))
    path.write_bytes(a.astype(a.dtype.newbyteorder("<")).tobytes())


def config_json(c):
    d = dict(SMOLVLM_KEYS)
    d.update({"image_mean": c["mean"], "image_std": c["std"], "resample": c["resample"],
              "max_image_size": {"longest_edge": c["tile"]},
              "size": {"longest_edge": c["edge"]},
              "video_sampling": {"fps": 1, "max_frames": 64,
                                 "video_size": {"longest_edge": c["edge"]}}})
    d.update(c.get("override", {}))
    return d


def processor(c):
    d = config_json(c)
    keys = ("do_convert_rgb", "do_normalize", "do_pad", "do_rescale", "do_resize", "rescale_factor",
            "image_mean", "image_std", "resample", "max_image_size", "size", "video_sampling")
    return SmolVLMVideoProcessor(**{k: d[k] for k in keys})


def video_pixels(vp, width, height):
    video = np.stack([pattern(width, height), stripes(width, height)])  # (T, H, W, C)
    out = vp(videos=[video], return_tensors="pt", input_data_format="channels_last")
    pv = out["pixel_values"][0].numpy()  # (T, 3, tile, tile)
    return pv.astype(np.float32)


def check_against_torchvision(pv, c, width, height):
    """The processor's output is the documented pipeline, nothing more."""
    edge = min(c["edge"], 4096)
    if width >= height:
        w, h = edge, int(edge / (width / height))
        h += h % 2
    else:
        h, w = edge, int(edge * (width / height))
        w += w % 2
    h, w = max(h, 1), max(w, 1)
    mode = MODES[c["resample"]]
    d = config_json(c)
    scale = 1.0 / RESCALE if d["do_rescale"] else 1.0
    mean = torch.tensor(c["mean"]) * scale
    std = torch.tensor(c["std"]) * scale
    for t, make in enumerate((pattern, stripes)):
        img = torch.from_numpy(make(width, height)).permute(2, 0, 1).contiguous()
        img = tvF.resize(img, [h, w], interpolation=mode, antialias=True)
        img = tvF.resize(img, [c["tile"], c["tile"]], interpolation=mode, antialias=True)
        assert img.dtype == torch.uint8
        if d["do_normalize"]:
            ref = (img.float() - mean.view(3, 1, 1)) / std.view(3, 1, 1)
        else:
            ref = img * RESCALE
        assert np.array_equal(ref.numpy(), pv[t]), "processor differs from the tvF pipeline"


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        Path(__file__).resolve().parent.parent / "data" / "smolvlm-video"
    out.mkdir(parents=True, exist_ok=True)
    assert torchvision.__version__.startswith("0.29.2"), torchvision.__version__
    manifest = {
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__,
                     "transformers": transformers.__version__, "numpy": np.__version__,
                     "machine": platform.machine(),
                     "cpu_capability": torch.backends.cpu.get_cpu_capability()},
        "configs": {}, "videos": [], "stats_videos": [], "resizes": [],
    }
    processors = {}
    for name, c in CONFIGS.items():
        (out / f"config_{name}.json").write_text(json.dumps(config_json(c), indent=2) + "\n")
        manifest["configs"][name] = f"config_{name}.json"
        processors[name] = processor(c)

    for case, cname, width, height in VIDEOS:
        c = CONFIGS[cname]
        pv = video_pixels(processors[cname], width, height)
        check_against_torchvision(pv, c, width, height)
        write(out / f"pixels_{case}.f32", pv, "<f4")
        manifest["videos"].append({"case": case, "config": cname, "width": width, "height": height,
                                   "n_frames": int(pv.shape[0]), "tile": c["tile"],
                                   "pixels": f"pixels_{case}.f32"})

    rng = np.random.default_rng(1234)
    for case, cname, width, height in STATS_VIDEOS:
        c = CONFIGS[cname]
        pv = video_pixels(processors[cname], width, height)
        check_against_torchvision(pv, c, width, height)
        flat = pv.reshape(pv.shape[0], -1)
        idx = np.sort(rng.choice(flat.shape[1], N_SAMPLES, replace=False))
        manifest["stats_videos"].append({
            "case": case, "config": cname, "width": width, "height": height,
            "n_frames": int(pv.shape[0]), "tile": c["tile"],
            "sums": [float(flat[t].astype(np.float64).sum()) for t in range(flat.shape[0])],
            "sample_index": idx.tolist(),
            "samples": [[float(v) for v in flat[t, idx]] for t in range(flat.shape[0])]})

    blob = bytearray()
    for resample, mode in sorted(MODES.items()):
        for source in SOURCES:
            for sw, sh, dw, dh in RESIZES:
                img = torch.from_numpy(SOURCES[source](sw, sh)).permute(2, 0, 1).contiguous()
                res = tvF.resize(img, [dh, dw], interpolation=mode, antialias=True)
                assert res.dtype == torch.uint8
                data = res.permute(1, 2, 0).contiguous().numpy().tobytes()
                manifest["resizes"].append({"source": source, "filter": resample, "sw": sw, "sh": sh,
                                            "dw": dw, "dh": dh, "offset": len(blob)})
                blob += data
    (out / "resize_expected.u8").write_bytes(bytes(blob))
    (out / "manifest.json").write_text(json.dumps(manifest) + "\n")
    print(f"wrote {len(manifest['videos'])} videos, {len(manifest['stats_videos'])} sampled videos, "
          f"{len(manifest['resizes'])} resizes ({len(blob)} bytes) to {out}")


if __name__ == "__main__":
    main()
