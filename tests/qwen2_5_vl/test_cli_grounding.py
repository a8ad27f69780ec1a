#!/usr/bin/env python3
"""vlm-cli parse-grounding on a sample Qwen2.5-VL answer: the JSON it
prints, in original-image pixels, and its refusal of a missing size.

    test_cli_grounding.py VLM_CLI"""
import json
import subprocess
import sys

ANSWER = """```json
[
\t{"bbox_2d": [135, 114, 1016, 672], "label": "cat"},
\t{"point_2d": [644, 434], "label": "nose"},
\t{"label": "tail"},
\t{"bbox_2d": [10, 20, 3
"""


def main():
    cli = sys.argv[1]
    out = subprocess.run([cli, "parse-grounding", "--width", "1280", "--height", "853",
                          "--resized-width", "1288", "--resized-height", "868"],
                         input=ANSWER.encode(), capture_output=True, check=True)
    result = json.loads(out.stdout)
    items, rejected = result["items"], result["rejected"]
    assert [i["kind"] for i in items] == ["box", "point"], items
    sx, sy = 1280 / 1288, 853 / 868
    want = [135 * sx, 114 * sy, 1016 * sx, 672 * sy]
    assert all(abs(a - b) < 0.01 for a, b in zip(items[0]["bbox"], want)), items[0]
    assert items[0]["label"] == "cat" and items[1]["label"] == "nose"
    assert all(abs(a - b) < 0.01 for a, b in zip(items[1]["point"], [644 * sx, 434 * sy]))
    assert [r["reason"] for r in rejected] == ["no_coordinates", "truncated"], rejected
    assert rejected[0]["label"] == "tail"
    bad = subprocess.run([cli, "parse-grounding", "--height", "10"], input=b"[]", capture_output=True)
    assert bad.returncode != 0 and b"VLM_ERR_INVALID_ARGUMENT" in bad.stderr, bad
    print("parse-grounding: ok")


if __name__ == "__main__":
    main()
