#!/usr/bin/env python3
"""vlm-cli --safety on the tiny ShieldGemma 2 (tests/data/shieldgemma2): the
scores it prints for the generator's pattern image, written to a PNG here,
equal transformers' (reference.json) within 1e-4; bad input is refused.

    test_cli_safety.py VLM_CLI"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib


def pattern_png(path, w, h):
    """The generator's pattern as an 8-bit RGB PNG (no dependency needed)."""
    rows = b"".join(b"\0" + bytes(((x * x + 3 * y * y + 7 * x * y + 50 * c + (x ^ y)) % 256)
                                  for x in range(w) for c in range(3)) for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def main():
    cli = sys.argv[1]
    model = os.path.join(os.environ["VLM_TEST_DATA"], "shieldgemma2")
    with open(os.path.join(model, "reference.json")) as f:
        ref = json.load(f)
    w, h = ref["sizes"][0]
    with tempfile.TemporaryDirectory() as tmp:
        image = os.path.join(tmp, "pattern.png")
        pattern_png(image, w, h)
        out = subprocess.run([cli, "-m", model, "--image", image, "--safety", "all", "--ctx", "1024",
                              "--json"], capture_output=True, check=True)
        scores = {s["policy"]: s["probability"] for s in json.loads(out.stdout)["scores"]}
        want = {c["policy"]: c["probability"] for c in ref["cases"] if c["image"] == 0}
        for policy in ["dangerous", "sexual", "violence"]:
            assert abs(scores[policy] - want[policy]) <= 1e-4, (policy, scores[policy], want[policy])
        out = subprocess.run([cli, "-m", model, "--image", image, "--safety", "--policy",
                              ref["custom_policy"], "--ctx", "1024"], capture_output=True, check=True)
        custom = float(out.stdout.split()[1])
        assert abs(custom - want["custom"]) <= 1e-4, (custom, want["custom"])
        # a model that is no classifier, an unknown policy, a missing image
        smol = os.path.join(os.environ["VLM_TEST_DATA"], "tiny-smolvlm")
        bad = subprocess.run([cli, "-m", smol, "--image", image, "--safety"], capture_output=True)
        assert bad.returncode == 1 and b"VLM_ERR_UNSUPPORTED" in bad.stderr, bad
        bad = subprocess.run([cli, "-m", model, "--image", image, "--safety", "guns"],
                             capture_output=True)
        assert bad.returncode == 2, bad
        bad = subprocess.run([cli, "-m", model, "--image", os.path.join(tmp, "none.png"),
                              "--safety"], capture_output=True)
        assert bad.returncode == 1 and b"none.png" in bad.stderr, bad
    print("vlm-cli --safety: 4 scores within 1e-4 of transformers")


if __name__ == "__main__":
    main()
