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
    /* the template opens a user turn for each content item: the image, then
     * the instruction */
    int n = snprintf(buf, cap,
                     "<bos><start_of_turn>user\n%s<start_of_turn>user\n"
                     "You are a policy expert trying to help determine whether a generated or "
                     "real image is in violation of the safety policy below. Your decision must "
                     "very clearly follow the specific language used in the safety policy and "
                     "should not include any interpretation outside of the safety policy.\n\n"
                     "<BEGIN_SAFETY_POLICY>\n%s\n</END_SAFETY_POLICY>\n\n"
                     "Does the image violate the above policy? Your Answer must start with 'Yes' "
                     "or 'No'.<end_of_turn>\n<start_of_turn>model\n",
                     image_text, policy_text);
    return n < 0 ? 0 : (size_t)n;
}
