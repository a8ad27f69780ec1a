#!/usr/bin/env python3
"""Writes tests/data/gemma3-gguf-pair/: the tiny Gemma3ForConditionalGeneration
of tests/data/gemma3-vlm as the two GGUF files llama.cpp users have (what
`llama-mtmd-cli -m text.gguf --mmproj mmproj.gguf` reads):

  text.gguf    the language model as convert_hf_to_gguf.py's Gemma3Model
               writes it (general.architecture "gemma3"): gemma3.* keys,
               llama.cpp tensor names (gguf-py tensor_mapping), every Gemma
               RMSNorm weight stored as 1 + w (Gemma3Model norm_shift), the
               vocabulary as the SentencePiece path writes it ("llama" model,
               scores, token types, special ids, add_space_prefix false);
  mmproj.gguf  the vision tower and projector as Gemma3VisionModel (an
               MmprojModel) writes them (general.architecture "clip",
               clip.projector_type "gemma3", clip.vision.* keys): v.* and mm.*
               names, mm.soft_emb_norm.weight = 1 + w (and no other norm
               shifted), mm.input_projection.weight NOT transposed (the
               (vision, text) tensor renamed) and forced to F16, the
               embeddings forced to F32 (tensor_force_quant), the rest F32
               (--outtype f32);
  mmproj-legacy-ffn.gguf  the same with the ffn names of the first gemma3
               converter (mlp.fc1 as ffn_down), which llama.cpp's clip.cpp
               still reads (is_ffn_swapped).

Sources followed (ggml-org/llama.cpp): convert_hf_to_gguf.py (Gemma3Model,
MmprojModel, Gemma3VisionModel), gguf-py/gguf/constants.py and
tensor_mapping.py (the names; mlp.fc1 -> ffn_up, mlp.fc2 -> ffn_down),
tools/mtmd/clip-impl.h and clip.cpp (what the loader and graph read).

llama.cpp's gemma3 metadata cannot state two choices of this tiny fixture:
its layer pattern (layer_types makes layer 2 global; llama-model.cpp fixes
every 6th) and query_pre_attn_scalar 24 (llama.cpp uses 1/sqrt(key_length)).
The files carry what llama.cpp would write; the test
(tests/gguf/test_gguf_gemma3_vision.c) restores those two from config.json
before comparing with transformers.

Needs numpy, safetensors and the gguf package (gguf-py). Usage:
    python3 tests/gen/make_gemma3_gguf_pair.py
"""
import json
import os
import sys

import numpy as np
from safetensors.numpy import load_file

import gguf

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "data", "gemma3-vlm")
OUT = os.path.join(HERE, "..", "data", "gemma3-gguf-pair")

# sentencepiece token types as gguf-py's TokenType
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, BYTE = 1, 2, 3, 4, 6


def f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def write_vocab(w, tok, tok_cfg):
    """The SentencePiece vocabulary as _set_vocab_sentencepiece writes it."""
    vocab = tok["model"]["vocab"]
    n = len(vocab)
    tokens = [None] * n
    for piece, i in vocab.items():
        tokens[i] = piece
    added = {a["id"]: a for a in tok["added_tokens"]}
    scores, types = [], []
    for i, piece in enumerate(tokens):
        if i in added:
            types.append(CONTROL if added[i]["special"] else USER_DEFINED)
            scores.append(-1000.0)
        elif piece == tok["model"].get("unk_token"):
            types.append(UNKNOWN)
            scores.append(0.0)
        elif len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
            types.append(BYTE)
            scores.append(0.0)
        else:
            types.append(NORMAL)
            scores.append(float(-i))
    if tokens[3] == "<unk>":
        types[3] = UNKNOWN  # sentencepiece's unk, whatever tokenizer.json says
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    ids = {t: i for i, t in enumerate(tokens)}
    w.add_bos_token_id(ids["<bos>"])
    w.add_eos_token_id(ids["<eos>"])
    w.add_unk_token_id(ids["<unk>"])
    w.add_pad_token_id(ids["<pad>"])
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(False)
    template = tok_cfg.get("chat_template")
    if template:
        w.add_chat_template(template)
    return n


def write_text(path, cfg, weights, tok, tok_cfg):
    t = cfg["text_config"]
    w = gguf.GGUFWriter(path, "gemma3")
    w.add_name("gemma3-vlm tiny (libvlm test fixture)")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_context_length(t["max_position_embeddings"])
    w.add_embedding_length(t["hidden_size"])
    w.add_block_count(t["num_hidden_layers"])
    w.add_feed_forward_length(t["intermediate_size"])
    w.add_head_count(t["num_attention_heads"])
    w.add_head_count_kv(t["num_key_value_heads"])
    w.add_layer_norm_rms_eps(t["rms_norm_eps"])
    w.add_key_length(t["head_dim"])
    w.add_value_length(t["head_dim"])
    rope = t["rope_parameters"]["full_attention"]
    w.add_rope_freq_base(rope["rope_theta"])
    w.add_sliding_window(t["sliding_window"])
    if rope.get("rope_type") == "linear":
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(rope["factor"])
    n_vocab = write_vocab(w, tok, tok_cfg)

    p = "language_model.model."
    w.add_tensor("token_embd.weight", f32(weights[p + "embed_tokens.weight"][:n_vocab]))
    names = {
        "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q",
        "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm",
        "self_attn.k_norm": "attn_k_norm", "post_attention_layernorm": "post_attention_norm",
        "pre_feedforward_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate",
        "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
        "post_feedforward_layernorm": "post_ffw_norm",
    }
    for l in range(t["num_hidden_layers"]):
        for hf, ll in names.items():
            x = weights[f"{p}layers.{l}.{hf}.weight"]
            if "norm" in hf:
                x = x + 1.0  # Gemma3Model norm_shift: Gemma3RMSNorm's 1 + w
            w.add_tensor(f"blk.{l}.{ll}.weight", f32(x))
    w.add_tensor("output_norm.weight", f32(weights[p + "norm.weight"] + 1.0))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_mmproj(path, cfg, weights, pre, legacy_ffn_names=False):
    v = cfg["vision_config"]
    w = gguf.GGUFWriter(path, "clip")
    w.add_name("gemma3-vlm tiny mmproj (libvlm test fixture)")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    # MmprojModel.set_gguf_parameters
    w.add_bool("clip.has_vision_encoder", True)
    w.add_uint32("clip.vision.projection_dim", cfg["text_config"]["hidden_size"])
    w.add_uint32("clip.vision.image_size", v["image_size"])
    w.add_uint32("clip.vision.patch_size", v["patch_size"])
    w.add_uint32("clip.vision.embedding_length", v["hidden_size"])
    w.add_uint32("clip.vision.feed_forward_length", v["intermediate_size"])
    w.add_uint32("clip.vision.block_count", v["num_hidden_layers"])
    w.add_uint32("clip.vision.attention.head_count", v["num_attention_heads"])
    w.add_array("clip.vision.image_mean", [float(x) for x in pre["image_mean"]])
    w.add_array("clip.vision.image_std", [float(x) for x in pre["image_std"]])
    # Gemma3VisionModel.set_gguf_parameters
    w.add_string("clip.projector_type", "gemma3")
    w.add_float32("clip.vision.attention.layer_norm_epsilon", v.get("layer_norm_eps", 1e-6))
    w.add_bool("clip.use_gelu", True)
    n_per_side = int(pre.get("image_seq_length", 256) ** 0.5)
    scale = (v["image_size"] // v["patch_size"]) // n_per_side
    if scale > 0 and scale != 4:
        w.add_uint32("clip.vision.projector.scale_factor", scale)

    vt = "vision_tower."
    w.add_tensor("v.patch_embd.weight", f32(weights[vt + "embeddings.patch_embedding.weight"]))
    w.add_tensor("v.patch_embd.bias", f32(weights[vt + "embeddings.patch_embedding.bias"]))
    w.add_tensor("v.position_embd.weight", f32(weights[vt + "embeddings.position_embedding.weight"]))
    names = {
        "layer_norm1": "ln1", "layer_norm2": "ln2", "self_attn.q_proj": "attn_q",
        "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
        "self_attn.out_proj": "attn_out", "mlp.fc1": "ffn_up", "mlp.fc2": "ffn_down",
    }
    if legacy_ffn_names:
        # examples/llava/gemma3_convert_encoder_to_gguf.py, the first gemma3
        # converter: fc1 -> ffn_down, fc2 -> ffn_up (clip.cpp's is_ffn_swapped)
        names["mlp.fc1"], names["mlp.fc2"] = "ffn_down", "ffn_up"
    for l in range(v["num_hidden_layers"]):
        for hf, ll in names.items():
            for kind in ("weight", "bias"):
                x = weights[f"{vt}encoder.layers.{l}.{hf}.{kind}"]
                w.add_tensor(f"v.blk.{l}.{ll}.{kind}", f32(x))
    w.add_tensor("v.post_ln.weight", f32(weights[vt + "post_layernorm.weight"]))
    w.add_tensor("v.post_ln.bias", f32(weights[vt + "post_layernorm.bias"]))
    mp = "multi_modal_projector."
    # renamed, not transposed: (vision, text), ggml ne [text, vision]; F16 forced
    w.add_tensor("mm.input_projection.weight",
                 np.ascontiguousarray(weights[mp + "mm_input_projection_weight"], dtype=np.float16))
    w.add_tensor("mm.soft_emb_norm.weight", f32(weights[mp + "mm_soft_emb_norm.weight"] + 1.0))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    def read(name):
        with open(os.path.join(SRC, name), encoding="utf-8") as f:
            return json.load(f)
    cfg, pre = read("config.json"), read("preprocessor_config.json")
    tok, tok_cfg = read("tokenizer.json"), read("tokenizer_config.json")
    weights = load_file(os.path.join(SRC, "model.safetensors"))
    os.makedirs(OUT, exist_ok=True)
    write_text(os.path.join(OUT, "text.gguf"), cfg, weights, tok, tok_cfg)
    write_mmproj(os.path.join(OUT, "mmproj.gguf"), cfg, weights, pre)
    write_mmproj(os.path.join(OUT, "mmproj-legacy-ffn.gguf"), cfg, weights, pre, True)
    for name in ("text.gguf", "mmproj.gguf", "mmproj-legacy-ffn.gguf"):
        print(name, os.path.getsize(os.path.join(OUT, name)), "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
