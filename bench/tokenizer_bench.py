#!/usr/bin/env python3
"""Encode throughput of Hugging Face tokenizers on the same inputs as
tokenizer_bench.c: one thread, line by line.
Usage: tokenizer_bench.py TOKENIZER_JSON TEXT_FILE [SECONDS]"""
import os
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
from tokenizers import Tokenizer  # noqa: E402


def main():
    path, text_path = sys.argv[1], sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
    t0 = time.perf_counter()
    tok = Tokenizer.from_file(path)
    print("load: %.3f s" % (time.perf_counter() - t0))
    lines = open(text_path, encoding="utf-8").read().splitlines(keepends=True)
    nbytes = sum(len(line.encode()) for line in lines)
    rounds, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for line in lines:
            tok.encode(line, add_special_tokens=False)
        rounds += 1
    elapsed = time.perf_counter() - start
    print("encode: %.2f MB/s (%d rounds)" % (nbytes * rounds / elapsed / 1e6, rounds))


if __name__ == "__main__":
    main()
