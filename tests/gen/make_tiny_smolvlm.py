#!/usr/bin/env python3
"""Makes tests/data/tiny-smolvlm: a random-weight Idefics3 (SmolVLM) model
with the real SmolVLM-256M-Instruct vocabulary, image tokens, processor and
chat template, and tiny hidden sizes. It is the default model of the README's
demo command and a loader fixture; its answers are nonsense by design.

usage: make_tiny_smolvlm.py SHARED_ASSETS_DIR OUT_DIR
Needs torch and transformers (fixture generation only; CI needs neither).
"""
import json
import shutil
import sys
from pathlib import Path

import torch
import transformers
from transformers import Idefics3Config, Idefics3ForConditionalGeneration

SOURCE = "HuggingFaceTB__SmolVLM-256M-Instruct"
COPIED = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
          "added_tokens.json", "chat_template.json", "preprocessor_config.json",
          "processor_config.json", "generation_config.json"]


def main():
    assets, out = Path(sys.argv[1]) / SOURCE, Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    real = json.loads((assets / "config.json").read_text())
    text = dict(real["text_config"], hidden_size=16, intermediate_size=32,
                num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                head_dim=8)
    vision = dict(real["vision_config"], hidden_size=16, intermediate_size=32,
                  num_hidden_layers=2, num_attention_heads=2)
    config = Idefics3Config(text_config=text, vision_config=vision,
                            scale_factor=real["scale_factor"],
                            image_token_id=real["image_token_id"],
                            tie_word_embeddings=real.get("tie_word_embeddings", False))
    config.architectures = real["architectures"]
    torch.manual_seed(0)
    model = Idefics3ForConditionalGeneration(config).eval()
    model.save_pretrained(out, safe_serialization=True)
    for name in COPIED:
        shutil.copy(assets / name, out / name)
    # The tensor list as the reference safetensors package reads it, for the
    # loader tests to compare against.
    from safetensors import safe_open
    with safe_open(out / "model.safetensors", "np") as f:
        listing = {name: {"shape": list(f.get_slice(name).get_shape()),
                          "dtype": f.get_slice(name).get_dtype()} for name in f.keys()}
    (out.parent / (out.name + ".tensors.json")).write_text(json.dumps(listing, indent=1, sort_keys=True))
    (out / "LICENSE-NOTE.md").write_text(
        "Tokenizer, processor, chat-template and generation files are copied from\n"
        "HuggingFaceTB/SmolVLM-256M-Instruct (Apache-2.0). The weights are random\n"
        f"(torch seed 0), made by tests/gen/make_tiny_smolvlm.py with transformers "
        f"{transformers.__version__} and torch {torch.__version__.split('+')[0]}.\n")


if __name__ == "__main__":
    main()
