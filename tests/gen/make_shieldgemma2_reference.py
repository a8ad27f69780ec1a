#!/usr/bin/env python3
"""Makes tests/data/shieldgemma2: a tiny ShieldGemma 2 (ShieldGemma2ForImageClassification)
around the tiny Gemma 3 of tests/data/gemma3-vlm, and transformers' safety
probabilities on it, for tests/gemma3/test_shieldgemma2.c.

usage: make_shieldgemma2_reference.py GEMMA3_VLM_DIR OUT_DIR
Needs torch and transformers (fixture generation only; CI needs neither).

The classifier's weights are the tiny Gemma 3's (random); its "Yes" and "No"
token ids are two ids of the tiny vocabulary, stored in config.json as
yes_token_index / no_token_index (the real checkpoint relies on the class
defaults, 10784 and 3771). The processor is ShieldGemma2Processor with the
chat template of the real checkpoint (transformers' conversion script,
convert_shieldgemma2_weights_orbax_to_hf.py) and its default policies.

Images are the test pattern (x*x + 3*y*y + 7*x*y + 50*c + (x ^ y)) mod 256 of
the sizes in reference.json. reference.json holds, per (image, policy): the
prompt ids, the Yes/No logits and the probability of Yes.
"""
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from PIL import Image
from transformers import (AutoImageProcessor, AutoTokenizer, Gemma3ForConditionalGeneration,
                          ShieldGemma2Config, ShieldGemma2ForImageClassification,
                          ShieldGemma2Processor)

CHAT_TEMPLATE = """{{ bos_token }}
{%- for message in messages -%}
    {%- if message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {{ '<start_of_turn>user\\n' }}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ 'You are a policy expert trying to help determine whether a generated or real image is in' }}
                {{ ' violation of the safety policy below. Your decision must very clearly follow the specific'}}
                {{ ' language used in the safety policy and should not include any interpretation outside of the' }}
                {{ ' safety policy.\\n\\n' }}
                {{ '<BEGIN_SAFETY_POLICY>\\n' }}
                {{ item['text'] + '\\n' }}
                {{ '</END_SAFETY_POLICY>\\n\\n' }}
                {{ 'Does the image violate the above policy? Your Answer must start with \\'Yes\\' or \\'No\\'.' }}
                {{ '<end_of_turn>\\n' }}
            {%- endif -%}
        {%- endfor -%}
        {{'<start_of_turn>model\\n'}}
    {%- else -%}
        {{ raise_exception("Conversation messages must contain iterable content containing images and policy definitions in text.") }}
    {%- endif -%}
{%- endfor -%}
"""

YES, NO = 101, 57
SIZES = [(300, 200), (97, 131)]
CUSTOM = "No Cats: The image shall not contain a cat."


def pattern(w, h):
    x = np.arange(w)[None, :, None]
    y = np.arange(h)[:, None, None]
    c = np.arange(3)[None, None, :]
    return ((x * x + 3 * y * y + 7 * x * y + 50 * c + (x ^ y)) % 256).astype(np.uint8)


def main():
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    torch.manual_seed(0)
    gemma = Gemma3ForConditionalGeneration.from_pretrained(src, dtype=torch.float32,
                                                           attn_implementation="eager")
    g = gemma.config
    config = ShieldGemma2Config(text_config=g.text_config.to_dict(),
                                vision_config=g.vision_config.to_dict(),
                                mm_tokens_per_image=g.mm_tokens_per_image,
                                boi_token_index=g.boi_token_index,
                                eoi_token_index=g.eoi_token_index,
                                image_token_index=g.image_token_index,
                                yes_token_index=YES, no_token_index=NO)
    config._attn_implementation = "eager"
    model = ShieldGemma2ForImageClassification(config).eval()
    missing = model.model.load_state_dict(gemma.state_dict(), strict=True)
    tokenizer = AutoTokenizer.from_pretrained(src)
    image_processor = AutoImageProcessor.from_pretrained(src)
    processor = ShieldGemma2Processor(image_processor=image_processor, tokenizer=tokenizer,
                                      chat_template=CHAT_TEMPLATE,
                                      image_seq_length=g.mm_tokens_per_image)

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    image_processor.save_pretrained(out)
    (out / "chat_template.json").write_text(json.dumps({"chat_template": CHAT_TEMPLATE}) + "\n")

    cases = []
    for index, (w, h) in enumerate(SIZES):
        image = Image.fromarray(pattern(w, h))
        for policy in ["dangerous", "sexual", "violence", "custom"]:
            kwargs = {"custom_policies": {"custom": CUSTOM}} if policy == "custom" else {}
            inputs = processor(images=[image], policies=[policy], return_tensors="pt", **kwargs)
            with torch.no_grad():
                result = model(**inputs)
            cases.append({"image": index, "policy": policy,
                          "prompt_ids": inputs["input_ids"][0].tolist(),
                          "logits": result.logits[0].tolist(),
                          "probability": float(result.probabilities[0, 0])})
    reference = {"transformers": transformers.__version__, "torch": torch.__version__,
                 "processor": type(image_processor).__name__, "yes": YES, "no": NO,
                 "custom_policy": CUSTOM, "sizes": SIZES, "cases": cases}
    (out / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")
    for c in cases:
        print(c["image"], c["policy"], len(c["prompt_ids"]), c["probability"])


if __name__ == "__main__":
    main()
