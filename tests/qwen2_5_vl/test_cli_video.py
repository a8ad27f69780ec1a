#!/usr/bin/env python3
"""vlm-cli --frames on the tiny Qwen2.5-VL (tests/data/qwen2_5_vl-model): a
folder of 4 frames at --fps 1 is the video4 case of tests/data/qwen2_5_vl-video
(transformers' processor and model, made by
tests/gen/make_qwen2_5_vl_video_reference.py): the prompt ids and the greedy
tokens must be the reference's.

    test_cli_video.py VLM_CLI"""
import json
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_cli_detect import write_png  # noqa: E402  (a PNG without Pillow)

DATA = os.environ.get("VLM_TEST_DATA",
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data"))
MODEL = os.path.join(DATA, "qwen2_5_vl-model")
REF = os.path.join(DATA, "qwen2_5_vl-video")
WIDTH, HEIGHT = 100, 70


def frame(k):
    """Frame k of the generator's videos."""
    return bytes((x * x + 3 * y * y + 7 * x * y + 50 * c + (x ^ y) + 37 * k) % 256
                 for y in range(HEIGHT) for x in range(WIDTH) for c in range(3))


def ints(name):
    data = open(os.path.join(REF, name), "rb").read()
    return list(struct.unpack(f"<{len(data) // 4}i", data))


def main():
    cli = sys.argv[1]
    ref = json.load(open(os.path.join(REF, "reference.json")))["video4"]
    assert ref["fps"] == 1.0 and ref["frames_indices"] == [0, 1, 2, 3], ref
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(4):
            write_png(os.path.join(tmp, f"frame_{k:03d}.png"), WIDTH, HEIGHT, frame(k))
        r = subprocess.run([cli, "-m", MODEL, "--frames", tmp, "--fps", "1", "-p",
                            "Describe the video.", "--max-tokens", "16", "--json"],
                           capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        print(f"vlm-cli failed ({r.returncode}): {r.stderr}")
        return 1
    out = json.loads(r.stdout)
    want_ids, want_greedy = ints("video4_ids.i32"), ints("video4_greedy.i32")
    got = out["generated_ids"]
    failures = 0
    if out["prompt_ids"] != want_ids:
        print(f"prompt ids differ:\n  got  {out['prompt_ids']}\n  want {want_ids}")
        failures += 1
    # an end token may stop the answer before the reference's 16
    if not got or got != want_greedy[:len(got)]:
        print(f"greedy tokens differ:\n  got  {got}\n  want {want_greedy}")
        failures += 1
    print(f"vlm-cli --frames: {len(out['prompt_ids'])} prompt ids, {len(got)} greedy tokens; "
          f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
