#!/usr/bin/env python3
"""Writes the fixtures of the lib/io tests (tests/data/io/) and the seed
corpora of the safetensors and GGUF fuzz targets (fuzz/corpus/).

Run from anywhere:  python3 tests/gen/make_io_fixtures.py
Needs numpy and the `safetensors` and `gguf` PyPI packages. Output is
deterministic (fixed seeds), so rerunning changes nothing unless this script
changed. tests/io/test_*.c hard-code the same values; change both together.

Reference values for dequantization come from gguf.quants, an independent
numpy implementation of ggml's block formats.
"""
import json
import os
import struct
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT, GGUFValueType as VT
from safetensors import safe_open
from safetensors.numpy import save_file

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "io"
CORPUS = ROOT / "fuzz" / "corpus"


# ---- safetensors ----------------------------------------------------------

# name -> (safetensors dtype, shape). Element i of each tensor is value(name, i)
# below; the C test computes the same formulas.
MULTI_DTYPE_TENSORS = {
    "f32.matrix": ("F32", [2, 3]),
    "f16.vector": ("F16", [4]),
    "bf16.matrix": ("BF16", [2, 2]),
    "f64.vector": ("F64", [3]),
    "i8.vector": ("I8", [5]),
    "u8.cube": ("U8", [2, 2, 2]),
    "i16.vector": ("I16", [3]),
    "i32.vector": ("I32", [2]),
    "i64.vector": ("I64", [2]),
    "bool.flags": ("BOOL", [4]),
    "f32.scalar": ("F32", []),
    "f32.empty": ("F32", [0, 3]),
}

NUMPY_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I8": "i1", "U8": "u1",
                "I16": "<i2", "I32": "<i4", "I64": "<i8", "BOOL": "?"}


def value(name, i):
    """Element i of tensor `name` (mirrored in tests/io/test_safetensors.c)."""
    kind = name.split(".")[0]
    return {
        "f32": lambda: 42.5 if name == "f32.scalar" else i * 0.5 - 1.0,
        "f16": lambda: i * 0.25 - 0.5,
        "bf16": lambda: i * 2.0 - 3.0,
        "f64": lambda: i / 3.0,
        "i8": lambda: i * 37 - 100,
        "u8": lambda: (i * 31) % 256,
        "i16": lambda: i * 1000 - 1000,
        "i32": lambda: i * 100000 - 7,
        "i64": lambda: i * (1 << 40) - 1,
        "bool": lambda: i % 3 == 0,
    }[kind]()


def tensor_bytes(name, dtype, shape):
    n = int(np.prod(shape)) if shape else 1
    values = [value(name, i) for i in range(n)]
    if dtype == "BF16":
        f32 = np.array(values, dtype="<f4")
        return (f32.view("<u4") >> 16).astype("<u2").tobytes()  # exact values
    return np.array(values, dtype=NUMPY_DTYPES[dtype]).tobytes()


def write_safetensors(path, tensors, metadata=None):
    """A minimal writer, used where the official one cannot go (BF16 from
    numpy). Tensors are stored in name order, header padded to 8 bytes."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        dtype, shape, blob = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    data = struct.pack("<Q", len(text)) + text + b"".join(blobs)
    path.write_bytes(data)
    return data


def make_safetensors():
    tensors = {name: (dtype, shape, tensor_bytes(name, dtype, shape))
               for name, (dtype, shape) in MULTI_DTYPE_TENSORS.items()}
    path = OUT / "multi_dtype.safetensors"
    write_safetensors(path, tensors, {"format": "pt", "purpose": "libvlm io test"})
    # Cross-check with the official reader (it validates the header too).
    with safe_open(str(path), framework="numpy") as f:
        assert sorted(f.keys()) == sorted(MULTI_DTYPE_TENSORS)
        assert f.metadata() == {"format": "pt", "purpose": "libvlm io test"}
        for name, (dtype, shape) in MULTI_DTYPE_TENSORS.items():
            if dtype != "BF16":
                t = f.get_tensor(name)
                assert list(t.shape) == shape and t.tobytes() == tensors[name][2], name

    # A sharded checkpoint written by the official writer.
    shard_dir = OUT / "sharded"
    shard_dir.mkdir(exist_ok=True)
    shard1 = {"a.weight": np.arange(4, dtype=np.float32).reshape(2, 2),
              "b.bias": np.arange(3, dtype=np.float16)}
    shard2 = {"c.weight": np.arange(6, dtype=np.int32).reshape(2, 3)}
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    save_file(shard1, str(shard_dir / names[0]), metadata={"format": "pt"})
    save_file(shard2, str(shard_dir / names[1]), metadata={"format": "pt"})
    weight_map = {k: names[0] for k in shard1} | {k: names[1] for k in shard2}
    index = {"metadata": {"total_size": 4 * 4 + 3 * 2 + 6 * 4}, "weight_map": weight_map}
    (shard_dir / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")

    # Fuzz seeds: a tiny valid file and a few broken ones.
    seeds = CORPUS / "safetensors"
    seeds.mkdir(parents=True, exist_ok=True)
    small = {"w": ("F32", [2, 2], np.arange(4, dtype="<f4").tobytes()),
             "b": ("BF16", [2], b"\x80\x3f\x00\x40"),
             "m": ("U8", [3], b"\x01\x02\x03")}
    valid = write_safetensors(seeds / "valid_small.safetensors", small, {"k": "v"})
    (seeds / "truncated.safetensors").write_bytes(valid[: len(valid) - 5])
    (seeds / "header_too_long.safetensors").write_bytes(struct.pack("<Q", 1 << 40) + valid[8:])
    (seeds / "overlap.safetensors").write_bytes(
        valid.replace(b'"data_offsets":[4,7]', b'"data_offsets":[2,5]'))
    (seeds / "empty_header.safetensors").write_bytes(struct.pack("<Q", 2) + b"{}")
    (seeds / "bad_dtype.safetensors").write_bytes(valid.replace(b'"U8"', b'"X8"'))


# ---- GGUF -------------------------------------------------------------------

LEGACY_QUANTS = [QT.Q8_0, QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1]
K_QUANTS = [QT.Q2_K, QT.Q3_K, QT.Q4_K, QT.Q5_K, QT.Q6_K]
# Byte offsets of the f16 scale fields in each k-quant block (ggml-common.h).
K_QUANT_SCALE_OFFSETS = {QT.Q2_K: [80, 82], QT.Q3_K: [108], QT.Q4_K: [0, 2],
                         QT.Q5_K: [0, 2], QT.Q6_K: [208]}


def random_k_quant_blocks(rng, qtype, n_blocks):
    """Random bytes with sane f16 scales: exercises every bit of the layout."""
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    for off in K_QUANT_SCALE_OFFSETS[qtype]:
        scales = (rng.standard_normal(n_blocks) * 0.01).astype("<f2").view(np.uint8)
        blocks[:, off:off + 2] = scales.reshape(n_blocks, 2)
    return blocks


def add_metadata(w):
    w.add_custom_alignment(64)
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 3.25)
    w.add_bool("test.bool", True)
    w.add_string("test.string", "h\u00e9llo w\u00f6rld")
    w.add_uint64("test.u64", (1 << 63) + 5)
    w.add_int64("test.i64", -(1 << 62))
    w.add_float64("test.f64", 2.718281828459045)
    for vtype, values in [(VT.UINT8, [1, 2, 255]), (VT.INT8, [-128, 0, 127]),
                          (VT.UINT16, [0, 65535]), (VT.INT16, [-32768, 32767]),
                          (VT.UINT32, [7, 4294967295]), (VT.INT32, [-5, 5]),
                          (VT.FLOAT32, [0.5, -1.5]), (VT.BOOL, [True, False, True]),
                          (VT.UINT64, [1 << 64 - 1]), (VT.INT64, [-(1 << 63)]),
                          (VT.FLOAT64, [1e300, -2.5])]:
        w.add_key_value("test.array." + vtype.name.lower(), values, VT.ARRAY, sub_type=vtype)
    w.add_array("test.array.string", ["alpha", "", "gamma"])
    w.add_array("test.array.nested", [[1, 2], [3, 4, 5]])
    w.add_array("test.array.nested_strings", [["a", "bc"], ["def"]])
    w.add_array("test.array.nested3", [[[1], [2, 3]], [[4]]])


def make_gguf():
    rng = np.random.default_rng(1234)
    path = OUT / "all_types.gguf"
    w = gguf.GGUFWriter(str(path), "testarch")
    add_metadata(w)

    # Plain types: element i is i * 0.5 - 3 (floats) or i - 3 (integers).
    n = np.arange(2 * 3 * 4 * 5)
    w.add_tensor("plain.f32", (n * 0.5 - 3).astype(np.float32).reshape(2, 3, 4, 5))
    w.add_tensor("plain.f64", (n[:6] * 0.5 - 3).astype(np.float64).reshape(2, 3))
    w.add_tensor("plain.i8", (n[:6] - 3).astype(np.int8).reshape(3, 2))
    w.add_tensor("plain.i16", (n[:6] - 3).astype(np.int16))
    w.add_tensor("plain.i32", (n[:6] - 3).astype(np.int32).reshape(1, 6))
    w.add_tensor("plain.i64", (n[:6] - 3).astype(np.int64).reshape(6, 1))

    expected = {}
    f16 = rng.standard_normal((4, 8)).astype(np.float16)
    w.add_tensor("deq.f16", f16)
    expected["f16"] = f16.astype(np.float32)
    bf16 = gguf.quants.quantize(rng.standard_normal((2, 16)).astype(np.float32), QT.BF16)
    w.add_tensor("deq.bf16", bf16, raw_dtype=QT.BF16)
    expected["bf16"] = gguf.quants.dequantize(bf16, QT.BF16)
    for qtype in LEGACY_QUANTS:
        data = rng.standard_normal((2, 256)).astype(np.float32) * 0.1
        data[0, :32] = 0.0  # an all-zero block (d = 0)
        q = gguf.quants.quantize(data, qtype)
        w.add_tensor("deq." + qtype.name.lower(), q, raw_dtype=qtype)
        expected[qtype.name.lower()] = gguf.quants.dequantize(q, qtype)
    for qtype in K_QUANTS:
        q = random_k_quant_blocks(rng, qtype, 4).reshape(2, -1)  # shape (2, 512)
        w.add_tensor("deq." + qtype.name.lower(), q, raw_dtype=qtype)
        expected[qtype.name.lower()] = gguf.quants.dequantize(q, qtype)
    # Types without a dequantizer: only their sizes are checked. (Not Q8_1:
    # gguf-py still lists its old 40-byte block; ggml's is 36 bytes now.)
    for qtype, shape in [(QT.Q8_K, (1, 256))]:
        block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
        raw = rng.integers(0, 256, size=(shape[0], shape[1] // block_size * type_size), dtype=np.uint8)
        w.add_tensor("raw." + qtype.name.lower(), raw, raw_dtype=qtype)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    for name, values in expected.items():
        (OUT / f"dequant_{name}.f32").write_bytes(values.astype("<f4").tobytes())

    # Cross-check what we wrote with the package's own reader.
    r = gguf.GGUFReader(str(path))
    assert r.alignment == 64
    assert r.get_tensor(len(r.tensors) - 1).name == "raw.q8_k"

    # Fuzz seeds: a tiny valid file and a few broken ones.
    seeds = CORPUS / "gguf"
    seeds.mkdir(parents=True, exist_ok=True)
    small_path = seeds / "valid_small.gguf"
    w = gguf.GGUFWriter(str(small_path), "tiny")
    w.add_uint32("tiny.n", 7)
    w.add_array("tiny.tokens", ["a", "b"])
    w.add_array("tiny.nested", [[1], [2, 3]])
    w.add_tensor("t.f32", np.arange(4, dtype=np.float32))
    w.add_tensor("t.q4_0", gguf.quants.quantize(np.linspace(-1, 1, 32, dtype=np.float32), QT.Q4_0),
                 raw_dtype=QT.Q4_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    valid = small_path.read_bytes()
    (seeds / "truncated.gguf").write_bytes(valid[: len(valid) // 2])
    (seeds / "bad_magic.gguf").write_bytes(b"GGUX" + valid[4:])
    (seeds / "huge_counts.gguf").write_bytes(valid[:8] + struct.pack("<QQ", 1 << 60, 1 << 60) + valid[24:])
    (seeds / "v2_no_tensors.gguf").write_bytes(
        b"GGUF" + struct.pack("<IQQ", 2, 0, 1) + struct.pack("<Q", 3) + b"key" +
        struct.pack("<IIQ", VT.ARRAY, VT.STRING, 1) + struct.pack("<Q", 1) + b"x")


# ---- f32 -> f16 / bf16 rounding ---------------------------------------------

def make_conversions():
    """f32 inputs (boundary cases, then random bit patterns, no NaNs) and
    their f16 (numpy, round to nearest even) and bf16 (ggml's rounding, via
    gguf.quants) bit patterns."""
    special = [0.0, -0.0, 1.0, -1.0, 65504.0, 65519.996, 65520.0, 65536.0, 1e10, np.inf, -np.inf,
               2.0 ** -14, 2.0 ** -24, 2.0 ** -25, 2.0 ** -25 * 1.0001, 3 * 2.0 ** -26, 3 * 2.0 ** -25,
               2.0 ** -14 - 2.0 ** -25, 1e-40, -1e-45, 3.4e38, 1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11,
               1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8, 0.1, -0.3]
    rng = np.random.default_rng(99)
    bits = rng.integers(0, 1 << 32, size=2048, dtype=np.uint64).astype(np.uint32)
    bits = bits[(bits & 0x7fffffff) <= 0x7f800000]  # drop NaNs
    # Halfway cases for both roundings: random values with the dropped bits at 1000...
    halfway = (rng.integers(0, 1 << 32, size=256, dtype=np.uint64).astype(np.uint32) & 0x47ffe000) | 0x1000
    halfway_bf16 = (rng.integers(0, 1 << 32, size=256, dtype=np.uint64).astype(np.uint32) & 0x7effffff) & ~np.uint32(0xffff) | 0x8000
    x = np.concatenate([np.array(special, dtype="<f4"), bits.view("<f4"),
                        halfway.view("<f4"), halfway_bf16.astype(np.uint32).view("<f4")])
    with np.errstate(over="ignore"):
        f16 = x.astype("<f2")
    (OUT / "convert_in.f32").write_bytes(x.tobytes())
    (OUT / "convert_f16.u16").write_bytes(f16.view("<u2").tobytes())
    (OUT / "convert_bf16.u16").write_bytes(gguf.quants.quantize(x, QT.BF16).tobytes())


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    make_safetensors()
    make_gguf()
    make_conversions()
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT.relative_to(ROOT)} ({total} bytes)")
    assert total < 1 << 20


if __name__ == "__main__":
    sys.exit(main())
