/* ShieldGemma 2: a Gemma 3 4B checkpoint used as an image-safety classifier
 * (ShieldGemma2ForImageClassification). The prompt is its processor's: the
 * image, then an instruction holding the policy's definition, rendered by
 * its chat template; the answer is the softmax over the logits of its "Yes"
 * and "No" tokens at the last prompt position, P(Yes) being the probability
 * that the image violates the policy. */
#ifndef VLM_ARCH_SHIELDGEMMA2_H
#define VLM_ARCH_SHIELDGEMMA2_H

#include "vlm-impl.h"

/* The definition of a built-in policy (ShieldGemma2Processor's defaults),
 * or NULL for VLM_SAFETY_CUSTOM and unknown values. */
const char *vlmi_shieldgemma2_policy_text(vlm_safety_policy policy);

/* The chat prompt for one image and one policy definition, with
 * image_text (the expansion of the image placeholder) in the image's place:
 * what ShieldGemma2Processor renders with its chat template, byte for byte
 * (the template's indentation included). Writes up to
 * cap bytes plus a NUL when cap > 0; returns the full length. */
size_t vlmi_shieldgemma2_prompt(char *buf, size_t cap, const char *image_text,
                                const char *policy_text);

#endif
