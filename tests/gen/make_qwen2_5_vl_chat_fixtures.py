#!/usr/bin/env python3
"""Makes tests/data/qwen2_5_vl/chat.json: conversations rendered by
Qwen2.5-VL's real chat template (jinja2, as transformers renders it), for
tests/qwen2_5_vl/test_chat.c.

usage: make_qwen2_5_vl_chat_fixtures.py SHARED_ASSETS_DIR OUT_DIR
Needs jinja2 (fixture generation only).

Each case: messages as libvlm's session holds them (role, text, n_images,
video) and the template's output with add_generation_prompt true and false.
Content items are ordered video, images, text, as the session places them.
"""
import json
import sys
from pathlib import Path

import jinja2


def content(m):
    items = []
    if m.get("video"):
        items.append({"type": "video"})
    items += [{"type": "image"}] * m.get("n_images", 0)
    items.append({"type": "text", "text": m["text"]})
    return items


CASES = [
    [{"role": "user", "text": "What is in this image?", "n_images": 1}],
    [{"role": "system", "text": "Answer briefly."},
     {"role": "user", "text": "Hello"},
     {"role": "assistant", "text": "Hi! How can I help?"},
     {"role": "user", "text": "Compare these.", "n_images": 2}],
    [{"role": "user", "text": "What happens?", "video": True}],
    [{"role": "user", "text": "  spaces kept  \n"},
     {"role": "assistant", "text": "ok"},
     {"role": "user", "text": "", "n_images": 1}],
]


def main():
    assets, out = Path(sys.argv[1]), Path(sys.argv[2])
    template = json.loads((assets / "Qwen__Qwen2.5-VL-3B-Instruct" / "chat_template.json")
                          .read_text())["chat_template"]
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True,
                             extensions=["jinja2.ext.loopcontrols"])
    compiled = env.from_string(template)
    cases = []
    for messages in CASES:
        hf = [{"role": m["role"], "content": content(m)} for m in messages]
        cases.append({"messages": messages,
                      "with_prompt": compiled.render(messages=hf, add_generation_prompt=True),
                      "without_prompt": compiled.render(messages=hf, add_generation_prompt=False)})
    (out / "chat.json").write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(cases)} conversations")


if __name__ == "__main__":
    main()
