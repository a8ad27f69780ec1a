import CVLM

/// Streaming detokenizer: feed ids one at a time and get text that never
/// ends in a partial UTF-8 character; the pieces (and flush()) concatenate to
/// Tokenizer.decode of all the ids. One thread at a time.
public final class Detokenizer {
    let handle: OpaquePointer
    /// The tokenizer (and through it, a model) must outlive the stream.
    public let tokenizer: Tokenizer

    public init(tokenizer: Tokenizer, skipSpecial: Bool = false) throws {
        let flags = skipSpecial ? UInt32(truncatingIfNeeded: VLM_DETOKENIZE_SKIP_SPECIAL) : 0
        var out: OpaquePointer?
        try check(vlm_detokenizer_create(tokenizer.handle, flags, &out))
        handle = out!
        self.tokenizer = tokenizer
    }

    deinit { vlm_detokenizer_free(handle) }

    /// Adds one id and returns the text it completed (often "", for an id
    /// that ends mid-character). A too-small buffer leaves the id unconsumed,
    /// so readText's retry is safe.
    public func push(_ id: Int32) throws -> String {
        try readText(firstGuess: 64) { buffer, size, length in
            vlm_detokenizer_push(handle, id, buffer, size, length)
        }
    }

    /// Ends the stream: returns what is still held back (an unfinished
    /// character comes out as U+FFFD) and starts a new stream.
    public func flush() throws -> String {
        try readText(firstGuess: 64) { buffer, size, length in
            vlm_detokenizer_flush(handle, buffer, size, length)
        }
    }
}

extension Tokenizer {
    /// A new streaming detokenizer over this tokenizer.
    public func detokenizer(skipSpecial: Bool = false) throws -> Detokenizer {
        try Detokenizer(tokenizer: self, skipSpecial: skipSpecial)
    }
}
