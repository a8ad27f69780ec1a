#!/usr/bin/env python3
"""Generates the tokenizer fixtures in tests/data/text/ with the Hugging Face
`tokenizers` package as the reference.

  corpus.jsonl            the test strings, one JSON string per line (seeded,
                          deterministic: rerunning gives the same file)
  expected-<vocab>.jsonl  per corpus line: {"ids": encode(text) with special
                          tokens added and parsed}; "plain": the ids when
                          special tokens in the text are not parsed (only if
                          different); "dec": decode(ids), "skip":
                          decode(ids, skip_special_tokens) -- each absent
                          when equal to the text, given as "decp"/"skipp"
                          (a prefix) when it is prefix + text
  units.json              small hand-built tokenizer.json documents, one per
                          normalizer / pre-tokenizer / decoder option, with
                          their expected ids and decodes: two trained base
                          tokenizers ("bases") and per unit the top-level
                          parts that replace the base's ("parts", "model")

Usage: make_tokenizer_fixtures.py [--assets DIR]   (DIR: the shared assets
folder holding tokenizers/{qwen3,gemma3,llama3}; default $VLM_SHARED_ASSETS)
"""
import argparse
import json
import os
import random
import sys

import tokenizers
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "text")
SEED = 20250601

SENTENCES = [
    # English
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure you'll like it; they've said it's what we'd want.",
    "Don't SHOUT — it's RUDE, isn't it?",
    "A photo of a cat sitting on a red sofa, next to a window.",
    # Chinese, Japanese, Korean
    "我们今天去公园散步，天气非常好。",
    "图片中有一只猫坐在红色的沙发上。",
    "東京は日本の首都です。カタカナとひらがなを混ぜます。",
    "吾輩は猫である。名前はまだ無い。",
    "안녕하세요, 만나서 반갑습니다. 한국어 문장입니다.",
    # Arabic, Hebrew, Hindi, Thai
    "مرحبا بالعالم، هذه جملة باللغة العربية.",
    "שלום עולם, זה משפט בעברית.",
    "नमस्ते दुनिया, यह हिंदी में एक वाक्य है।",
    "สวัสดีชาวโลก นี่คือประโยคภาษาไทย",
    # Others
    "Привет, мир! Это предложение на русском языке.",
    "Γειά σου Κόσμε! Ελληνικά γράμματα.",
    "Ça va? Très bien, merci. Àéîõü ñ ß Œ æ ø å.",
    "Tiếng Việt có dấu: Xin chào thế giới.",
]

EMOJI = ["🙂", "👍", "👍🏽", "👍🏿", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇫🇷", "🇯🇵", "🧑🏾‍🚀",
         "✋🏻", "😀", "🤖", "🐈", "🔥", "✅", "©", "™", "👁‍🗨"]

CODE = [
    "def f(x):\n\treturn x * 2\n",
    "int main(void) {\n    printf(\"hello\\n\");\n    return 0;\n}\n",
    "for (size_t i = 0; i < n; i++) {\n\t\tsum += a[i];\n\t}",
    "    \n\n\n        x = [1, 2, 3]  # comment\n",
    "SELECT * FROM users WHERE id = 42 AND name LIKE '%bob%';",
    "{\"key\": \"value\", \"list\": [1, 2.5, -3e10, null, true]}",
    "if a != b && c <= d || !e { return; }",
    "<div class=\"x\"><span>text</span></div>",
]

NUMBERS = ["0", "7", "42", "1234567890", "3.14159", "-273.15", "1,000,000", "12:30",
           "٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९", "一二三四五六", "①②③", "Ⅻ", "½ ¾ ⅞", "１２３",
           "๑๒๓", "2025-06-01", "+1 (555) 123-4567", "0x1F", "1e-9"]

URLS = ["https://example.com/path?q=1&r=two#frag", "http://localhost:8080/",
        "mailto:someone@example.org", "www.example.co.uk/a/b/c.html",
        "ftp://files.example.net/pub/file.tar.gz", "user@example.com"]

COMBINING = ["e\u0301", "é", "a\u0308", "ä", "n\u0303", "ñ", "A\u030a", "Å", "\u1e9b\u0323",
             "ﬁ", "Ⅸ", "ｈｅｌｌｏ", "ⓐⓑⓒ", "㍿", "x\u0338", "o\u0302\u0323", "ǅ", "İstanbul", "ΣΑΣ"]

SPECIAL_LOOKALIKES = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<image>", "<bos>", "<eos>",
                      "<start_of_turn>", "<end_of_turn>", "<|begin_of_text|>", "<|eot_id|>",
                      "<|im_start", "im_start|>", "< |im_start| >", "<<image>>", "<pad>",
                      "<fake_token_around_image>", "<row_1_col_1>", "<end_of_utterance>",
                      "<think>", "</think>", "<|vision_start|>", "<start_of_image>", "<unk>",
                      "<mask>", "[INST]", "<0x41>", "▁", "Ġ", "Ċ"]

WHITESPACE = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\u00a0", "\u3000", "\u2009", " \t ",
              "        ", "\n    ", "\u200b", "\u2028", "\u0085", "\x0b", "\x0c"]


def random_codepoint(rng):
    ranges = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x5FF),
              (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x3040, 0x30FF),
              (0x4E00, 0x4FFF), (0xAC00, 0xAFFF), (0x1F300, 0x1F64F), (0x2000, 0x206F),
              (0xFF00, 0xFFEF), (0x10000, 0x1007F), (0x1D400, 0x1D4FF), (0x1, 0x1F)]
    lo, hi = rng.choice(ranges)
    cp = rng.randint(lo, hi)
    if 0xD800 <= cp <= 0xDFFF:
        cp = 0x41
    return chr(cp)


def fragment(rng):
    kind = rng.randrange(10)
    if kind == 0:
        return rng.choice(SENTENCES)
    if kind == 1:
        return "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 4)))
    if kind == 2:
        return rng.choice(CODE)
    if kind == 3:
        return rng.choice(NUMBERS)
    if kind == 4:
        return rng.choice(URLS)
    if kind == 5:
        return rng.choice(COMBINING)
    if kind == 6:
        return rng.choice(SPECIAL_LOOKALIKES)
    if kind == 7:
        return rng.choice(WHITESPACE)
    if kind == 8:
        return "".join(random_codepoint(rng) for _ in range(rng.randint(1, 12)))
    words = rng.choice(SENTENCES).split()
    return " ".join(rng.sample(words, min(len(words), rng.randint(1, 4))))


def build_corpus():
    rng = random.Random(SEED)
    corpus = ["", " ", "a", "\n", "!", "é", "中", "🙂", "  leading", "trailing  ", "\t\ttabs",
              "multiple   spaces   here", "\n\n\nnewlines\n\n", "'s 't 're 've 'm 'll 'd",
              "CAPS'S LOCK'LL", "x" * 300, " " * 64, "\n" * 20, "ab" * 200, "🙂" * 50,
              "1" * 40, "a1b2c3", "hello<|im_start|>world", "<|im_start|>user\nWhat is this?<|im_end|>\n",
              "<bos><start_of_turn>user\nDescribe.<end_of_turn>", "<image><image>",
              "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"]
    corpus += SENTENCES + EMOJI + CODE + NUMBERS + URLS + COMBINING + SPECIAL_LOOKALIKES + WHITESPACE
    # Single bytes and characters.
    corpus += [chr(c) for c in range(0x20, 0x7F)]
    while len(corpus) < 2000:
        n = rng.choice([1, 2, 3, 4, 6, 10])
        sep = rng.choice(["", " ", " ", "\n", "  ", "\t"])
        corpus.append(sep.join(fragment(rng) for _ in range(n)))
    # A few long strings (~8-20 KB).
    for _ in range(6):
        corpus.append(" ".join(fragment(rng) for _ in range(rng.randint(150, 300))))
    return corpus


def vocabularies(assets):
    out = [("smolvlm", os.path.join(OUT, "..", "tiny-smolvlm", "tokenizer.json"))]
    for name in ("qwen3", "gemma3", "llama3"):
        out.append((name, os.path.join(assets, "tokenizers", name, "tokenizer.json")))
    return out


def expected_line(tok, text):
    enc = tok.encode(text, add_special_tokens=True)
    ids = enc.ids
    rec = {"ids": ids}
    tok.encode_special_tokens = True
    plain = tok.encode(text, add_special_tokens=True).ids
    tok.encode_special_tokens = False
    if plain != ids:
        rec["plain"] = plain
    put_decoded(rec, "dec", tok.decode(ids, skip_special_tokens=False), text)
    put_decoded(rec, "skip", tok.decode(ids, skip_special_tokens=True), text)
    return rec


def put_decoded(rec, key, decoded, text):
    """Stores a decode compactly: nothing if it is the text itself, key+"p"
    (a prefix) if it is prefix + text, the full string otherwise."""
    if decoded == text:
        return
    if text and decoded.endswith(text):
        rec[key + "p"] = decoded[:-len(text)]
    else:
        rec[key] = decoded


# ---- unit tokenizers: small BPE vocabularies trained here, with each
# component swapped in ----

UNIT_TRAIN = SENTENCES + CODE + NUMBERS + URLS + ["hello world " * 3, "Hey friend! How are you?"]

UNIT_INPUTS = ["Hello world!", "  Hey   friend!  ", "hello\tworld\nnew line", "I'm 12345 years, you're 6.",
               "café CAFÉ e\u0301 ﬁ ①", "İstanbul ΣΑΣ", "a-b_c.d,e;f", "中文 日本語 한국어", "🙂👍🏽 ok",
               "", " ", "x", "<s>hello</s>", "<s> spaced </s> end", "word<mask>word <mask> x",
               "the yesterday Yesterday", "123 4567 89", "..!!??", "tab\there"]


def trained_base(byte_level):
    from tokenizers import models, trainers, pre_tokenizers
    if byte_level:
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = trainers.BpeTrainer(vocab_size=600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      show_progress=False)
    else:
        tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        alphabet = sorted(set("".join(UNIT_TRAIN) + "▁"))
        trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=["<unk>"] + ["<0x%02X>" % b for b in range(256)],
                                      initial_alphabet=alphabet, show_progress=False)
    tok.train_from_iterator(UNIT_TRAIN, trainer)
    return json.loads(tok.to_str())


def added(content, id_, special=True, **flags):
    d = {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": not special, "special": special}
    d.update(flags)
    return d


def unit_specs():
    bl = trained_base(True)
    sp = trained_base(False)
    n_bl = len(bl["model"]["vocab"])
    n_sp = len(sp["model"]["vocab"])
    byte_level_pre = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    byte_level_dec = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    meta_dec = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
        {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    specs = []

    def spec(name, base, **parts):
        model_opts = parts.pop("model_opts", {})
        specs.append((name, "bytelevel" if base is bl else "sentencepiece", parts, model_opts))

    def split(pattern, behavior, invert=False, kind="Regex"):
        return {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {kind: pattern}, "behavior": behavior, "invert": invert},
            dict(byte_level_pre, use_regex=False)]}

    # byte-level family
    spec("bytelevel", bl, pre_tokenizer=byte_level_pre, decoder=byte_level_dec)
    spec("bytelevel-prefix", bl, pre_tokenizer=dict(byte_level_pre, add_prefix_space=True), decoder=byte_level_dec)
    spec("bytelevel-noregex", bl, pre_tokenizer=dict(byte_level_pre, use_regex=False), decoder=byte_level_dec)
    for behavior in ["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]:
        spec("split-regex-" + behavior, bl, pre_tokenizer=split(r"\s+|[0-9]", behavior), decoder=byte_level_dec)
        spec("split-string-" + behavior, bl, pre_tokenizer=split(" ", behavior, kind="String"), decoder=byte_level_dec)
        spec("split-invert-" + behavior, bl, pre_tokenizer=split(r"\p{L}+", behavior, invert=True), decoder=byte_level_dec)
    spec("split-empty-matches", bl, pre_tokenizer=split(r"a*", "Isolated"), decoder=byte_level_dec)
    spec("split-llama3-regex", bl, pre_tokenizer=split(
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        "Isolated"), decoder=byte_level_dec)
    for individual in (True, False):
        spec("digits-%s" % individual, bl, pre_tokenizer={"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": individual}, byte_level_pre]}, decoder=byte_level_dec)
    for behavior in ["Isolated", "Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous"]:
        spec("punctuation-" + behavior, bl, pre_tokenizer={"type": "Sequence", "pretokenizers": [
            {"type": "Punctuation", "behavior": behavior}, dict(byte_level_pre, use_regex=False)]},
            decoder=byte_level_dec)
    for kind in ["Whitespace", "WhitespaceSplit"]:
        spec(kind.lower(), bl, pre_tokenizer={"type": "Sequence", "pretokenizers": [
            {"type": kind}, dict(byte_level_pre, use_regex=False)]}, decoder=byte_level_dec)
    spec("char-delimiter", bl, pre_tokenizer={"type": "Sequence", "pretokenizers": [
        {"type": "CharDelimiterSplit", "delimiter": "o"}, dict(byte_level_pre, use_regex=False)]},
        decoder=byte_level_dec)
    for norm in ["NFC", "NFD", "NFKC", "NFKD", "Lowercase"]:
        spec("normalizer-" + norm, bl, normalizer={"type": norm}, pre_tokenizer=byte_level_pre, decoder=byte_level_dec)
    for left, right in [(True, True), (True, False), (False, True)]:
        spec("strip-%s-%s" % (left, right), bl, normalizer={"type": "Strip", "strip_left": left, "strip_right": right},
             pre_tokenizer=byte_level_pre, decoder=byte_level_dec)
    spec("replace-regex", bl, normalizer={"type": "Replace", "pattern": {"Regex": r"\d+"}, "content": "#"},
         pre_tokenizer=byte_level_pre, decoder=byte_level_dec)
    spec("normalizer-sequence", bl, normalizer={"type": "Sequence", "normalizers": [
        {"type": "NFKC"}, {"type": "Lowercase"}, {"type": "Replace", "pattern": {"String": "world"}, "content": "planet"},
        {"type": "Prepend", "prepend": "> "}]}, pre_tokenizer=byte_level_pre, decoder=byte_level_dec)
    toks = [added("<s>", n_bl), added("</s>", n_bl + 1), added("<mask>", n_bl + 2, special=False, single_word=True),
            added("yesterday", n_bl + 3, special=False, normalized=True)]
    spec("added-tokens", bl, added_tokens=toks, normalizer={"type": "Lowercase"}, pre_tokenizer=byte_level_pre,
         decoder=byte_level_dec, post_processor={"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                    {"SpecialToken": {"id": "</s>", "type_id": 0}}],
         "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<s>": {"id": "<s>", "ids": [n_bl], "tokens": ["<s>"]},
                            "</s>": {"id": "</s>", "ids": [n_bl + 1], "tokens": ["</s>"]}}})
    toks2 = [added("<s>", n_bl, lstrip=True, rstrip=True), added("</s>", n_bl + 1, lstrip=True),
             added("<mask>", n_bl + 2, special=False, rstrip=True)]
    spec("added-strip", bl, added_tokens=toks2, pre_tokenizer=byte_level_pre, decoder=byte_level_dec,
         post_processor={"type": "Sequence", "processors": [
             {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
             {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}},
              {"SpecialToken": {"id": "</s>", "type_id": 0}}], "pair": [],
              "special_tokens": {"</s>": {"id": "</s>", "ids": [n_bl + 1], "tokens": ["</s>"]}}}]})
    spec("bytelevel-ignore-merges", bl, pre_tokenizer=byte_level_pre, decoder=byte_level_dec,
         model_opts={"ignore_merges": True})
    spec("no-decoder", bl, pre_tokenizer=byte_level_pre, decoder=None)
    # sentencepiece-like family (byte fallback, unk, Metaspace)
    for scheme in ["always", "first", "never"]:
        for split_ in (True, False):
            spec("metaspace-%s-%s" % (scheme, split_), sp,
                 pre_tokenizer={"type": "Metaspace", "replacement": "▁", "prepend_scheme": scheme, "split": split_},
                 decoder={"type": "Metaspace", "replacement": "▁", "prepend_scheme": scheme, "split": split_},
                 added_tokens=[added("<s>", n_sp), added("</s>", n_sp + 1)])
    spec("gemma-like", sp, normalizer={"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
         pre_tokenizer={"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": False},
         decoder={"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                                                   {"type": "ByteFallback"}, {"type": "Fuse"}]},
         added_tokens=[added("<s>", n_sp)], post_processor={"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [n_sp], "tokens": ["<s>"]}}})
    spec("llama2-like", sp, normalizer={"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
         pre_tokenizer=None, decoder=meta_dec, added_tokens=[added("<s>", n_sp)])
    spec("unk-not-fused", sp, pre_tokenizer={"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
         decoder=meta_dec, model_opts={"byte_fallback": False, "fuse_unk": False})
    spec("unk-fused", sp, pre_tokenizer={"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
         decoder=meta_dec, model_opts={"byte_fallback": False, "fuse_unk": True})
    spec("bert-processing", sp, pre_tokenizer={"type": "Whitespace"}, decoder=meta_dec,
         added_tokens=[added("<s>", n_sp), added("</s>", n_sp + 1)],
         post_processor={"type": "BertProcessing", "sep": ["</s>", n_sp + 1], "cls": ["<s>", n_sp]})
    return {"bytelevel": bl, "sentencepiece": sp}, specs


def unit_document(bases, base, parts, model_opts):
    doc = json.loads(json.dumps(bases[base]))
    doc.update(parts)
    doc["model"].update(model_opts)
    return doc


def unit_cases(doc):
    tok = Tokenizer.from_str(json.dumps(doc))
    cases = []
    for text in UNIT_INPUTS:
        ids = tok.encode(text, add_special_tokens=True).ids
        tok.encode_special_tokens = True
        plain = tok.encode(text, add_special_tokens=False).ids
        tok.encode_special_tokens = False
        cases.append({"text": text, "ids": ids, "plain_nospecial": plain,
                      "dec": tok.decode(ids, skip_special_tokens=False),
                      "skip": tok.decode(ids, skip_special_tokens=True)})
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", default=os.environ.get("VLM_SHARED_ASSETS"))
    args = ap.parse_args()
    corpus = build_corpus()
    with open(os.path.join(OUT, "corpus.jsonl"), "w", encoding="utf-8") as f:
        for text in corpus:
            f.write(json.dumps(text, ensure_ascii=False) + "\n")
    for name, path in vocabularies(args.assets or ""):
        if not os.path.exists(path):
            print("skipping %s: %s not found" % (name, path), file=sys.stderr)
            continue
        tok = Tokenizer.from_file(path)
        with open(os.path.join(OUT, "expected-%s.jsonl" % name), "w", encoding="utf-8") as f:
            for text in corpus:
                f.write(json.dumps(expected_line(tok, text), ensure_ascii=False, separators=(",", ":")) + "\n")
    bases, specs = unit_specs()
    units = [{"name": name, "base": base, "parts": parts, "model": model_opts,
              "cases": unit_cases(unit_document(bases, base, parts, model_opts))}
             for name, base, parts, model_opts in specs]
    with open(os.path.join(OUT, "units.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizers_version": tokenizers.__version__, "bases": bases, "units": units}, f,
                  ensure_ascii=False, separators=(",", ":"))
    print("%d corpus strings, %d unit tokenizers (tokenizers %s)" % (len(corpus), len(units), tokenizers.__version__))


if __name__ == "__main__":
    main()
