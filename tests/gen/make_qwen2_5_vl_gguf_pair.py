#!/usr/bin/env python3
"""Writes tests/data/qwen2_5_vl-gguf-pair/: the tiny Qwen2.5-VL hub model of
tests/data/qwen2_5_vl-model converted by llama.cpp's own converter
(convert_hf_to_gguf.py, run in this process with its own gguf-py), as the two
files a llama.cpp user has (`llama-mtmd-cli -m text.gguf --mmproj mmproj.gguf`):

  text.gguf, text-f16.gguf      --outtype f32 / f16: general.architecture
                                "qwen2vl", qwen2vl.* keys (rope.dimension_sections),
                                the "gpt2" vocabulary, merges, special ids and
                                the chat template;
  mmproj.gguf, mmproj-f16.gguf  --mmproj --outtype f32 / f16: "clip",
                                clip.projector_type "qwen2.5vl_merger";
  tokenizer.json                strings and the ids the hub tokenizer (with
                                Qwen2's pre-tokenizer, see below) gives them.

The converter runs unmodified; three things of the tiny model it cannot take
are worked around here, in this process, and nowhere in llama.cpp:

  1. Qwen2VLModel.set_vocab tries the SentencePiece path first and only
     catches FileNotFoundError; without the sentencepiece module installed the
     import fails first. The vocabulary is set by _set_vocab_gpt2 directly,
     which is where a Qwen hub directory (no tokenizer.model) ends anyway.
  2. get_vocab_base_pre names the pre-tokenizer by hashing the ids of a fixed
     text, and the tiny 400-token vocabulary matches no known hash. The hub
     copy converted here gets the real Qwen2.5-VL pre-tokenizer (the Split
     with Qwen2's regex and a ByteLevel without regex, as Qwen's own
     tokenizer.json has it; the tiny tokenizer.json has GPT-2's plain
     ByteLevel), and get_vocab_base_pre answers "qwen2", what it answers for
     every Qwen2 / Qwen2.5-VL checkpoint. So that the ids show which split
     ran, the copy also gets PRE_TOKENIZER_MERGES (six tokens in the
     vocabulary's unused ids). The weights are those of the hub directory
     unchanged; tokenizer.json records the ids of that tokenizer, and the
     hub and GGUF prompts of the test are identical.
  3. clip.cpp fixes the qwen2.5vl window at 112 pixels (attn_window_size when
     clip.vision.window_size is absent, and the converter never writes it:
     every released Qwen2.5-VL has window_size 112). The tiny model's is 56,
     so the mmproj gets clip.vision.window_size = 56, the key clip.cpp reads
     for the window of other projectors; with 112 it would not be the same
     model.

Needs torch, transformers, tokenizers, numpy and llama.cpp's source tree.
Usage:
    LLAMA_CPP_DIR=path/to/llama.cpp python3 tests/gen/make_qwen2_5_vl_gguf_pair.py
"""
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "data", "qwen2_5_vl-model")
OUT = os.path.join(HERE, "..", "data", "qwen2_5_vl-gguf-pair")

# Qwen2 / Qwen2.5-VL tokenizer.json pre_tokenizer (Qwen/Qwen2.5-VL-3B-Instruct)
QWEN2_PRE_TOKENIZER = {
    "type": "Sequence",
    "pretokenizers": [
        {"type": "Split",
         "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"
                              "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+"
                              "|\\s+(?!\\S)|\\s+"},
         "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
         "use_regex": False},
    ],
}

# Merges (new tokens in the vocabulary's unused ids 388..) that make the
# pre-tokenizer visible in the ids: each joins two pieces that Qwen2's split
# keeps together and GPT-2's or llama3's does not, or the other way round.
# Without them the tiny merges (letters and "Ġ" + letter only) give the same
# ids whatever the split.
PRE_TOKENIZER_MERGES = [
    ("Ċ", "Ċ"),    # "\n\n" is one piece for Qwen2 (\s*[\r\n]+), two for GPT-2
    ("3", "3"),    # digits: one piece each for Qwen2, runs for GPT-2 / llama3
    ("Ġ", "3"),    # " 3": two pieces for Qwen2, one for GPT-2 ( ?\p{N}+)
    ("'", "R"),    # "'RE": a contraction for Qwen2 (case-insensitive), not GPT-2
    ("'R", "E"),
    ("-", "r"),    # "-ray": one piece for Qwen2 ([^\r\n\p{L}\p{N}]?\p{L}+)
]

# strings whose ids the GGUF tokenizer must reproduce
TOKENIZER_STRINGS = [
    "Describe this image.",
    "Hello world! How are you today?",
    "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is this?<|im_end|>\n"
    "<|im_start|>assistant\n",
    "<|endoftext|><|video_pad|><|vision_pad|>",
    "1234567 + 89 = 1234656, 3.14159",
    "我想在apple工作1314151天 中文 日本語",
    "   leading spaces\n\n\ttabs\t\t and    runs   \n   ",
    "I've been 'told he's there, 'RE you sure? We'Ve a'lL",
    "emoji 🦙🦙 ✅ and ------======= \r\n crlf",
    "a<|im_end|>b<|im_start|> <|im_end|>  ",
    "one\n\ntwo\n\n\nthree \n\n",
    "333 3 33 x-ray 'RE 'Re",
]

WINDOW_SIZE_KEY = "clip.vision.window_size"


def hub_copy(tmp):
    """The hub directory with Qwen2's pre-tokenizer in tokenizer.json."""
    d = os.path.join(tmp, "qwen2_5_vl-model")
    shutil.copytree(SRC, d, ignore=shutil.ignore_patterns("ref_*", "reference.json"))
    path = os.path.join(d, "tokenizer.json")
    with open(path, encoding="utf-8") as f:
        tok = json.load(f)
    tok["pre_tokenizer"] = QWEN2_PRE_TOKENIZER
    vocab = tok["model"]["vocab"]
    # tokenizers numbers added tokens missing from the vocabulary after it:
    # listed in it, the special tokens keep their ids 380..387
    for added in tok["added_tokens"]:
        vocab[added["content"]] = added["id"]
    next_id = max(vocab.values()) + 1
    for left, right in PRE_TOKENIZER_MERGES:
        vocab[left + right] = next_id
        next_id += 1
        tok["model"]["merges"].append([left, right])
    with open(path, "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    return d


def patch_converter(window_size):
    from conversion import base, qwenvl

    qwenvl.Qwen2VLModel.set_vocab = lambda self: self._set_vocab_gpt2()          # (1)
    base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "qwen2"           # (2)
    vision_params = qwenvl.Qwen2VLVisionModel.set_gguf_parameters

    def set_gguf_parameters(self):                                               # (3)
        vision_params(self)
        if window_size != 112:
            self.gguf_writer.add_uint32(WINDOW_SIZE_KEY, window_size)

    qwenvl.Qwen2VLVisionModel.set_gguf_parameters = set_gguf_parameters


def convert(converter, model_dir, outfile, outtype, mmproj):
    argv = [converter.__file__, model_dir, "--outtype", outtype, "--outfile", outfile]
    if mmproj:
        argv.append("--mmproj")
    saved = sys.argv
    sys.argv = argv
    try:
        converter.main()
    finally:
        sys.argv = saved


def main():
    llama = os.environ.get("LLAMA_CPP_DIR")
    if not llama or not os.path.isfile(os.path.join(llama, "convert_hf_to_gguf.py")):
        sys.exit("set LLAMA_CPP_DIR to a llama.cpp source tree (with convert_hf_to_gguf.py)")
    sys.path.insert(0, os.path.join(llama, "gguf-py"))  # the converter's own gguf package
    sys.path.insert(0, llama)
    import convert_hf_to_gguf as converter
    from tokenizers import Tokenizer

    with open(os.path.join(SRC, "config.json"), encoding="utf-8") as f:
        window_size = json.load(f)["vision_config"]["window_size"]
    patch_converter(window_size)
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = hub_copy(tmp)
        for outtype, suffix in (("f32", ""), ("f16", "-f16")):
            convert(converter, model_dir, os.path.join(OUT, f"text{suffix}.gguf"), outtype, False)
            convert(converter, model_dir, os.path.join(OUT, f"mmproj{suffix}.gguf"), outtype, True)
        tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        cases = [{"text": s, "ids": tok.encode(s).ids} for s in TOKENIZER_STRINGS]
    with open(os.path.join(OUT, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump({"pre_tokenizer": "qwen2", "cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
