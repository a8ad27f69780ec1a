import CVLM

extension Session {
    /// The policies ShieldGemma 2 was trained on, and a caller's own.
    public enum SafetyPolicy: Equatable, Sendable {
        case dangerous   // dangerous content
        case sexual      // sexually explicit content
        case violence    // violence and gore
        case custom(String)  // the policy's definition (UTF-8)

        var raw: vlm_safety_policy {
            switch self {
            case .dangerous: return VLM_SAFETY_DANGEROUS
            case .sexual: return VLM_SAFETY_SEXUAL
            case .violence: return VLM_SAFETY_VIOLENCE
            case .custom: return VLM_SAFETY_CUSTOM
            }
        }
    }

    /// The probability (0...1) that image violates policy, as ShieldGemma 2
    /// defines it (P("Yes") of its Yes/No answer). The model must be a
    /// ShieldGemma 2 checkpoint (VLMError.unsupported otherwise) and the
    /// session's conversation empty (VLMError.state); it stays empty, so one
    /// session can score an image against several policies. Timings and
    /// prompt tokens/logits are readable afterwards.
    public func safetyScore(_ image: Image, policy: SafetyPolicy) throws -> Float {
        var probability: Float = 0
        let text: String?
        if case .custom(let definition) = policy { text = definition } else { text = nil }
        try withExtendedLifetime(image) {
            try check(vlm_session_safety_score(handle, image.handle, policy.raw, text, &probability))
        }
        return probability
    }
}
