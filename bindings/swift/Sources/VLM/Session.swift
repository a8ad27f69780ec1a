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
    public struct Timings: Sendable {
        public let preprocessMilliseconds, encodeMilliseconds, prefillMilliseconds,
                   decodeMilliseconds: Double
        public let promptTokens, imageTokens, generatedTokens: Int32
        public let decodeTokensPerSecond: Double
        /// vlm_model_load of the session's model.
        public let loadMilliseconds: Double
        /// Prompt tokens computed by this generate (the rest came from the cache).
        public let prefillTokens: Int32
        public let prefillTokensPerSecond: Double
    }

    public init(model: Model, contextLength: Int32 = 0, threads: Int32 = 0,
                maxImageTiles: Int32 = 0) throws {
        var params = vlm_session_params()
        vlm_session_params_init(&params, MemoryLayout<vlm_session_params>.size)
        params.n_ctx = contextLength
        params.n_threads = threads
        params.max_image_tiles = maxImageTiles
        var out: OpaquePointer?
        try check(vlm_session_create(model.handle, &params, &out))
        handle = out!
        self.model = model
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
        vlm_generate_params_init(&params, MemoryLayout<vlm_generate_params>.size)
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
        t.struct_size = MemoryLayout<vlm_timings>.size
        try check(vlm_session_timings(handle, &t))
        return Timings(preprocessMilliseconds: t.preprocess_ms, encodeMilliseconds: t.encode_ms,
                       prefillMilliseconds: t.prefill_ms, decodeMilliseconds: t.decode_ms,
                       promptTokens: t.n_prompt_tokens, imageTokens: t.n_image_tokens,
                       generatedTokens: t.n_generated_tokens,
                       decodeTokensPerSecond: t.decode_tokens_per_s,
                       loadMilliseconds: t.load_ms, prefillTokens: t.n_prefill_tokens,
                       prefillTokensPerSecond: t.prefill_tokens_per_s)
    }
}
