#!/usr/bin/env python3
"""Makes fuzz/corpus/gguf_hub: one small valid libvlm GGUF file per family,
written by vlm-quantize from a shrunk copy of a test fixture (the fixture's
config with smaller sizes, random weights, its tokenizer and processor
files). Each is a whole model vlm_model_load accepts, so the fuzzer starts
from inputs that reach the binders; at a few tens of KB each, it mutates them
at a useful speed.

usage: make_gguf_hub_seeds.py VLM_QUANTIZE TEST_DATA_DIR OUT_DIR
Needs torch and transformers (seed generation only; the replay needs neither).
"""
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import transformers

# The hub files copied beside the weights when the fixture has them.
HUB_FILES = ["tokenizer.json", "tokenizer_config.json", "chat_template.json",
             "preprocessor_config.json", "processor_config.json", "generation_config.json"]

GEMMA3_TEXT = dict(hidden_size=32, intermediate_size=32, head_dim=16, num_attention_heads=2,
                   num_key_value_heads=1, num_hidden_layers=2,
                   layer_types=["sliding_attention", "full_attention"])

# (seed name, fixture directory, config overrides, extra hub files to drop, quantize type)
SEEDS = [
    ("gemma3_text_q4_0", "gemma3/model", GEMMA3_TEXT, [], "q4_0"),
    ("gemma3_vlm_q8_0", "gemma3-vlm",
     {"text_config": GEMMA3_TEXT,
      "vision_config": dict(hidden_size=16, intermediate_size=16, num_hidden_layers=1,
                            num_attention_heads=2, image_size=28, patch_size=7)},
     [], "q8_0"),
    ("qwen2_5_vl_q4_0", "qwen2_5_vl-model",
     {"text_config": dict(hidden_size=32, intermediate_size=32, num_attention_heads=2,
                          num_key_value_heads=1, num_hidden_layers=1,
                          layer_types=["full_attention"], max_window_layers=1),
      "vision_config": dict(depth=2, fullatt_block_indexes=[1], hidden_size=16,
                            intermediate_size=16, num_heads=2, out_hidden_size=32)},
     [], "q4_0"),
    # SmolVLM's real vocabulary (49k tokens) would make a large file: here a
    # 64-token model without tokenizer files (the tokenizer is optional).
    ("smolvlm_f16", "tiny-smolvlm",
     {"image_token_id": 63,
      "text_config": dict(vocab_size=64, hidden_size=16, intermediate_size=16, head_dim=8,
                          num_attention_heads=2, num_key_value_heads=1, num_hidden_layers=1,
                          pad_token_id=2),
      "vision_config": dict(hidden_size=16, intermediate_size=16, num_hidden_layers=1,
                            num_attention_heads=2)},
     ["tokenizer.json", "tokenizer_config.json", "chat_template.json"], "f16"),
]


def merge(config, overrides):
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            merge(config[key], value)
        else:
            config[key] = value


def shrink(fixture, overrides, dropped, out):
    config = json.loads((fixture / "config.json").read_text())
    merge(config, overrides)
    (out / "config.json").write_text(json.dumps(config))
    hf_config = transformers.AutoConfig.from_pretrained(out)
    torch.manual_seed(0)
    model = getattr(transformers, hf_config.architectures[0])(hf_config).eval()
    model.save_pretrained(out, safe_serialization=True)
    for name in HUB_FILES:
        if (fixture / name).exists() and name not in dropped:
            shutil.copy(fixture / name, out / name)
    vision = overrides.get("vision_config", {})
    preprocessor = out / "preprocessor_config.json"
    if "image_size" in vision and preprocessor.exists():
        # the processor's picture size follows the shrunk vision tower
        p = json.loads(preprocessor.read_text())
        p["size"] = {"height": vision["image_size"], "width": vision["image_size"]}
        preprocessor.write_text(json.dumps(p, indent=2))


def main():
    quantize, data, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    for name, fixture, overrides, dropped, qtype in SEEDS:
        with tempfile.TemporaryDirectory() as hub:
            shrink(data / fixture, overrides, dropped, Path(hub))
            subprocess.run([quantize, hub, str(out / (name + ".gguf")), "--type", qtype],
                           check=True, stdout=subprocess.DEVNULL)
        print(name, (out / (name + ".gguf")).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
