#!/usr/bin/env python3
"""Writes the reference blocks of the weight quantizers (tests/data/quantize/).

Run from anywhere:
  GGML_BASE_LIB=path/to/libggml-base.so python3 tests/gen/make_quantize_reference.py

input.f32 holds ROWS x COLS float32 values (little-endian) drawn from several
distributions, with edge rows (all zero, constant, one outlier, tiny values,
exact .5 ties after scaling). The expected blocks of each row:

  q8_0.bin, q4_0.bin, q5_0.bin
                      gguf.quants.quantize (gguf-py, numpy, independent of
                      the C code; it states bit-exactness with ggml's ref)
  q4_k.bin            ggml's own quantize_row_q4_K_ref through
                      ggml_quantize_chunk (gguf-py has no Q4_K quantizer),
                      from the llama.cpp library named by GGML_BASE_LIB

Deterministic (fixed seed). tests/quantize/test_quantize.c reads the files.
"""
import ctypes
import os
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "quantize"
ROWS, COLS = 48, 512

GGML_TYPE_Q4_K = 12
Q4_K_BLOCK_BYTES = 144


def make_input() -> np.ndarray:
    rng = np.random.default_rng(20261128)
    rows = []
    for r in range(ROWS):
        kind = r % 8
        if kind == 0:
            row = rng.standard_normal(COLS)
        elif kind == 1:
            row = rng.uniform(-1.0, 1.0, COLS) * 0.02  # weight-like scale
        elif kind == 2:
            row = rng.standard_normal(COLS) * rng.uniform(0.001, 10.0, COLS)  # mixed magnitudes
        elif kind == 3:
            row = np.abs(rng.standard_normal(COLS)) + 0.5  # all positive (min > 0 path)
        elif kind == 4:
            row = -np.abs(rng.standard_normal(COLS)) * 3.0  # all negative
        elif kind == 5:
            row = rng.standard_normal(COLS)
            row[rng.integers(0, COLS, 4)] *= 200.0  # outliers
        elif kind == 6:
            row = rng.integers(-127, 128, COLS) / 127.0 * 0.5  # many exact ties
        else:
            row = rng.standard_normal(COLS) * 1e-6
        rows.append(row)
    x = np.stack(rows).astype(np.float32)
    x[6, :64] = 0.0          # zero blocks (d = 0)
    x[7, 64:128] = 0.25      # constant block
    x[8, 256:512] = 0.0      # a zero Q4_K super-block
    x[9, 0] = 1e4            # one huge value in a block
    return x


def ggml_q4_k(x: np.ndarray, lib_path: str) -> bytes:
    lib = ctypes.CDLL(lib_path)
    fn = lib.ggml_quantize_chunk
    fn.restype = ctypes.c_size_t
    fn.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                   ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    src = np.ascontiguousarray(x)
    dst = np.zeros(ROWS * COLS // 256 * Q4_K_BLOCK_BYTES, dtype=np.uint8)
    written = fn(GGML_TYPE_Q4_K, src.ctypes.data, dst.ctypes.data, 0, ROWS, COLS, None)
    assert written == dst.size, (written, dst.size)
    return dst.tobytes()


def main() -> None:
    lib_path = os.environ.get("GGML_BASE_LIB")
    if not lib_path:
        sys.exit("set GGML_BASE_LIB to llama.cpp's libggml-base shared library")
    OUT.mkdir(parents=True, exist_ok=True)
    x = make_input()
    (OUT / "input.f32").write_bytes(x.astype("<f4").tobytes())
    for name, qtype in (("q8_0", QT.Q8_0), ("q4_0", QT.Q4_0), ("q5_0", QT.Q5_0)):
        (OUT / f"{name}.bin").write_bytes(gguf.quants.quantize(x, qtype).tobytes())
    (OUT / "q4_k.bin").write_bytes(ggml_q4_k(x, lib_path))
    print(f"wrote {OUT} ({ROWS}x{COLS})")


if __name__ == "__main__":
    main()
