#!/usr/bin/env bash
# libvlm and llama.cpp side by side on the full-size random-weight
# SmolVLM-256M (issue 5): the same machine, the same threads, the two engines
# alternated REPS times so that both see the same load; prints the medians
# as a markdown table and keeps every log.
#
#   LLAMA_CPP_DIR=... LLAMA_CPP_BIN=... [SHARED_ASSETS=...] \
#       bench/llama_cpp_side_by_side.sh WORK_DIR
#
# WORK_DIR       scratch space (~2 GB): the BF16 hub directory, the GGUF
#                conversions, the photo and the logs (WORK_DIR/logs).
# LLAMA_CPP_DIR  llama.cpp source tree (convert_hf_to_gguf.py, gguf-py).
# LLAMA_CPP_BIN  folder holding llama-bench and llama-mtmd-cli (a Release
#                build, e.g. cmake -DGGML_NATIVE=ON, CPU only).
# SHARED_ASSETS  folder holding HuggingFaceTB__SmolVLM-256M-Instruct, read by
#                bench/make_full_size_smolvlm.py (only if MODEL_DIR is absent).
# MODEL_DIR      the BF16 hub directory (default WORK_DIR/smolvlm-256m-random).
# VLM_BENCH      vlm-bench (default build-rel/examples/vlm-bench/vlm-bench,
#                from meson setup build-rel --buildtype=release).
# VLM_QUANTIZE   vlm-quantize (default build-rel/examples/vlm-quantize/vlm-quantize):
#                makes WORK_DIR/libvlm-q8_0.gguf (text and vision Q8_0), the
#                libvlm column to set against llama.cpp's q8_0.
# THREADS (2), REPS (3), N_PROMPT (512), N_GEN (64).
# PARTS          "text vision" (default) or "text": which runs to make.
# NICE           run both engines under nice -n NICE (e.g. -10 as root, to
#                measure past other jobs on a shared machine; default: not).
#
# Run from the libvlm source root. Needs python3 with numpy, safetensors,
# torch and transformers (llama.cpp's converter), pillow; /usr/bin/time.
set -euo pipefail

work=${1:?usage: $0 WORK_DIR (see the header)}
: "${LLAMA_CPP_BIN:?set LLAMA_CPP_BIN to the folder holding llama-bench and llama-mtmd-cli}"
threads=${THREADS:-2}
reps=${REPS:-3}
n_prompt=${N_PROMPT:-512}
n_gen=${N_GEN:-64}
model=${MODEL_DIR:-$work/smolvlm-256m-random}
vlm_bench=${VLM_BENCH:-build-rel/examples/vlm-bench/vlm-bench}
vlm_quantize=${VLM_QUANTIZE:-build-rel/examples/vlm-quantize/vlm-quantize}
logs=$work/logs
mkdir -p "$work" "$logs"

# ---- inputs: the model, its GGUF forms, the photo ----

if [ ! -f "$model/model.safetensors" ]; then
    : "${SHARED_ASSETS:?set SHARED_ASSETS (or MODEL_DIR to an existing hub directory)}"
    python3 bench/make_full_size_smolvlm.py "$SHARED_ASSETS" "$model"
fi

convert() { # outtype, extra flag, output
    [ -f "$3" ] && return
    : "${LLAMA_CPP_DIR:?set LLAMA_CPP_DIR to the llama.cpp source tree}"
    local pypath=$LLAMA_CPP_DIR/gguf-py
    # The converter imports sentencepiece before it looks for tokenizer.model
    # (this model has none and falls back to tokenizer.json): an empty module
    # stands in when the package is not installed.
    if ! python3 -c "import sentencepiece" 2>/dev/null; then
        mkdir -p "$work/sentencepiece-stub"
        echo "class SentencePieceProcessor: pass" > "$work/sentencepiece-stub/sentencepiece.py"
        pypath=$pypath:$work/sentencepiece-stub
    fi
    PYTHONPATH=$pypath python3 "$LLAMA_CPP_DIR/convert_hf_to_gguf.py" "$model" \
        --outtype "$1" $2 --outfile "$3" > "$logs/convert-$(basename "$3").log" 2>&1
}
for type in f16 q8_0; do
    convert "$type" "" "$work/text-$type.gguf"
    convert "$type" --mmproj "$work/mmproj-$type.gguf"
done

q8_model=$work/libvlm-q8_0.gguf
[ -f "$q8_model" ] || "$vlm_quantize" "$model" "$q8_model" --type q8_0 --vision-type q8_0 \
    > "$logs/vlm-quantize.log" 2>&1

photo=$work/photo512.jpg
[ -f "$photo" ] || python3 -c "import sys; from PIL import Image; \
Image.open('tests/data/sample.jpg').convert('RGB').resize((512, 512)).save(sys.argv[1])" "$photo"

# ---- the runs, alternated ----

timed() { # name, command...: the command's stdout+stderr and /usr/bin/time -v
    local name=$1
    shift
    cut -d' ' -f1 /proc/loadavg > "$logs/$name.load"
    /usr/bin/time -v -o "$logs/$name.time" ${NICE:+nice -n "$NICE"} "$@" > "$logs/$name.out" 2> "$logs/$name.err"
}

# SUMMARY_ONLY=1: the table from the logs of an earlier run
[ -n "${SUMMARY_ONLY:-}" ] && reps=$(grep -l Maximum "$logs"/vlm-decode.*.time | wc -l) # complete reps
[ -n "${SUMMARY_ONLY:-}" ] || uptime > "$logs/uptime.txt"
for r in $(seq 1 "$reps"); do
    [ -n "${SUMMARY_ONLY:-}" ] && break
    echo "rep $r/$reps: $(uptime)" | tee -a "$logs/uptime.txt"
    case ${PARTS:-text vision} in *text*)
        # text: prefill of n_prompt tokens, decode of n_gen from an empty context
        # (libvlm: a 16-token prompt)
        timed "llama-bench-f16.$r" "$LLAMA_CPP_BIN/llama-bench" -m "$work/text-f16.gguf" \
            -t "$threads" -p "$n_prompt" -n "$n_gen" -r 3 -o json
        timed "vlm-prefill.$r" "$vlm_bench" --model "$model" --text-tokens "$n_prompt" \
            --max-tokens 1 --threads "$threads" --json
        timed "llama-bench-q8_0.$r" "$LLAMA_CPP_BIN/llama-bench" -m "$work/text-q8_0.gguf" \
            -t "$threads" -p "$n_prompt" -n "$n_gen" -r 3 -o json
        timed "vlm-decode.$r" "$vlm_bench" --model "$model" --text-tokens 16 \
            --max-tokens "$n_gen" --threads "$threads" --json
        timed "vlm-prefill-q8.$r" "$vlm_bench" --model "$q8_model" --text-tokens "$n_prompt" \
            --max-tokens 1 --threads "$threads" --json
        timed "vlm-decode-q8.$r" "$vlm_bench" --model "$q8_model" --text-tokens 16 \
            --max-tokens "$n_gen" --threads "$threads" --json ;;
    esac
    case ${PARTS:-text vision} in *vision*)
        # the photo with the default processing (llama.cpp: one warm-up encode
        # at load; -lv 4 prints the library's timings, slices and llama_perf)
        for type in f16 q8_0; do
            timed "llama-mtmd-$type.$r" "$LLAMA_CPP_BIN/llama-mtmd-cli" -m "$work/text-$type.gguf" \
                --mmproj "$work/mmproj-$type.gguf" --image "$photo" -p "What is in this image?" \
                -n "$n_gen" -t "$threads" --temp 0 --ignore-eos -c 4096 \
                --log-timestamps --log-prefix -lv 4
            m=$model suffix=""
            [ $type = q8_0 ] && m=$q8_model suffix=-q8
            timed "vlm-photo$suffix.$r" "$vlm_bench" --model "$m" --image "$photo" \
                --max-tokens "$n_gen" --threads "$threads" --json
            timed "vlm-tile$suffix.$r" "$vlm_bench" --model "$m" --image "$photo" --max-tiles 1 \
                --max-tokens "$n_gen" --threads "$threads" --json
        done ;;
    esac
done
[ -n "${SUMMARY_ONLY:-}" ] || uptime | tee -a "$logs/uptime.txt"

# ---- the table ----

python3 - "$logs" "$reps" "$n_prompt" "$n_gen" "$work" "$model" <<'EOF'
import json, os, re, statistics, sys

logs, reps, n_prompt, n_gen, work, model = sys.argv[1:]
reps = int(reps)


def read(name):
    with open(os.path.join(logs, name)) as f:
        return f.read()


def peak_mb(name):
    kb = re.search(r"Maximum resident set size \(kbytes\): (\d+)", read(name + ".time"))
    return int(kb.group(1)) / 1024


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def llama_bench(type_, r):
    rows = json.loads(read(f"llama-bench-{type_}.{r}.out"))
    pp = next(x for x in rows if x["n_prompt"] > 0 and x["n_gen"] == 0)
    tg = next(x for x in rows if x["n_gen"] > 0 and x["n_prompt"] == 0)
    return pp["avg_ts"], tg["avg_ts"]


def stamp(line):  # --log-timestamps: M.SS.mmm.uuu -> seconds
    m = re.match(r"(?:\x1b\[[0-9;]*m)?(\d+)\.(\d+)\.(\d+)\.(\d+)", line)
    return int(m[1]) * 60 + int(m[2]) + int(m[3]) * 1e-3 + int(m[4]) * 1e-6 if m else None


def llama_mtmd(type_, r):
    """per-slice encode ms (median), slices, ms from the image load to the last
    image chunk in the decoder (TTFT, without the ~15-token text tail), ms from
    the start to that point (load and warm-up), decode tok/s, peak MB"""
    lines = (read(f"llama-mtmd-{type_}.{r}.err") + read(f"llama-mtmd-{type_}.{r}.out")).splitlines()
    # per-slice encode: "mtmd batch encoding done in" (Oct 2026), "image slice encoded in" (May)
    enc = [int(m[1]) for l in lines
           if (m := re.search(r"(?:mtmd batch encoding done|image slice encoded) in (\d+) ms", l))]
    t_ready = next(stamp(l) for l in lines if "experimental CLI" in l)
    t_last = max(stamp(l) for l in lines if re.search(r"image decoded \(batch", l))
    ev = next(re.search(r"eval time =\s*([\d.]+) ms /\s*(\d+) runs", l)
              for l in lines if re.search(r"\beval time =", l) and "prompt" not in l)
    return (median(enc), len(enc), (t_last - t_ready) * 1e3, t_ready * 1e3,
            int(ev[2]) / float(ev[1]) * 1e3, peak_mb(f"llama-mtmd-{type_}.{r}"))


def vlm(kind, r):  # its own peak RSS: the machine rows after the query allocate 512 MB
    out = json.loads(read(f"vlm-{kind}.{r}.out"))
    return out, out["peak_rss_mb"]


L = {t: [llama_bench(t, r) for r in range(1, reps + 1)] for t in ("f16", "q8_0")}
vision = os.path.exists(os.path.join(logs, "vlm-tile.1.out"))  # PARTS=text: no vision rows
M = {t: [llama_mtmd(t, r) for r in range(1, reps + 1)] for t in ("f16", "q8_0")} if vision else {}
kinds = ("prefill", "decode", "photo", "tile") if vision else ("prefill", "decode")
V = {k + q: [vlm(k + q, r) for r in range(1, reps + 1)] for k in kinds for q in ("", "-q8")}


def lm(t, i): return median([x[i] for x in M[t]])
def vm(k, key): return (median([x[0][key] for x in V[k]]), median([x[0][key] for x in V[k + "-q8"]]))
def vmed(k, f): return (median([f(x) for x in V[k]]), median([f(x) for x in V[k + "-q8"]]))
def ttft(x): return x["add_turn_ms"] + x["prefill_ms"]


# each row: name, llama.cpp f16, llama.cpp q8_0, (libvlm bf16, libvlm q8_0), higher is better, format
tile_ms = lambda k: vm(k, "encode_ms_per_frame")
rows = [] if not vision else [
    ("vision encode, one 512x512 tile (ms; libvlm `--max-tiles 1`)",
     lm("f16", 0), lm("q8_0", 0), tile_ms("tile"), False, "{:.0f}"),
    ("vision encode, per frame of the photo (ms)",
     lm("f16", 0), lm("q8_0", 0), tile_ms("photo"), False, "{:.0f}"),
]
rows += [
    (f"decode tok/s ({n_gen} tokens from an empty context; libvlm: a 16-token prompt)",
     median([x[1] for x in L["f16"]]), median([x[1] for x in L["q8_0"]]),
     vm("decode", "decode_tokens_per_s"), True, "{:.1f}"),
    (f"prefill tok/s, {n_prompt}-token text prompt",
     median([x[0] for x in L["f16"]]), median([x[0] for x in L["q8_0"]]),
     vm("prefill", "prefill_tokens_per_s"), True, "{:.0f}"),
]
rows += [] if not vision else [
    ("photo, default processing: time to first token (s)",
     lm("f16", 2) / 1e3, lm("q8_0", 2) / 1e3, tuple(t / 1e3 for t in vmed("photo", lambda x: ttft(x[0]))),
     False, "{:.1f}"),
    ("photo: decode tok/s after its prompt", lm("f16", 4), lm("q8_0", 4),
     vm("photo", "decode_tokens_per_s"), True, "{:.1f}"),
    ("photo: peak RSS (MB; llama.cpp /usr/bin/time -v, libvlm getrusage before its machine rows)", lm("f16", 5), lm("q8_0", 5),
     vmed("photo", lambda x: x[1]), False, "{:.0f}"),
    ("load, warm (ms; llama.cpp: start to ready, warm-up included)", lm("f16", 3), lm("q8_0", 3),
     vm("photo", "load_ms"), False, "{:.0f}"),
]
size = lambda p: os.path.getsize(p) / 1e6
if vision: print(f"frames of the photo: llama.cpp {M['f16'][0][1]} slices, libvlm "
      f"{V['photo'][0][0]['image']['n_frames']} frames ({V['photo'][0][0]['image']['n_image_tokens']} image tokens)")
print(f"weights: libvlm {size(os.path.join(model, 'model.safetensors')):.0f} MB (BF16 safetensors); "
      f"llama.cpp f16 {size(os.path.join(work, 'text-f16.gguf')) + size(os.path.join(work, 'mmproj-f16.gguf')):.0f} MB, "
      f"q8_0 {size(os.path.join(work, 'text-q8_0.gguf')) + size(os.path.join(work, 'mmproj-q8_0.gguf')):.0f} MB "
      "(text + mmproj)")
print(f"machine in the vlm-bench runs: read {median([x[0]['machine']['read_gb_per_s'] for x in V['prefill']]):.1f} GB/s, "
      f"sgemm {median([x[0]['machine']['sgemm_gflop_per_s'] for x in V['prefill']]):.0f} GFLOP/s (medians)")
if vision: print(f"libvlm reached {median([x[0]['bounds']['encode_ms_per_frame_min'] / x[0]['encode_ms_per_frame'] for x in V['tile']]) * 100:.0f}% "
      "of its matmul-only encode bound (one tile)")
loads = [float(read(n).split()[0]) for n in os.listdir(logs) if n.endswith(".load")]
print(f"load average (1 min) before the {len(loads)} runs: {min(loads):.1f} to {max(loads):.1f}, "
      f"median {median(loads):.1f}; medians of {reps} runs each\n")
print("| metric | llama.cpp f16 | llama.cpp q8_0 | libvlm bf16 | libvlm q8_0 | bf16 vs f16 | q8_0 vs q8_0 | best vs best |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for name, f16, q8, (ours, ours_q8), higher, fmt in rows:
    speedup = lambda a, theirs: (a / theirs if higher else theirs / a)
    best = lambda a, b: max(a, b) if higher else min(a, b)
    plain = "RSS" in name or "load" in name
    cells = ["", "", ""] if plain else [f"{speedup(ours, f16):.2f}x", f"{speedup(ours_q8, q8):.2f}x",
                                        f"{speedup(best(ours, ours_q8), best(f16, q8)):.2f}x"]
    print(f"| {name} | {fmt.format(f16)} | {fmt.format(q8)} | {fmt.format(ours)} | {fmt.format(ours_q8)} | "
          + " | ".join(cells) + " |")
EOF
