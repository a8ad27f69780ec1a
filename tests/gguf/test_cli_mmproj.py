#!/usr/bin/env python3
"""vlm-cli with llama.cpp's GGUF pair (--mmproj) answers as the hub directory
of the same tiny Qwen2.5-VL does (tests/data/qwen2_5_vl-gguf-pair, written
by llama.cpp's converter in f32; the hub model is checked against
transformers in tests/qwen2_5_vl), for ask and --detect; a projector without
its text model, or a missing one, fails with a message.

    test_cli_mmproj.py VLM_CLI"""
import json
import os
import subprocess
import sys

DATA = os.environ["VLM_TEST_DATA"]
PAIR = os.path.join(DATA, "qwen2_5_vl-gguf-pair")
HUB = os.path.join(DATA, "qwen2_5_vl-model")
IMAGE = os.path.join(DATA, "sample.jpg")
GGUF = ["-m", os.path.join(PAIR, "text.gguf"), "--mmproj", os.path.join(PAIR, "mmproj.gguf")]


def run(cli, args):
    return subprocess.run([cli] + args, capture_output=True, text=True, timeout=120)


def main():
    cli = sys.argv[1]
    failures = 0
    ask = ["--image", IMAGE, "-p", "What is in this image?", "--max-tokens", "12", "--json"]
    detect = ["--image", IMAGE, "--detect", "cat", "--max-tokens", "12", "--json"]
    for name, args in (("ask", ask), ("detect", detect)):
        hub, pair = run(cli, ["-m", HUB] + args), run(cli, GGUF + args)
        if hub.returncode != 0 or pair.returncode != 0:
            print(f"{name}: exit {hub.returncode} / {pair.returncode}: {hub.stderr}{pair.stderr}")
            failures += 1
            continue
        a, b = json.loads(hub.stdout), json.loads(pair.stdout)
        a.pop("timings", None), b.pop("timings", None)
        if a != b:
            print(f"{name}: the GGUF pair answers differently:\n{hub.stdout}\n{pair.stdout}")
            failures += 1
    for args, needle in (
        (["-m", os.path.join(PAIR, "mmproj.gguf")] + ask, "mmproj"),
        (GGUF[:2] + ["--mmproj", os.path.join(PAIR, "missing.gguf")] + ask, "missing.gguf"),
    ):
        r = run(cli, args)
        if r.returncode != 1 or needle not in r.stderr:
            print(f"{args}: exit {r.returncode}, stderr {r.stderr!r} (want 1 and {needle!r})")
            failures += 1
    print(f"tests: {4 - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
