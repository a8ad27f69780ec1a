import CVLM

extension Session {
    /// Appends a turn about a video (SmolVLM2): frames the caller decoded,
    /// frame i at timestamps[i] seconds from the start of a video lasting
    /// duration seconds (nil: unknown, the last timestamp stands for it),
    /// then text. The prompt reads as SmolVLM2's processor writes it.
    /// videoFrameIndices says which frames to decode.
    public func addVideoTurn(_ role: Role = .user, _ text: String, frames: [Image],
                             timestamps: [Double], duration: Double? = nil) throws {
        guard frames.count == timestamps.count else {
            throw VLMError.invalidArgument(
                "\(frames.count) frames but \(timestamps.count) timestamps")
        }
        var pointers: [OpaquePointer?] = frames.map { $0.handle }
        try withExtendedLifetime(frames) {
            try check(vlm_session_add_video_turn(handle, vlm_role(rawValue: role.rawValue), text,
                                                 &pointers, timestamps, frames.count,
                                                 duration ?? -1))
        }
    }

    /// Which of a video's totalFrames frames (at videoFPS frames per second)
    /// to decode for addVideoTurn, as SmolVLM2's processor chooses them: fps
    /// frames per second (0: the model's), at most maxFrames (0: the
    /// model's), evenly spaced. Increasing indices.
    public func videoFrameIndices(totalFrames: Int, videoFPS: Double, fps: Double = 0,
                                  maxFrames: Int = 0) throws -> [Int] {
        guard let total = UInt32(exactly: totalFrames), let most = UInt32(exactly: maxFrames) else {
            throw VLMError.invalidArgument("totalFrames \(totalFrames) or maxFrames \(maxFrames) out of range")
        }
        return try readArray(UInt32.self) {
            vlm_session_video_frames(handle, total, videoFPS, fps, most, $0, $1, $2)
        }.map(Int.init)
    }

    /// The pixel values the vision encoder sees for an image, as a value.
    public struct PixelValues: Equatable, Sendable {
        /// Frames: tiles row-major, then the global image (or 1 frame).
        public let frames: Int
        public let channels: Int
        public let height, width: Int
        /// frames x channels x height x width floats, channels first.
        public let values: [Float]

        /// The values of one frame.
        public func frame(_ index: Int) -> ArraySlice<Float> {
            let size = channels * height * width
            return values[(index * size)..<((index + 1) * size)]
        }
    }

    /// The pixel values the vision encoder would see for image in this
    /// session (its tile cap applied), as the model's Hugging Face processor
    /// makes pixel_values. Nothing is encoded.
    public func pixelValues(for image: Image) throws -> PixelValues {
        let plan = try planImage(image)
        let values = try withExtendedLifetime(image) {
            try readArray(Float.self) {
                vlm_session_image_pixel_values(handle, image.handle, $0, $1, $2)
            }
        }
        let frameSize = 3 * plan.frameHeight * plan.frameWidth
        guard values.count == plan.frames * frameSize else {
            throw VLMError.internal("\(values.count) pixel values for a plan of \(plan.frames) "
                                    + "frames of \(plan.frameWidth)x\(plan.frameHeight)")
        }
        return PixelValues(frames: plan.frames, channels: 3, height: plan.frameHeight,
                           width: plan.frameWidth, values: values)
    }
}
