import CVLM

extension Session {
    /// What an image will cost in a session, known before it is decoded or
    /// encoded: lets an app pick a tile cap or downscale before spending
    /// memory and time on it.
    public struct ImagePlan: Equatable, Sendable {
        /// Frames the vision encoder runs: tiles + 1 global image, or 1.
        public let frames: Int
        /// Tile grid; 0, 0 when the image is not split.
        public let rows, columns: Int
        public let frameWidth, frameHeight: Int
        /// Image placeholder tokens the prompt will hold.
        public let imageTokens: Int
        /// Bytes needed while preprocessing and encoding it.
        public let workBytes: UInt64
        /// Bytes its encoded features keep in the session.
        public let featureBytes: UInt64
    }

    /// The plan for an image of width x height in this session (its tile cap
    /// applied).
    public func planImage(width: Int, height: Int) throws -> ImagePlan {
        guard let w = UInt32(exactly: width), let h = UInt32(exactly: height) else {
            throw VLMError.invalidArgument("image size \(width)x\(height) out of range")
        }
        var plan = vlm_image_plan()
        plan.struct_size = cSizeof(vlm_image_plan.self)
        try check(vlm_session_plan_image(handle, w, h, &plan))
        return ImagePlan(frames: Int(plan.n_frames), rows: Int(plan.rows), columns: Int(plan.cols),
                         frameWidth: Int(plan.frame_width), frameHeight: Int(plan.frame_height),
                         imageTokens: Int(plan.n_image_tokens), workBytes: plan.work_bytes,
                         featureBytes: plan.feature_bytes)
    }

    /// The plan for an image already in memory.
    public func planImage(_ image: Image) throws -> ImagePlan {
        try planImage(width: image.width, height: image.height)
    }
}
