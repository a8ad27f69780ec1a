import CVLM
import Foundation

/// A conversation on a Model: its turns and KV cache. A session belongs to
/// one thread at a time; generate() runs on a thread of its own and the
/// session must not be used until its stream has finished.
public final class Session: @unchecked Sendable {
    let handle: OpaquePointer
    /// The model must outlive the session.
    public let model: Model

    public enum Role: UInt32 { case system = 0, user = 1, assistant = 2 }

    public struct GenerateOptions: Sendable {
        public var maxTokens: Int32 = 256
        public var temperature: Float = 0      // 0 = greedy
        public var topK: Int32 = 0             // 0 = off
        public var topP: Float = 1             // 1 = off
        public var minP: Float = 0             // 0 = off
        public var repeatPenalty: Float = 1    // 1 = off
        public var seed: UInt64 = 0
        public var stop: [String] = []         // end the answer where one first appears
        public init() {}
    }

    /// vlm_timings of the latest generate, every field.
    public struct Timings: Equatable, Sendable {
        public let preprocessMilliseconds, encodeMilliseconds, prefillMilliseconds,
                   decodeMilliseconds: Double
        public let promptTokens, imageTokens, generatedTokens: Int32
        public let decodeTokensPerSecond: Double
        /// vlm_model_load of the session's model.
        public let loadMilliseconds: Double
        /// Prompt tokens computed by this generate (the rest came from the cache).
        public let prefillTokens: Int32
        public let prefillTokensPerSecond: Double
        /// Images and video frames added since the previous generate whose
        /// features came from the model's image cache (nothing encoded).
        public let cachedImages: Int32
    }

    /// Holds the progress closure for the C callback's user_data, for the
    /// session's lifetime (libvlm keeps the pointer as long as the session).
    private final class ProgressBox {
        let progress: (Float) -> Bool
        init(_ progress: @escaping (Float) -> Bool) { self.progress = progress }
    }
    private let progressBox: ProgressBox?

    /// Opens a conversation. contextLength (0: the default, at most 4096),
    /// threads (0: the model's) and maxImageTiles (0: the model's) as in
    /// vlm_session_params.
    ///
    /// progress, if given, gets a fraction in [0, 1] while addTurn and
    /// addVideoTurn preprocess and encode images and while a generate
    /// prefills the prompt, on the thread doing that work (generate's own
    /// thread). Returning false cancels that call with VLMError.cancelled
    /// and leaves the conversation as it was.
    ///
    /// panAndScan (Gemma 3's extra crops: 0 the processor config's, 1 on,
    /// -1 off) and minImagePixels / maxImagePixels (Qwen2-VL-style pixel
    /// budget; 0 the processor config's) concern other families; SmolVLM
    /// ignores them.
    ///
    /// kvCacheType is the KV cache's element type, a vlm_dtype:
    /// VLM_DTYPE_F32 (0, the default), VLM_DTYPE_F16 (1: half the memory
    /// per token; logits move by about 1e-3) or VLM_DTYPE_Q8_0 (3: 0.27x,
    /// for models whose heads have a multiple of 32 dims).
    public init(model: Model, contextLength: Int32 = 0, threads: Int32 = 0,
                maxImageTiles: Int32 = 0, panAndScan: Int32 = 0, minImagePixels: Int64 = 0,
                maxImagePixels: Int64 = 0, kvCacheType: Int32 = 0,
                progress: ((Float) -> Bool)? = nil) throws {
        var params = vlm_session_params()
        vlm_session_params_init(&params, cSizeof(vlm_session_params.self))
        params.n_ctx = contextLength
        params.n_threads = threads
        params.max_image_tiles = maxImageTiles
        params.pan_and_scan = panAndScan
        params.min_image_pixels = minImagePixels
        params.max_image_pixels = maxImagePixels
        params.kv_cache_type = kvCacheType
        let box = progress.map(ProgressBox.init)
        if let box {
            params.progress = { fraction, userData in
                Unmanaged<ProgressBox>.fromOpaque(userData!).takeUnretainedValue().progress(fraction)
            }
            params.progress_user_data = Unmanaged.passUnretained(box).toOpaque()
        }
        var out: OpaquePointer?
        try check(vlm_session_create(model.handle, &params, &out))
        handle = out!
        self.model = model
        progressBox = box
    }

    deinit { vlm_session_free(handle) }

    /// Appends a turn; images are placed before the text as the model's chat
    /// template places them.
    public func addTurn(_ role: Role, _ text: String, images: [Image] = []) throws {
        var pointers: [OpaquePointer?] = images.map { $0.handle }
        try withExtendedLifetime(images) {
            try check(vlm_session_add_turn(handle, vlm_role(rawValue: role.rawValue), text,
                                           &pointers, pointers.count))
        }
    }

    /// Receives the pieces on the generating thread; told to stop by the
    /// stream's termination (the consumer stopped listening or was cancelled).
    private final class TokenSink {
        let continuation: AsyncThrowingStream<String, Error>.Continuation
        private let lock = NSLock()
        private var stopped = false
        init(_ continuation: AsyncThrowingStream<String, Error>.Continuation) {
            self.continuation = continuation
        }
        var isStopped: Bool { lock.lock(); defer { lock.unlock() }; return stopped }
        func stop() { lock.lock(); stopped = true; lock.unlock() }
    }

    /// Generates the assistant's answer (after adding prompt and images as a
    /// user turn, if given) as a stream of text pieces. Cancelling the
    /// consuming task, or breaking out of the loop, stops generation at the
    /// next token.
    public func generate(prompt: String? = nil, images: [Image] = [],
                         options: GenerateOptions = GenerateOptions())
        -> AsyncThrowingStream<String, Error> {
        AsyncThrowingStream { continuation in
            let sink = TokenSink(continuation)
            continuation.onTermination = { _ in sink.stop() }
            let thread = Thread { [self] in
                do {
                    if prompt != nil || !images.isEmpty {
                        try addTurn(.user, prompt ?? "", images: images)
                    }
                    try run(options, sink)
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            thread.name = "vlm-generate"
            thread.start()
        }
    }

    private func run(_ options: GenerateOptions, _ sink: TokenSink) throws {
        var params = vlm_generate_params()
        vlm_generate_params_init(&params, cSizeof(vlm_generate_params.self))
        params.max_tokens = options.maxTokens
        params.temperature = options.temperature
        params.top_k = options.topK
        params.top_p = options.topP
        params.min_p = options.minP
        params.repeat_penalty = options.repeatPenalty
        params.seed = options.seed
        params.on_token = { _, piece, length, userData in
            let sink = Unmanaged<TokenSink>.fromOpaque(userData!).takeUnretainedValue()
            if sink.isStopped { return false }
            let bytes = UnsafeRawBufferPointer(start: piece, count: length)
            sink.continuation.yield(String(decoding: bytes, as: UTF8.self))
            return true
        }
        params.user_data = Unmanaged.passUnretained(sink).toOpaque()
        // C copies of the stop strings, alive for the call
        let stopStrings: [UnsafeMutablePointer<CChar>?] = options.stop.map { strdup($0) }
        defer { stopStrings.forEach { free($0) } }
        var stopPointers: [UnsafePointer<CChar>?] = stopStrings.map { UnsafePointer($0) }
        let status = stopPointers.withUnsafeMutableBufferPointer { buffer -> vlm_status in
            params.stop_strings = UnsafePointer(buffer.baseAddress)
            params.n_stop_strings = buffer.count
            return withExtendedLifetime(sink) { vlm_session_generate(handle, &params) }
        }
        try check(status)
    }

    /// Timings and counts of the latest generate.
    public func timings() throws -> Timings {
        var t = vlm_timings()
        t.struct_size = cSizeof(vlm_timings.self)
        try check(vlm_session_timings(handle, &t))
        return Timings(preprocessMilliseconds: t.preprocess_ms, encodeMilliseconds: t.encode_ms,
                       prefillMilliseconds: t.prefill_ms, decodeMilliseconds: t.decode_ms,
                       promptTokens: t.n_prompt_tokens, imageTokens: t.n_image_tokens,
                       generatedTokens: t.n_generated_tokens,
                       decodeTokensPerSecond: t.decode_tokens_per_s,
                       loadMilliseconds: t.load_ms, prefillTokens: t.n_prefill_tokens,
                       prefillTokensPerSecond: t.prefill_tokens_per_s,
                       cachedImages: t.n_cached_images)
    }

    /// The prompt ids of the latest generate: the whole conversation,
    /// chat-formatted, with the image placeholders expanded.
    public func promptTokens() throws -> [Int32] {
        try readArray(Int32.self) { vlm_session_prompt_tokens(handle, $0, $1, $2) }
    }

    /// The logits (one per vocabulary id) the latest generate computed at
    /// the last prompt position, before any penalty.
    public func promptLogits() throws -> [Float] {
        try readArray(Float.self) { vlm_session_prompt_logits(handle, $0, $1, $2) }
    }
}

/// Runs a call following vlm.h's (values, capacity, *count) convention: a
/// size query, then the call that fills the array.
func readArray<Element: Numeric>(
    _ type: Element.Type,
    _ call: (UnsafeMutablePointer<Element>?, Int, UnsafeMutablePointer<Int>) -> vlm_status
) throws -> [Element] {
    var count = 0
    let status = call(nil, 0, &count)
    if status != VLM_OK && status != VLM_ERR_BUFFER_TOO_SMALL { try check(status) }
    if count == 0 { return [] }
    var values = [Element](repeating: 0, count: count)
    var written = 0
    try check(values.withUnsafeMutableBufferPointer { call($0.baseAddress, count, &written) })
    return Array(values.prefix(written))
}
