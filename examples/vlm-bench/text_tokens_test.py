#!/usr/bin/env python3
"""vlm-bench --text-tokens N from outside: the whole prompt the session saw is
N tokens with no image, for a few N on the tiny SmolVLM; an N below the chat
template's own length is a non-zero exit with a message, not a run.
usage: text_tokens_test.py VLM_BENCH MODEL_DIR"""
import json
import subprocess
import sys

bench, model = sys.argv[1], sys.argv[2]
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAILED:", what)


def run(*args):
    return subprocess.run([bench, "--model", model, "--threads", "1", "--json", *args],
                          capture_output=True, text=True)


for n in (12, 64, 300):
    r = run("--text-tokens", str(n), "--max-tokens", "2")
    check(r.returncode == 0, f"--text-tokens {n} exits 0 ({r.stderr.strip()})")
    if r.returncode != 0:
        continue
    out = json.loads(r.stdout)
    check(out["n_prompt_tokens"] == n, f"--text-tokens {n}: {out['n_prompt_tokens']} prompt tokens")
    check(out["image"]["n_image_tokens"] == 0 and out["image"]["n_frames"] == 0,
          f"--text-tokens {n}: no image")
    check(out["n_generated_tokens"] >= 1, f"--text-tokens {n}: generated")

r = run("--text-tokens", "3")
check(r.returncode != 0 and "chat template" in r.stderr,
      f"--text-tokens 3 fails with the template's length ({r.returncode}, {r.stderr.strip()})")

print("text_tokens_test:", "FAILED" if failures else "ok")
sys.exit(1 if failures else 0)
