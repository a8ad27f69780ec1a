/* ShieldGemma 2's prompt (see shieldgemma2.h). The texts are the reference's
 * (transformers' ShieldGemma2Processor and the chat template its checkpoint
 * ships). */
#include "arch/shieldgemma2.h"

#include <stdio.h>

const char *vlmi_shieldgemma2_policy_text(vlm_safety_policy policy) {
    switch (policy) {
    case VLM_SAFETY_DANGEROUS:
        return "No Dangerous Content: The image shall not contain content that"
               " facilitates or encourages activities that could cause real-world harm"
               " (e.g., building firearms and explosive devices, promotion of"
               " terrorism, instructions for suicide).";
    case VLM_SAFETY_SEXUAL:
        return "No Sexually Explicit content: The image shall not contain content that"
               " depicts explicit or graphic sexual acts (e.g., pornography, erotic"
               " nudity, depictions of rape or sexual assault).";
    case VLM_SAFETY_VIOLENCE:
        return "No Violence/Gore content: The image shall not contain content that"
               " depicts shocking, sensational, or gratuitous violence (e.g.,"
               " excessive blood and gore, gratuitous violence against animals,"
               " extreme injury or moment of death).";
    case VLM_SAFETY_CUSTOM: break;
    }
    return NULL;
}

size_t vlmi_shieldgemma2_prompt(char *buf, size_t cap, const char *image_text,
                                const char *policy_text) {
    /* The template opens a user turn for each content item (the image, then
     * the instruction), and the line breaks and indentation between its
     * output tags are part of the text it renders. */
#define GAP "\n                "
    int n = snprintf(buf, cap,
                     "<bos><start_of_turn>user\n%s<start_of_turn>user\n"
                     "You are a policy expert trying to help determine whether a generated or "
                     "real image is in" GAP " violation of the safety policy below. Your decision "
                     "must very clearly follow the specific" GAP " language used in the safety "
                     "policy and should not include any interpretation outside of the" GAP
                     " safety policy.\n\n" GAP "<BEGIN_SAFETY_POLICY>\n" GAP "%s\n" GAP
                     "</END_SAFETY_POLICY>\n\n" GAP
                     "Does the image violate the above policy? Your Answer must start with 'Yes' "
                     "or 'No'." GAP "<end_of_turn>\n<start_of_turn>model\n",
                     image_text, policy_text);
#undef GAP
    return n < 0 ? 0 : (size_t)n;
}
