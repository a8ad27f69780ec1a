#!/usr/bin/env python3
"""vlm-cli from outside: `inspect` agrees with an independent reading of the
files (Python's own parse of the safetensors header and of the JPEG frame
header), asking about an image gives transformers' answer (--json), and bad
inputs give a non-zero exit with the library's message.
usage: cli_test.py VLM_CLI DATA_DIR"""
import array
import json
import os
import struct
import subprocess
import sys
import tempfile

cli, data = sys.argv[1], sys.argv[2]
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAILED:", what)


def run(*args, stdin=None):
    return subprocess.run([cli, *args], input=stdin, capture_output=True, text=True)


def safetensors_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return 8 + n, header


def jpeg_size(path):
    b = open(path, "rb").read()
    i = 2
    while i < len(b):
        marker, length = b[i + 1], struct.unpack(">H", b[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", b[i + 5:i + 9])
            return w, h
        i += 2 + length
    raise ValueError("no frame header")


def gguf_read(path):
    """A minimal independent GGUF reader: metadata and tensor names/shapes."""
    b = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, b, pos)
        pos += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take("Q")
        pos += n
        return b[pos - n:pos].decode("utf-8")

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(t):
        if t in scalar:
            return take(scalar[t])
        if t == 8:
            return string()
        elem, n = take("I"), take("Q")
        return [value(elem) for _ in range(n)]

    assert b[:4] == b"GGUF"
    pos = 4
    version, n_tensors, n_kv = take("I"), take("Q"), take("Q")
    meta = {}
    for _ in range(n_kv):
        key = string()
        meta[key] = value(take("I"))
    tensors = []
    for _ in range(n_tensors):
        name, n_dims = string(), take("I")
        ne = [take("Q") for _ in range(n_dims)]
        take("I"), take("Q")
        tensors.append((name, list(reversed(ne))))
    return version, meta, tensors


# safetensors file: every tensor, dtype, shape and absolute byte range
weights = os.path.join(data, "tiny-smolvlm", "model.safetensors")
r = run("inspect", weights)
check(r.returncode == 0, f"inspect safetensors exit {r.returncode}: {r.stderr}")
got = json.loads(r.stdout)
base, header = safetensors_header(weights)
check(got["kind"] == "safetensors", "kind safetensors")
check(len(got["tensors"]) == len(header), "tensor count")
for t in got["tensors"]:
    ref = header.get(t["name"])
    check(ref is not None, f"tensor {t['name']} exists")
    if ref:
        check(t["dtype"] == ref["dtype"] and t["shape"] == ref["shape"], f"{t['name']} dtype/shape")
        check(t["byte_range"] == [base + ref["data_offsets"][0], base + ref["data_offsets"][1]],
              f"{t['name']} byte range")

# GGUF file: metadata values and tensors as an independent reader sees them
gguf = os.path.join(data, "io", "all_types.gguf")
r = run("inspect", gguf)
check(r.returncode == 0, f"inspect gguf exit {r.returncode}: {r.stderr}")
got = json.loads(r.stdout)
version, meta, tensors = gguf_read(gguf)
check(got["kind"] == "gguf" and got["version"] == version, "gguf kind and version")
check(sorted(got["metadata"]) == sorted(meta), "gguf metadata keys")
for key, ref in meta.items():
    mine = got["metadata"].get(key)
    if isinstance(ref, float):
        check(isinstance(mine, (int, float)) and abs(mine - ref) <= 1e-6 * max(1.0, abs(ref)), f"gguf {key}")
    elif isinstance(ref, list) and len(ref) > 64:
        check(mine["length"] == len(ref), f"gguf {key} length")
    elif not any(isinstance(x, float) for x in (ref if isinstance(ref, list) else [])):
        check(mine == ref, f"gguf {key}: {mine!r} != {ref!r}")
check([(t["name"], t["shape"]) for t in got["tensors"]] == tensors, "gguf tensors")

# model directory: config summary and the same tensors
model = os.path.join(data, "tiny-smolvlm")
r = run("inspect", model)
check(r.returncode == 0, f"inspect model dir exit {r.returncode}: {r.stderr}")
got = json.loads(r.stdout)
config = json.load(open(os.path.join(model, "config.json")))
check(got["kind"] == "model_directory", "kind model_directory")
check(got["config"]["architecture"] == config["architectures"][0], "architecture")
check(got["config"]["text"]["hidden_size"] == config["text_config"]["hidden_size"], "hidden size")
check(got["config"]["vision"]["patch_size"] == config["vision_config"]["patch_size"], "patch size")
check(got["weights"]["n_tensors"] == len(header), "model dir tensor count")
check("tokenizer.json" in got["hub_files"], "tokenizer.json listed")

# image
sample = os.path.join(data, "sample.jpg")
r = run("inspect", sample)
check(r.returncode == 0, f"inspect image exit {r.returncode}: {r.stderr}")
got = json.loads(r.stdout)
check((got["width"], got["height"]) == jpeg_size(sample) and got["format"] == "jpeg", "image size")

# bad inputs: non-zero exit, the library's message on stderr
with tempfile.TemporaryDirectory() as tmp:
    junk = os.path.join(tmp, "junk.bin")
    open(junk, "wb").write(b"\x00" * 100)
    r = run("inspect", junk)
    check(r.returncode != 0 and "junk.bin" in r.stderr, f"junk file: {r.returncode} {r.stderr!r}")
    truncated = os.path.join(tmp, "trunc.safetensors")
    open(truncated, "wb").write(open(weights, "rb").read()[:5000])
    r = run("inspect", truncated)
    check(r.returncode != 0 and "VLM_ERR_FORMAT" in r.stderr and "trunc.safetensors" in r.stderr,
          f"truncated safetensors: {r.returncode} {r.stderr!r}")
    r = run("inspect", os.path.join(tmp, "missing"))
    check(r.returncode != 0 and "missing" in r.stderr, "missing path")

# the main job: --json against transformers' generate (tests/data/smolvlm-e2e,
# made by tests/gen/make_smolvlm_e2e.py), the same tile cap and token count
expected = json.load(open(os.path.join(data, "smolvlm-e2e", "expected.json")))
one = expected["one_image"]
with tempfile.TemporaryDirectory() as tmp:
    logits_file = os.path.join(tmp, "logits.f32")
    pixels_file = os.path.join(tmp, "pixels.f32")
    r = run("-m", model, "--image", sample, "-p", expected["question"], "--json",
            "--max-tokens", str(expected["max_new_tokens"]),
            "--max-tiles", str(expected["max_image_tiles"]), "--dump-logits", logits_file,
            "--dump-pixel-values", pixels_file)
    check(r.returncode == 0, f"ask --json exit {r.returncode}: {r.stderr}")
    if r.returncode == 0:
        got = json.loads(r.stdout)
        check(got["prompt_ids"] == one["prompt_ids"], "ask --json prompt ids")
        check(got["generated_ids"] == one["generated_ids"], "ask --json generated ids")
        check(got["text"].lstrip() == one["answer"], f"ask --json text {got['text']!r}")
        check([{k: v for k, v in i.items() if k != "pixel_values"} for i in got["images"]]
              == [{"width": 320, "height": 240, "rows": 2, "cols": 2,
                                 "n_frames": one["n_frames"], "n_image_tokens": one["n_frames"] * 64}],
              f"ask --json images {got['images']}")
        t = got["timings"]
        check(t["n_prompt_tokens"] == len(one["prompt_ids"])
              and t["n_generated_tokens"] == len(one["generated_ids"])
              and all(t[k] >= 0 for k in ("load_ms", "encode_ms", "prefill_ms", "decode_ms")),
              f"ask --json timings {t}")
        n_vocab = got["logits"]["shape"][0]
        want = array.array("f", open(os.path.join(data, "smolvlm-e2e", one["logits"]), "rb").read())
        dumped = array.array("f", open(logits_file, "rb").read())
        check(n_vocab == len(want) == len(dumped)
              and max(abs(a - b) for a, b in zip(dumped, want)) <= 1e-3, "ask --dump-logits")
        # pixel values: the processor reference's per-frame sums and sampled values
        ref = next(c for c in json.load(open(os.path.join(data, "smolvlm-e2e", "processor.json")))["cases"]
                   if c["name"] == "sample_jpg_capped")
        shape = got["images"][0]["pixel_values"]["shape"]
        pixels = array.array("f", open(pixels_file, "rb").read())
        frame = 3 * 512 * 512
        check(shape == [ref["n_frames"], 3, 512, 512] and len(pixels) == ref["n_frames"] * frame,
              f"ask --dump-pixel-values shape {shape}")
        if len(pixels) == ref["n_frames"] * frame:
            sums_ok = all(abs(sum(pixels[k * frame:(k + 1) * frame]) - s) <= 1e-6 * frame
                          for k, s in enumerate(ref["frame_sums"]))
            samples_ok = all(abs(pixels[i] - v) <= 1e-5
                             for i, v in zip(ref["sample_index"], ref["sample_value"]))
            check(sums_ok and samples_ok, "ask --dump-pixel-values values")

# streaming: the answer on stdout, nothing else
r = run("-m", model, "--image", sample, "-p", "What is in this image?", "--max-tokens", "6",
        "--max-tiles", "1")
check(r.returncode == 0 and len(r.stdout.strip()) > 0, f"ask streams: {r.returncode} {r.stderr!r}")
r = run("-m", model, "--image", sample, "-p", "Hi", "--max-tokens", "4", "--max-tiles", "1",
        "--temp", "0.8", "--top-k", "40", "--top-p", "0.9", "--min-p", "0.05", "--seed", "7",
        "--repeat-penalty", "1.1", "--json")
r2 = run("-m", model, "--image", sample, "-p", "Hi", "--max-tokens", "4", "--max-tiles", "1",
         "--temp", "0.8", "--top-k", "40", "--top-p", "0.9", "--min-p", "0.05", "--seed", "7",
         "--repeat-penalty", "1.1", "--json")
check(r.returncode == 0 and r2.returncode == 0
      and json.loads(r.stdout)["generated_ids"] == json.loads(r2.stdout)["generated_ids"],
      f"sampling is deterministic for a seed: {r.stderr!r}")

# a video as a folder of frames: the model's sampling (1 fps here) picks 3 of
# 6 frames at 2 fps, each one 64-token frame
with tempfile.TemporaryDirectory() as tmp:
    for i in range(6):
        open(os.path.join(tmp, f"frame{i:02d}.jpg"), "wb").write(open(sample, "rb").read())
    r = run("-m", model, "--frames", tmp, "--fps", "2", "-p", "What happens?", "--max-tokens", "3",
            "--json")
    check(r.returncode == 0 and json.loads(r.stdout)["timings"]["n_image_tokens"] == 3 * 64,
          f"ask --frames: {r.returncode} {r.stderr!r}")
    r = run("-m", model, "--frames", tmp, "-p", "x")
    check(r.returncode == 2 and "--fps" in r.stderr, f"--frames without --fps: {r.stderr!r}")

# chat: one answer per line of stdin, in one conversation
r = run("-m", model, "--chat", "--max-tokens", "3", stdin="Hello\nAnd then?\n")
check(r.returncode == 0 and r.stdout.count("\n") == 2, f"ask --chat: {r.returncode} {r.stdout!r}")

# bad requests: a clear message, non-zero exit
r = run("-m", model, "--image", os.path.join(data, "no-such.jpg"), "-p", "x")
check(r.returncode != 0 and "no-such.jpg" in r.stderr, f"missing image: {r.stderr!r}")
r = run("-m", model, "--image", weights, "-p", "x")
check(r.returncode != 0 and "VLM_ERR_FORMAT" in r.stderr, f"not an image: {r.stderr!r}")
r = run("-m", model, "-p", "x", "--temp", "warm")
check(r.returncode == 2 and "--temp" in r.stderr, f"bad number: {r.stderr!r}")
r = run("-m", model, "-p", "x", "--ctx", "8")
check(r.returncode != 0 and "VLM_ERR_LIMIT" in r.stderr, f"prompt over the context: {r.stderr!r}")

# the KV cache's type: q8_0 answers on a model with heads of 32 dims (tiny
# Gemma 3; its answers against transformers: tests/gemma3), is refused with the
# reason on SmolVLM's heads of 8, and an unknown type is a usage error
gemma = os.path.join(data, "gemma3-vlm")
for kv in ("f16", "q8_0"):
    r = run("-m", gemma, "-p", "Hi", "--max-tokens", "4", "--kv-type", kv, "--json")
    check(r.returncode == 0 and len(json.loads(r.stdout or "{}").get("generated_ids", [])) == 4,
          f"--kv-type {kv}: {r.returncode} {r.stderr!r}")
r = run("-m", model, "-p", "x", "--kv-type", "q8_0")
check(r.returncode != 0 and "q8_0 KV cache needs heads" in r.stderr, f"--kv-type q8_0: {r.stderr!r}")
r = run("-m", model, "-p", "x", "--kv-type", "q4")
check(r.returncode == 2 and "--kv-type" in r.stderr, f"--kv-type q4: {r.stderr!r}")

# tokenize: ids for JSON lines, specials parsed only with --special
r = run("tokenize", "-m", model, "--pieces", stdin='"Hello <image>"\n')
check(r.returncode == 0, f"tokenize exit {r.returncode}: {r.stderr}")
if r.returncode == 0:
    plain = json.loads(r.stdout)
    check(plain["text"] == "Hello <image>" and 49190 not in plain["ids"], "tokenize without --special")
r = run("tokenize", "-m", model, "--special", stdin='"Hello <image>"\n')
check(r.returncode == 0 and 49190 in json.loads(r.stdout or "{}").get("ids", []), "tokenize --special")

print(f"cli_test: {failures} failed")
sys.exit(1 if failures else 0)
