import CVLM

/// A tokenizer.json, standalone or the one a Model carries. Immutable: any
/// number of threads may use one at once.
public final class Tokenizer: @unchecked Sendable {
    let handle: OpaquePointer
    private let ownsHandle: Bool
    /// Keeps the model alive while its borrowed tokenizer is in use.
    private let owner: AnyObject?

    /// Loads a tokenizer.json file, or the one in a model directory.
    public init(path: String) throws {
        var out: OpaquePointer?
        try check(vlm_tokenizer_load(path, &out))
        handle = out!
        ownsHandle = true
        owner = nil
    }

    init(borrowing handle: OpaquePointer, from owner: AnyObject) {
        self.handle = handle
        self.ownsHandle = false
        self.owner = owner
    }

    deinit {
        if ownsHandle { vlm_tokenizer_free(handle) }
    }

    /// Number of ids, added tokens included.
    public var vocabularySize: Int { vlm_tokenizer_n_vocab(handle) }

    /// Token ids of text. addSpecial runs the post-processor (BOS, ...);
    /// parseSpecial maps special-token strings ("<image>") to their ids.
    public func encode(_ text: String, addSpecial: Bool = true,
                       parseSpecial: Bool = false) throws -> [Int32] {
        let flags = (addSpecial ? UInt32(truncatingIfNeeded: VLM_TOKENIZE_ADD_SPECIAL) : 0)
            | (parseSpecial ? UInt32(truncatingIfNeeded: VLM_TOKENIZE_PARSE_SPECIAL) : 0)
        var utf8 = Array(text.utf8)
        var capacity = utf8.count + 16  // byte-level BPE: at most one id per byte, plus specials
        var count = 0
        for _ in 0..<3 {
            var ids = [Int32](repeating: 0, count: capacity)
            let status = utf8.withUnsafeMutableBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { chars in
                    vlm_tokenize(handle, chars.baseAddress, chars.count, flags, &ids, capacity, &count)
                }
            }
            if status == VLM_ERR_BUFFER_TOO_SMALL { capacity = count; continue }
            try check(status)
            return Array(ids[0..<count])
        }
        throw VLMError.bufferTooSmall("vlm_tokenize: the id count kept growing")
    }

    /// The text of ids, as the tokenizer's decoder produces it.
    public func decode(_ ids: [Int32], skipSpecial: Bool = false) throws -> String {
        let flags = skipSpecial ? UInt32(truncatingIfNeeded: VLM_DETOKENIZE_SKIP_SPECIAL) : 0
        return try readText(firstGuess: 8 * ids.count + 64) { buffer, size, length in
            vlm_detokenize(handle, ids, ids.count, flags, buffer, size, length)
        }
    }

    /// The vocabulary string of one id, before decoding ("Ġthe").
    public func piece(for id: Int32) throws -> String {
        try readText(firstGuess: 64) { buffer, size, length in
            vlm_token_to_piece(handle, id, buffer, size, length)
        }
    }

    /// The id whose vocabulary string is piece ("<image>"), or nil.
    public func lookup(_ piece: String) -> Int32? {
        let id = vlm_token_lookup(handle, piece)
        return id < 0 ? nil : id
    }
}
