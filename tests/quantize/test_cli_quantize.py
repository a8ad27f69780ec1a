#!/usr/bin/env python3
"""vlm-quantize's file read back by gguf-py (an independent GGUF reader):
every tensor of the --json summary is in the file with that type, shape
(GGUF's ne[] reversed) and byte size, the file is as long as the summary
says, the hub files are embedded verbatim as libvlm.file.<name> strings, and
the general.* keys hold what the tool documents. Skipped without the `gguf`
package.

    test_cli_quantize.py VLM_QUANTIZE"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import gguf
except ImportError:
    print("gguf (gguf-py) is not installed: skipped")
    sys.exit(77)

EMBEDDED = ["config.json", "preprocessor_config.json", "processor_config.json",
            "video_preprocessor_config.json", "generation_config.json", "tokenizer.json",
            "tokenizer_config.json", "chat_template.json", "chat_template.jinja"]
FILE_TYPES = {"f16": 1, "q8_0": 7, "q4_0": 2, "q4_k": 14}


def field_string(reader, key):
    field = reader.fields[key]
    return bytes(field.parts[field.data[0]])


def check(tool, model_dir, out, qtype, vision_type):
    args = [tool, model_dir, out, "--type", qtype, "--json"]
    if vision_type:
        args += ["--vision-type", vision_type]
    summary = json.loads(subprocess.run(args, check=True, capture_output=True).stdout)
    assert summary["file_bytes"] == os.path.getsize(out), summary["file_bytes"]
    reader = gguf.GGUFReader(out)

    assert field_string(reader, "general.architecture") == b"libvlm"
    assert reader.fields["general.file_type"].parts[-1][0] == FILE_TYPES[qtype]
    assert reader.fields["libvlm.format_version"].parts[-1][0] == 1
    for name in EMBEDDED:
        path = os.path.join(model_dir, name)
        key = "libvlm.file." + name
        if os.path.isfile(path):
            with open(path, "rb") as f:
                assert field_string(reader, key) == f.read(), key
        else:
            assert key not in reader.fields, key

    tensors = {t.name: t for t in reader.tensors}
    assert len(tensors) == len(summary["tensors"]) == summary["n_tensors"]
    for entry in summary["tensors"]:
        t = tensors[entry["name"]]
        assert t.tensor_type.name == entry["to"], (entry, t.tensor_type.name)
        assert int(t.n_bytes) == entry["bytes"], (entry, t.n_bytes)
        shape = entry["shape"]
        if 1 <= len(shape) <= 4:
            assert list(reversed(t.shape.tolist())) == shape, (entry["name"], t.shape)
        else:  # outer dimensions merged (or a scalar), the real shape in libvlm.shape.<name>
            field = reader.fields["libvlm.shape." + entry["name"]]
            assert [int(field.parts[i][0]) for i in field.data] == shape
        want = vision_type if "vision" in entry["role"] else qtype
        if entry["role"].endswith("matrix") and "fallback_from" not in entry:
            assert entry["to"].lower() == want, entry
    return summary


def main():
    tool = sys.argv[1]
    data = os.environ.get("VLM_TEST_DATA", "tests/data")
    with tempfile.TemporaryDirectory() as tmp:
        for model in ["gemma3-vlm", "qwen2_5_vl-model"]:
            for qtype, vision in [("q8_0", "f16"), ("f16", "q8_0"), ("q4_0", "q4_0")]:
                out = os.path.join(tmp, f"{model}-{qtype}.gguf")
                check(tool, os.path.join(data, model), out, qtype, vision)
        # rows of 16 do not fill 32-blocks: F16, and the summary says from what
        summary = check(tool, os.path.join(data, "tiny-smolvlm"), os.path.join(tmp, "s.gguf"),
                        "q8_0", "q8_0")
        falls = [e for e in summary["tensors"] if "fallback_from" in e]
        assert falls and all(e["to"] == "F16" and e["fallback_from"] == "Q8_0" for e in falls)
        assert summary["n_fallback"] == len(falls)
    print("vlm-quantize files read back by gguf-py: ok")


if __name__ == "__main__":
    main()
