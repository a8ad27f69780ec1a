#!/usr/bin/env python3
"""Makes tests/data/text/spm-gguf: a synthetic SentencePiece ("llama") GGUF
vocabulary without tokenizer.ggml.merges, and what transformers' GGUF
tokenizer (its generate_merges over the scores) makes of a set of strings.

usage: make_spm_gguf_tokenizer.py OUT_DIR

The vocabulary is built to exercise the order of the derived merges: scores
drawn from a few values (ties between merged tokens), strings repeated under
two ids (a repeated string counts at its first position with its last
score), splits of equal score broken by the parts' lengths, byte-fallback
tokens and multi-byte characters. Needs transformers (5.24), tokenizers and
gguf (fixture generation only; CI needs none of them).

vocab.gguf       the vocabulary (metadata only, no tensors)
expected.json    [{"text", "ids"}]: AutoTokenizer.from_pretrained(OUT_DIR,
                 gguf_file="vocab.gguf")(text, add_special_tokens=True)
"""
import json
import random
import sys
from pathlib import Path

import gguf

CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "an other thing that happens in the other town",
    "banana bandana cabana anna nanny",
    "mississippi missing misses",
    "caf\u00e9 r\u00e9sum\u00e9 na\u00efve \u00fcber",
    "\u4f60\u597d\u4e16\u754c \u65e5\u672c\u8a9e",
    "aaaa aaaaaa abababab",
    "1234 5678 12 34",
]
TESTS = CORPUS + [
    "", " ", "  two", "hello world", "thethethe", "ban ana na", "other thinging",
    "zzz qqq", "\u00e9\u00e9\u00e9", "\U0001F600 emoji", "a\nb\tc", "anna banana",
    "missississippi", "\u4f60\u4f60\u597d", "   ", "x" * 40,
]


def vocabulary(rng):
    meta = "\u2581"
    pieces = []
    seen = set()

    def add(s):
        if s not in seen:
            seen.add(s)
            pieces.append(s)

    words = [meta + w for line in CORPUS for w in line.split(" ")]
    for w in words:
        for c in w:
            add(c)
    for w in words:
        for i in range(len(w)):
            for j in range(i + 2, min(len(w), i + 7) + 1):
                if rng.random() < 0.45:
                    add(w[i:j])
    rng.shuffle(pieces)
    return pieces


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20261128)
    specials = ["<unk>", "<s>", "</s>"]
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    pieces = vocabulary(rng)
    repeated = [p for p in pieces if len(p) > 1][:6]
    tokens = specials + byte_tokens + pieces + repeated
    types = [2, 3, 3] + [6] * 256 + [1] * (len(pieces) + len(repeated))
    # few distinct scores: many merged tokens tie and the lengths decide
    scores = [0.0] * (3 + 256) + [float(-rng.randrange(0, 12)) for _ in pieces + repeated]

    writer = gguf.GGUFWriter(str(out / "vocab.gguf"), "llama")
    writer.add_context_length(64)
    writer.add_embedding_length(8)
    writer.add_block_count(1)
    writer.add_feed_forward_length(16)
    writer.add_head_count(1)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(out), gguf_file="vocab.gguf")
    expected = [{"text": t, "ids": tok(t, add_special_tokens=True)["input_ids"]} for t in TESTS]
    lines = ",\n".join(json.dumps(e, ensure_ascii=False) for e in expected)
    (out / "expected.json").write_text("[\n" + lines + "\n]\n")
    print(f"{len(tokens)} tokens, {len(expected)} strings")


if __name__ == "__main__":
    main()
