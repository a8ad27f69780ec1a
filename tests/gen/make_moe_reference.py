#!/usr/bin/env python3
"""Writes tests/data/moe/routing.txt: mixture-of-experts routing cases (router
logits in, each token's experts and weights out) for tests/kernels/test_moe.c.

Run from anywhere:  python3 tests/gen/make_moe_reference.py
Needs numpy. Output is deterministic (fixed seeds).

The expected outputs come from `route` below, a numpy transcription, step by
step, of transformers' routers in float32:
  DeepseekV3TopkRouter  sigmoid, e_score_correction_bias for selection only,
                        group score = sum of the top 2, norm_topk_prob (+1e-20),
                        routed_scaling_factor
  DeepseekV2TopkRouter  softmax, greedy or group-limited (group score = max),
                        routed_scaling_factor
  Llama4Router          top-k of the raw logits, weight = sigmoid(logit)
with one deliberate difference: torch.topk leaves the order of tied values
unspecified, and here (as in kernels/ref/moe.h) ties go to the lower index.
When torch and transformers are installed, `route` is first checked against
those router modules themselves on untied random logits (the router weight
is the identity, so its logits are the input); pass --no-check to skip that.

File format: whitespace-separated tokens; lines starting with '#' are
comments. Per case:
  case NAME
  tokens T experts E top_k K scoring softmax|sigmoid|sigmoid_of_topk
  groups G topk_groups TG group_score max|top2_sum norm 0|1 scale S bias 0|1
  [bias E floats]  logits T*E floats  experts T*K ints  weights T*K floats
  end
Floats are written with 9 significant digits, so they read back as the same
float32 values.
"""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "moe"

f32 = np.float32


def top_indices(values, k):
    """The k largest of values (1-D), descending, ties to the lower index;
    -inf entries are never chosen while enough others remain."""
    order = np.argsort(-values, kind="stable")
    return order[:k]


def route(logits, top_k, scoring, bias=None, groups=1, topk_groups=1,
          group_score="max", norm=False, scale=1.0):
    """logits (T, E) float32 -> experts (T, K) int, weights (T, K) float32."""
    logits = logits.astype(f32)
    T, E = logits.shape
    experts = np.zeros((T, top_k), dtype=np.int64)
    weights = np.zeros((T, top_k), dtype=f32)
    for t in range(T):
        x = logits[t]
        # 1. scores (f32 throughout, as the routers compute them)
        if scoring == "softmax":
            e = np.exp(x - x.max(), dtype=f32)
            scores = (e / e.sum(dtype=f32)).astype(f32)
        elif scoring == "sigmoid":
            scores = (f32(1) / (f32(1) + np.exp(-x, dtype=f32))).astype(f32)
        else:  # sigmoid_of_topk: Llama 4 selects on the logits
            scores = x.copy()
        # 2. selection values
        choice = (scores + bias).astype(f32) if bias is not None else scores.copy()
        # 3. group-limited: drop all but the topk_groups best groups
        if groups > 1:
            g = choice.reshape(groups, E // groups)
            if group_score == "max":
                gs = g.max(axis=1)
            else:  # sum of the top 2 (topk(2).sum)
                top2 = -np.sort(-g, axis=1)[:, :2]
                gs = (top2[:, 0] + top2[:, 1]).astype(f32)
            kept = top_indices(gs, topk_groups)
            mask = np.zeros(groups, dtype=bool)
            mask[kept] = True
            choice = np.where(np.repeat(mask, E // groups), choice, f32(-np.inf)).astype(f32)
        # 4, 5. top-k; weights from the unbiased scores
        idx = top_indices(choice, top_k)
        w = scores[idx].astype(f32)
        if scoring == "sigmoid_of_topk":
            w = (f32(1) / (f32(1) + np.exp(-w, dtype=f32))).astype(f32)
        # 6. norm_topk_prob, summed in the chosen order
        if norm:
            s = f32(0)
            for v in w:
                s = f32(s + v)
            w = (w / f32(s + f32(1e-20))).astype(f32)
        # 7. routed_scaling_factor
        w = (w * f32(scale)).astype(f32)
        experts[t] = idx
        weights[t] = w
    return experts, weights


# ---- the cases --------------------------------------------------------------

def cases():
    rng = np.random.default_rng(20261127)
    out = []

    def add(name, logits, top_k, scoring, **kw):
        out.append((name, logits.astype(f32), top_k, scoring, kw))

    # DeepSeek-V3 / Kimi-VL: 16 experts in 4 groups, 2 kept, top 4
    bias = (rng.standard_normal(16) * 0.1).astype(f32)
    add("deepseek_v3", rng.standard_normal((9, 16)) * 2, 4, "sigmoid", bias=bias,
        groups=4, topk_groups=2, group_score="top2_sum", norm=True, scale=2.5)
    # the same without the bias and with one group (plain top-k)
    add("deepseek_v3_flat", rng.standard_normal((5, 16)) * 2, 6, "sigmoid",
        norm=True, scale=1.0)
    # ties: logits from a few values, so scores, group sums and picks tie
    tied = rng.integers(-2, 3, size=(12, 16)).astype(f32) * f32(0.5)
    tied[0] = 1.0                     # everything equal
    tied[1, :8] = tied[1, 8:]         # groups 0,1 equal groups 2,3
    tied_bias = np.tile(np.array([0.0, 0.25, 0.0, -0.25], dtype=f32), 4)
    add("deepseek_v3_ties", tied, 4, "sigmoid", bias=tied_bias, groups=4, topk_groups=2,
        group_score="top2_sum", norm=True, scale=2.5)
    add("deepseek_v3_ties_nobias", tied, 3, "sigmoid", groups=8, topk_groups=3,
        group_score="top2_sum", norm=True, scale=1.5)
    # DeepSeek-V2 / DeepSeek-VL2: softmax, greedy and group-limited (max)
    add("deepseek_v2_greedy", rng.standard_normal((7, 12)) * 3, 3, "softmax", scale=16.0)
    add("deepseek_v2_groups", rng.standard_normal((7, 16)) * 3, 4, "softmax", groups=4,
        topk_groups=2, group_score="max", scale=1.0)
    add("deepseek_v2_ties", tied, 4, "softmax", groups=4, topk_groups=3, group_score="max")
    # Mixtral / Qwen-MoE: softmax, top-k, renormalized
    add("softmax_norm", rng.standard_normal((6, 8)) * 2, 2, "softmax", norm=True)
    # Llama 4: top-1 (and top-2) of the logits, sigmoid weights
    add("llama4", rng.standard_normal((8, 16)) * 2, 1, "sigmoid_of_topk")
    llama_ties = tied.copy()
    llama_ties[2, 3] = 30.0
    llama_ties[2, 5] = 31.0           # sigmoid ties at 1.0f, the logits do not
    add("llama4_ties", llama_ties, 2, "sigmoid_of_topk")
    return out


# ---- the check against transformers ------------------------------------------

def check_against_transformers():
    try:
        import torch
        from transformers import DeepseekV2Config, DeepseekV3Config, Llama4TextConfig
        from transformers.models.deepseek_v2.modeling_deepseek_v2 import DeepseekV2TopkRouter
        from transformers.models.deepseek_v3.modeling_deepseek_v3 import DeepseekV3TopkRouter
        from transformers.models.llama4.modeling_llama4 import Llama4Router
    except ImportError as e:
        print(f"skipping the transformers check ({e})")
        return
    rng = np.random.default_rng(7)
    E, T = 16, 64
    heads = dict(num_attention_heads=1, num_key_value_heads=1)

    def compare(name, mine, theirs_idx, theirs_w):
        ti = theirs_idx.numpy()
        tw = theirs_w.detach().float().numpy()
        for t in range(T):
            # torch returns the chosen experts unsorted: compare as sets
            got = dict(zip(mine[0][t].tolist(), mine[1][t].tolist()))
            want = dict(zip(ti[t].tolist(), tw[t].tolist()))
            assert set(got) == set(want), (name, t, got, want)
            for e in got:  # the C test's tolerance, relative above 1
                assert abs(got[e] - want[e]) <= 1e-6 * max(1.0, abs(want[e])), \
                    (name, t, e, got[e], want[e])

    x = (rng.standard_normal((T, E)) * 2).astype(f32)
    eye = torch.eye(E)
    with torch.no_grad():
        c = DeepseekV3Config(hidden_size=E, n_routed_experts=E, num_experts_per_tok=4, n_group=4,
                             topk_group=2, norm_topk_prob=True, routed_scaling_factor=2.5,
                             **heads)
        r = DeepseekV3TopkRouter(c)
        r.weight.copy_(eye)
        bias = (rng.standard_normal(E) * 0.1).astype(f32)
        r.e_score_correction_bias.copy_(torch.from_numpy(bias))
        _, w, i = r(torch.from_numpy(x))
        compare("v3", route(x, 4, "sigmoid", bias=bias, groups=4, topk_groups=2,
                            group_score="top2_sum", norm=True, scale=2.5), i, w)

        c = DeepseekV2Config(hidden_size=E, n_routed_experts=E, num_experts_per_tok=3, n_group=4,
                             topk_group=2, topk_method="group_limited_greedy",
                             routed_scaling_factor=16.0, **heads)
        r = DeepseekV2TopkRouter(c)
        r.weight.copy_(eye)
        _, w, i = r(torch.from_numpy(x))
        compare("v2 groups", route(x, 3, "softmax", groups=4, topk_groups=2,
                                   group_score="max", scale=16.0), i, w)
        r.topk_method = "greedy"
        _, w, i = r(torch.from_numpy(x))
        compare("v2 greedy", route(x, 3, "softmax", scale=16.0), i, w)

        c = Llama4TextConfig(hidden_size=E, num_local_experts=E, num_experts_per_tok=2, **heads)
        r = Llama4Router(c)
        r.weight.copy_(eye)
        scores, _ = r(torch.from_numpy(x))
        i = torch.topk(scores, 2, dim=1).indices
        w = scores.gather(1, i)
        compare("llama4", route(x, 2, "sigmoid_of_topk"), i, w)
    print("route() agrees with transformers' DeepseekV3, DeepseekV2 and Llama4 routers")


# ---- writing ------------------------------------------------------------------

def fmt(values):
    return " ".join(format(float(v), ".9g") for v in np.asarray(values).ravel())


def main():
    if "--no-check" not in sys.argv:
        check_against_transformers()
    OUT.mkdir(parents=True, exist_ok=True)
    lines = ["# Written by tests/gen/make_moe_reference.py; see its docstring for the format."]
    for name, logits, top_k, scoring, kw in cases():
        experts, weights = route(logits, top_k, scoring, **kw)
        T, E = logits.shape
        bias = kw.get("bias")
        lines.append(f"case {name}")
        lines.append(f"tokens {T} experts {E} top_k {top_k} scoring {scoring} "
                     f"groups {kw.get('groups', 1)} topk_groups {kw.get('topk_groups', 1)} "
                     f"group_score {kw.get('group_score', 'max')} norm {int(kw.get('norm', False))} "
                     f"scale {format(float(kw.get('scale', 1.0)), '.9g')} "
                     f"bias {int(bias is not None)}")
        if bias is not None:
            lines.append(fmt(bias))
        for t in range(T):
            lines.append(fmt(logits[t]))
        for t in range(T):
            lines.append(" ".join(str(int(e)) for e in experts[t]))
        for t in range(T):
            lines.append(fmt(weights[t]))
        lines.append("end")
    (OUT / "routing.txt").write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT / 'routing.txt'}")


if __name__ == "__main__":
    main()
