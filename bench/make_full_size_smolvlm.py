#!/usr/bin/env python3
"""Writes a full-size random-weight SmolVLM-256M-Instruct model directory for
memory and speed measurements (see bench/README.md). Not a fixture: the
directory is ~0.5 GB and is never committed.

usage: make_full_size_smolvlm.py ASSETS_DIR OUT_DIR [--seed N]

ASSETS_DIR holds HuggingFaceTB__SmolVLM-256M-Instruct/ with the real config,
tokenizer and processor files (all but the weights); they are copied as they
are. The weights get the real names, shapes and dtype (BF16 everywhere, as
the released checkpoint): normal(0, 0.02) matrices, unit norm weights, zero
biases. Needs numpy and the safetensors package only (no torch): numpy has
no bfloat16, so the f32 randoms are rounded to BF16 bit patterns here and
written through safetensors.serialize_file.
Tested with numpy 2.4 and safetensors 0.8.
"""
import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import safetensors

SOURCE = "HuggingFaceTB__SmolVLM-256M-Instruct"
COPIED = ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
          "added_tokens.json", "chat_template.json", "preprocessor_config.json",
          "processor_config.json", "generation_config.json"]


def tensor_shapes(config):
    """name -> (shape, kind) for every tensor of Idefics3ForConditionalGeneration."""
    t, v = config["text_config"], config["vision_config"]
    d, ffn, vocab = t["hidden_size"], t["intermediate_size"], config.get("vocab_size", t["vocab_size"])
    head_dim = t.get("head_dim", d // t["num_attention_heads"])
    q_dim, kv_dim = t["num_attention_heads"] * head_dim, t["num_key_value_heads"] * head_dim
    out = {"model.text_model.embed_tokens.weight": ((vocab, d), "matrix"),
           "model.text_model.norm.weight": ((d,), "ones")}
    for layer in range(t["num_hidden_layers"]):
        p = f"model.text_model.layers.{layer}."
        out.update({
            p + "input_layernorm.weight": ((d,), "ones"),
            p + "post_attention_layernorm.weight": ((d,), "ones"),
            p + "self_attn.q_proj.weight": ((q_dim, d), "matrix"),
            p + "self_attn.k_proj.weight": ((kv_dim, d), "matrix"),
            p + "self_attn.v_proj.weight": ((kv_dim, d), "matrix"),
            p + "self_attn.o_proj.weight": ((d, q_dim), "matrix"),
            p + "mlp.gate_proj.weight": ((ffn, d), "matrix"),
            p + "mlp.up_proj.weight": ((ffn, d), "matrix"),
            p + "mlp.down_proj.weight": ((d, ffn), "matrix"),
        })
    if not config.get("tie_word_embeddings", False):
        out["lm_head.weight"] = ((vocab, d), "matrix")

    vd, vffn, patch = v["hidden_size"], v["intermediate_size"], v["patch_size"]
    n_patches = (v["image_size"] // patch) ** 2
    p = "model.vision_model."
    out.update({
        p + "embeddings.patch_embedding.weight": ((vd, v.get("num_channels", 3), patch, patch), "matrix"),
        p + "embeddings.patch_embedding.bias": ((vd,), "zeros"),
        p + "embeddings.position_embedding.weight": ((n_patches, vd), "matrix"),
        p + "post_layernorm.weight": ((vd,), "ones"),
        p + "post_layernorm.bias": ((vd,), "zeros"),
    })
    for layer in range(v["num_hidden_layers"]):
        q = f"{p}encoder.layers.{layer}."
        for norm in ("layer_norm1", "layer_norm2"):
            out[q + norm + ".weight"] = ((vd,), "ones")
            out[q + norm + ".bias"] = ((vd,), "zeros")
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            out[q + f"self_attn.{proj}.weight"] = ((vd, vd), "matrix")
            out[q + f"self_attn.{proj}.bias"] = ((vd,), "zeros")
        out[q + "mlp.fc1.weight"] = ((vffn, vd), "matrix")
        out[q + "mlp.fc1.bias"] = ((vffn,), "zeros")
        out[q + "mlp.fc2.weight"] = ((vd, vffn), "matrix")
        out[q + "mlp.fc2.bias"] = ((vd,), "zeros")
    scale = config["scale_factor"]
    out["model.connector.modality_projection.proj.weight"] = ((d, vd * scale * scale), "matrix")
    return out


def bf16(x):
    """f32 array -> BF16 bit patterns (uint16), rounded to nearest even."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype("<u2")


def spec(array, shape):
    """One tensor for serialize_file: a TensorSpec in safetensors >= 0.8
    (which points at array's memory: keep it alive), a dict before."""
    if hasattr(safetensors, "TensorSpec"):
        return safetensors.TensorSpec(dtype="bfloat16", shape=list(shape),
                                      data_ptr=array.ctypes.data, data_len=array.nbytes)
    return {"dtype": "bfloat16", "shape": list(shape), "data": array.tobytes()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("assets")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    assets, out = Path(args.assets) / SOURCE, Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        if (assets / name).exists():
            shutil.copyfile(assets / name, out / name)
    config = json.loads((assets / "config.json").read_text())

    rng = np.random.default_rng(args.seed)
    tensors, arrays, n_params = {}, [], 0
    for name, (shape, kind) in sorted(tensor_shapes(config).items()):
        n = int(np.prod(shape))
        n_params += n
        if kind == "matrix":
            values = rng.standard_normal(n, dtype=np.float32) * np.float32(0.02)
        elif kind == "ones":
            values = np.ones(n, dtype=np.float32)
        else:
            values = np.zeros(n, dtype=np.float32)
        arrays.append(bf16(values))
        tensors[name] = spec(arrays[-1], shape)
    safetensors.serialize_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    print(f"{out}: {len(tensors)} tensors, {n_params / 1e6:.1f} M parameters (BF16)")


if __name__ == "__main__":
    main()
