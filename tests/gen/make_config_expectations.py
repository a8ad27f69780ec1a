#!/usr/bin/env python3
"""Writes tests/data/model/config_expectations.txt: the values the hub-config
parser must produce for the real SmolVLM-256M, Qwen2.5-VL-3B and gemma-3-4b-it
files, as Python's json module reads them.

Keys a file leaves out take the defaults of the transformers configuration
classes, restated here from their __init__ signatures (independently of the C
tables), so the C test checks the lookup, the fallbacks and the defaults.

Usage (from the repository root):
    python3 tests/gen/make_config_expectations.py [SHARED_ASSETS_DIR]
SHARED_ASSETS_DIR holds google__gemma-3-4b-it (Gemma files are not copied into
the repository); without it the Gemma section is left out.

Output: one "model<TAB>key<TAB>value" line per value. Integers in decimal,
floats as repr(), booleans true/false, lists comma-separated, None as (null),
long texts (chat templates) as "len=N fnv1a64=HEX" of their UTF-8 bytes.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "model")
OUT = os.path.join(DATA, "config_expectations.txt")

# transformers class defaults (from each class's __init__ signature)
LLAMA_TEXT = dict(vocab_size=32000, hidden_size=4096, intermediate_size=11008,
                  num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=None,
                  head_dim=None, rms_norm_eps=1e-6, max_position_embeddings=2048,
                  tie_word_embeddings=False, hidden_act="silu", rope_theta=10000.0)
GEMMA3_TEXT = dict(vocab_size=262208, hidden_size=2304, intermediate_size=9216,
                   num_hidden_layers=26, num_attention_heads=8, num_key_value_heads=4,
                   head_dim=256, rms_norm_eps=1e-6, max_position_embeddings=131072,
                   tie_word_embeddings=True, hidden_act="gelu_pytorch_tanh",
                   rope_theta=1000000.0, sliding_window=4096, sliding_window_pattern=6,
                   rope_local_base_freq=10000.0, query_pre_attn_scalar=256)
QWEN25VL_TEXT = dict(vocab_size=152064, hidden_size=8192, intermediate_size=29568,
                     num_hidden_layers=80, num_attention_heads=64, num_key_value_heads=8,
                     head_dim=None, rms_norm_eps=1e-5, max_position_embeddings=32768,
                     tie_word_embeddings=False, hidden_act="silu", rope_theta=1000000.0,
                     use_sliding_window=False, sliding_window=4096, max_window_layers=80)
IDEFICS3_VISION = dict(hidden_size=1152, intermediate_size=3072, num_hidden_layers=12,
                       num_attention_heads=16, image_size=224, patch_size=32,
                       layer_norm_eps=1e-6, hidden_act="gelu_pytorch_tanh")
SIGLIP_VISION = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                     num_attention_heads=12, image_size=224, patch_size=16,
                     layer_norm_eps=1e-6, hidden_act="gelu_pytorch_tanh")
QWEN25VL_VISION = dict(depth=32, hidden_size=3584, hidden_act="silu", intermediate_size=3420,
                       num_heads=16, patch_size=14, spatial_merge_size=2,
                       temporal_patch_size=2, tokens_per_second=4, window_size=112,
                       out_hidden_size=3584, fullatt_block_indexes=[7, 15, 23, 31])
FAMILY = {
    "idefics3": dict(text=LLAMA_TEXT, vision=IDEFICS3_VISION, image_token_id=128257,
                     scale_factor=2),
    "gemma3": dict(text=GEMMA3_TEXT, vision=SIGLIP_VISION, image_token_index=262144,
                   boi_token_index=255999, eoi_token_index=256000, mm_tokens_per_image=256),
    "qwen2_5_vl": dict(text=QWEN25VL_TEXT, vision=QWEN25VL_VISION, image_token_id=151655,
                       video_token_id=151656, vision_start_token_id=151652,
                       vision_end_token_id=151653),
}
GENERATION_DEFAULTS = dict(max_length=20, do_sample=False, temperature=1.0, top_k=50,
                           top_p=1.0, repetition_penalty=1.0)
PROCESSOR_DEFAULTS = {
    "Idefics3ImageProcessor": dict(do_convert_rgb=True, do_resize=True,
                                   size={"longest_edge": 1456},
                                   max_image_size={"longest_edge": 364}, resample=1,
                                   do_image_splitting=True, do_rescale=True,
                                   rescale_factor=1 / 255, do_normalize=True,
                                   image_mean=[0.5] * 3, image_std=[0.5] * 3, do_pad=True,
                                   image_seq_len=169),
    "Qwen2VLImageProcessor": dict(do_resize=True, resample=3, do_rescale=True,
                                  rescale_factor=1 / 255, do_normalize=True,
                                  image_mean=[0.48145466, 0.4578275, 0.40821073],
                                  image_std=[0.26862954, 0.26130258, 0.27577711],
                                  do_convert_rgb=True, min_pixels=56 * 56,
                                  max_pixels=28 * 28 * 1280, patch_size=14,
                                  temporal_patch_size=2, merge_size=2),
    "Gemma3ImageProcessor": dict(do_resize=True, size={"height": 224, "width": 224},
                                 resample=2, do_rescale=True, rescale_factor=1 / 255,
                                 do_normalize=True, image_mean=[0.5] * 3,
                                 image_std=[0.5] * 3, do_convert_rgb=True,
                                 do_pan_and_scan=False, pan_and_scan_min_crop_size=256,
                                 pan_and_scan_max_num_crops=4,
                                 pan_and_scan_min_ratio_to_activate=1.2,
                                 image_seq_len=256),
}


def fmt(value):
    if value is None:
        return "(null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(fmt(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str) and (len(value) > 80 or any(c in value for c in "\t\n")):
        data = value.encode("utf-8")
        h = 0xCBF29CE484222325
        for b in data:
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        return "len=%d fnv1a64=%016x" % (len(data), h)
    return str(value)


def load(directory, name):
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def first(*values):
    for v in values:
        if v is not None:
            return v
    return None


def model_lines(cfg):
    out = {}
    fam = FAMILY[cfg["model_type"]]
    tc = cfg.get("text_config")
    td = fam["text"]

    def text(key, default_key=None):
        # text_config first, then the top level (older flat configs), then the class default
        inner = tc.get(key) if tc else None
        return first(inner, cfg.get(key), td.get(default_key or key))

    out["architecture"] = cfg["architectures"][0]
    out["model_type"] = cfg["model_type"]
    out["dtype"] = first(cfg.get("dtype"), cfg.get("torch_dtype"))
    for key in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                "num_attention_heads", "rms_norm_eps", "max_position_embeddings",
                "tie_word_embeddings"):
        out["text." + key] = text(key)
    heads = out["text.num_attention_heads"]
    out["text.num_key_value_heads"] = first(text("num_key_value_heads"), heads)
    out["text.head_dim"] = first(text("head_dim"), out["text.hidden_size"] // heads)
    out["text.hidden_act"] = first(text("hidden_act"), text("hidden_activation", "hidden_act"))
    scaling = text("rope_scaling", "-") or {}
    out["text.rope.theta"] = float(text("rope_theta"))
    out["text.rope.type"] = first(scaling.get("rope_type"), scaling.get("type"), "default")
    out["text.rope.factor"] = float(scaling.get("factor", 1.0))
    out["text.rope.mrope_section"] = scaling.get("mrope_section", [])
    layers = out["text.num_hidden_layers"]
    if cfg["model_type"] == "gemma3":
        pattern = text("sliding_window_pattern")
        sliding = [int((i + 1) % pattern != 0) for i in range(layers)]
        out["text.sliding_window"] = text("sliding_window")
    elif cfg["model_type"] == "qwen2_5_vl":
        use = text("use_sliding_window")
        window = text("sliding_window") if use else 0
        sliding = [int(bool(window) and i >= text("max_window_layers")) for i in range(layers)]
        out["text.sliding_window"] = window
    else:
        sliding = [0] * layers
        out["text.sliding_window"] = 0
    out["text.layer_is_sliding"] = "".join(str(s) for s in sliding)
    out["text.rope_local_base_freq"] = float(text("rope_local_base_freq") or 0.0)
    out["text.query_pre_attn_scalar"] = float(text("query_pre_attn_scalar") or 0.0)
    out["text.final_logit_softcapping"] = float(text("final_logit_softcapping") or 0.0)
    out["text.attn_logit_softcapping"] = float(text("attn_logit_softcapping") or 0.0)
    out["text.bos_token_id"] = first(text("bos_token_id"), -1)
    eos = text("eos_token_id")
    out["text.eos_token_ids"] = [] if eos is None else (eos if isinstance(eos, list) else [eos])
    out["text.pad_token_id"] = first(text("pad_token_id"), -1)

    vc = cfg.get("vision_config") or {}
    vd = fam["vision"]

    def vision(key, alias=None):
        return first(vc.get(key), vc.get(alias) if alias else None, vd.get(key),
                     vd.get(alias) if alias else None)

    for key in ("hidden_size", "intermediate_size", "patch_size", "hidden_act"):
        out["vision." + key] = vision(key)
    out["vision.num_hidden_layers"] = vision("num_hidden_layers", "depth")
    out["vision.num_attention_heads"] = vision("num_attention_heads", "num_heads")
    out["vision.image_size"] = first(vision("image_size"), 0)
    out["vision.layer_norm_eps"] = float(first(vision("layer_norm_eps"), 1e-6))
    for key in ("spatial_merge_size", "temporal_patch_size", "window_size", "out_hidden_size",
                "tokens_per_second"):
        out["vision." + key] = first(vision(key), 0)
    out["vision.fullatt_block_indexes"] = first(vision("fullatt_block_indexes"), [])

    def top(key, alias=None):
        return first(cfg.get(key), cfg.get(alias) if alias else None, fam.get(key),
                     fam.get(alias) if alias else None, -1)

    out["image_token_id"] = top("image_token_id", "image_token_index")
    out["video_token_id"] = top("video_token_id")
    out["vision_start_token_id"] = top("vision_start_token_id")
    out["vision_end_token_id"] = top("vision_end_token_id")
    out["boi_token_id"] = top("boi_token_index")
    out["eoi_token_id"] = top("eoi_token_index")
    out["scale_factor"] = max(top("scale_factor"), 0)
    out["mm_tokens_per_image"] = max(top("mm_tokens_per_image"), 0)
    return out


def processor_lines(pre, proc):
    out = {}
    d = dict(PROCESSOR_DEFAULTS[pre["image_processor_type"]])
    merged = dict(d)
    merged.update({k: v for k, v in pre.items() if v is not None})
    out["processor.image_processor_type"] = pre["image_processor_type"]
    for key in ("do_resize", "resample", "do_rescale", "rescale_factor", "do_normalize",
                "image_mean", "image_std", "do_convert_rgb"):
        out["processor." + key] = merged.get(key)
    out["processor.rescale_factor"] = float(merged["rescale_factor"])
    for key in ("do_image_splitting", "do_pad", "do_pan_and_scan"):
        out["processor." + key] = merged.get(key, False)
    size = merged.get("size", {})
    if pre["image_processor_type"] == "Qwen2VLImageProcessor":
        size = {"shortest_edge": merged["min_pixels"], "longest_edge": merged["max_pixels"]}
    for key in ("longest_edge", "shortest_edge", "height", "width"):
        out["processor.size." + key] = size.get(key, 0)
    out["processor.max_image_size.longest_edge"] = merged.get("max_image_size", {}).get(
        "longest_edge", 0)
    seq = first(proc.get("image_seq_len") if proc else None,
                proc.get("image_seq_length") if proc else None,
                merged.get("image_seq_len"), merged.get("image_seq_length"), 0)
    out["processor.image_seq_len"] = seq
    for key in ("min_pixels", "max_pixels", "patch_size", "temporal_patch_size", "merge_size",
                "pan_and_scan_min_crop_size", "pan_and_scan_max_num_crops"):
        out["processor." + key] = merged.get(key, 0)
    out["processor.pan_and_scan_min_ratio_to_activate"] = float(
        merged.get("pan_and_scan_min_ratio_to_activate", 0.0))
    return out


def generation_lines(gen):
    out = {}
    merged = dict(GENERATION_DEFAULTS)
    merged.update({k: v for k, v in gen.items() if v is not None})
    out["generation.bos_token_id"] = merged.get("bos_token_id", -1)
    eos = merged.get("eos_token_id")
    out["generation.eos_token_ids"] = [] if eos is None else (
        eos if isinstance(eos, list) else [eos])
    out["generation.pad_token_id"] = merged.get("pad_token_id", -1)
    for key in ("max_length", "do_sample", "top_k"):
        out["generation." + key] = merged[key]
    for key in ("temperature", "top_p", "repetition_penalty"):
        out["generation." + key] = float(merged[key])
    return out


def tokenizer_lines(tok, template_json):
    out = {}

    def token(key):
        v = tok.get(key)
        return v.get("content") if isinstance(v, dict) else v

    for key in ("bos_token", "eos_token", "pad_token", "unk_token"):
        out["tokenizer." + key] = token(key)
    add_bos = tok.get("add_bos_token")
    out["tokenizer.add_bos_token"] = -1 if add_bos is None else int(add_bos)
    mml = tok.get("model_max_length")
    out["tokenizer.model_max_length"] = 2**63 - 1 if mml is None else min(int(mml), 2**63 - 1)
    out["tokenizer.tokenizer_class"] = tok.get("tokenizer_class") or ""
    # processor precedence: chat_template.json over tokenizer_config.json
    if template_json is not None:
        out["tokenizer.chat_template"] = template_json["chat_template"]
        out["tokenizer.chat_template_source"] = "chat_template.json"
    else:
        out["tokenizer.chat_template"] = tok.get("chat_template")
        out["tokenizer.chat_template_source"] = "tokenizer_config.json"
    return out


def model_dir_lines(name, directory):
    lines = []
    values = model_lines(load(directory, "config.json"))
    pre = load(directory, "preprocessor_config.json")
    if pre is not None:
        values.update(processor_lines(pre, load(directory, "processor_config.json")))
    gen = load(directory, "generation_config.json")
    if gen is not None:
        values.update(generation_lines(gen))
    tok = load(directory, "tokenizer_config.json")
    if tok is not None:
        values.update(tokenizer_lines(tok, load(directory, "chat_template.json")))
    for key, value in values.items():
        lines.append("%s\t%s\t%s" % (name, key, fmt(value)))
    return lines


def main():
    lines = ["# generated by tests/gen/make_config_expectations.py; do not edit"]
    lines += model_dir_lines("smolvlm-256m", os.path.join(DATA, "smolvlm-256m"))
    lines += model_dir_lines("qwen2.5-vl-3b", os.path.join(DATA, "qwen2.5-vl-3b"))
    shared = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("VLM_SHARED_ASSETS")
    gemma = os.path.join(shared, "google__gemma-3-4b-it") if shared else None
    if gemma and os.path.isdir(gemma):
        lines += model_dir_lines("gemma-3-4b-it", gemma)
    else:
        print("note: no gemma-3-4b-it directory; its expectations are left out",
              file=sys.stderr)
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %d expectations to %s" % (len(lines) - 1, os.path.relpath(OUT)))


if __name__ == "__main__":
    main()
