import CVLM

/// Boxes and points of a grounding answer (Qwen2.5-VL's JSON), as data:
/// vlm_parse_grounding.
public enum Grounding {
    public enum Kind: Int32, Sendable {
        case box = 0       // (x1, y1) top-left, (x2, y2) bottom-right
        case point = 1     // (x1, y1); x2, y2 repeat it
        case rejected = 2  // an object that could not be used: see reason
    }

    public enum Reason: Int32, Sendable {
        case ok = 0, noCoordinates = 1, wrongArity = 2, notANumber = 3, truncated = 4,
             notAnObject = 5, tooDeep = 6
    }

    public struct Item: Equatable, Sendable {
        public let kind: Kind
        /// .ok unless rejected.
        public let reason: Reason
        /// Original-image pixels, clamped to the image.
        public let x1, y1, x2, y2: Float
        /// Byte offset of the object in the answer's UTF-8.
        public let byteOffset: Int
        /// "" if none; cut at 63 bytes, on a character boundary.
        public let label: String
    }

    /// Parses answer into items in the original image's pixels, in the order
    /// the objects appear. Coordinates are scaled per axis by
    /// image / resized size (resized 0: the answer is in image pixels
    /// already) and clamped. Unusable objects become .rejected items with a
    /// reason; an answer without JSON gives [].
    public static func parse(_ answer: String, imageWidth: Int, imageHeight: Int,
                             resizedWidth: Int = 0, resizedHeight: Int = 0) throws -> [Item] {
        guard let w = UInt32(exactly: imageWidth), let h = UInt32(exactly: imageHeight),
              let rw = UInt32(exactly: resizedWidth), let rh = UInt32(exactly: resizedHeight) else {
            throw VLMError.invalidArgument("image size \(imageWidth)x\(imageHeight) or resized "
                                           + "\(resizedWidth)x\(resizedHeight) out of range")
        }
        let utf8 = Array(answer.utf8)
        let itemSize = cSizeof(vlm_grounding_item.self)
        let items: [vlm_grounding_item] = try utf8.withUnsafeBufferPointer { bytes in
            try bytes.withMemoryRebound(to: CChar.self) { chars in
                var count = 0
                let status = vlm_parse_grounding(chars.baseAddress, chars.count, w, h, rw, rh, nil,
                                                 itemSize, 0, &count, nil)
                if status != VLM_OK && status != VLM_ERR_BUFFER_TOO_SMALL { try check(status) }
                if count == 0 { return [] }
                var items = [vlm_grounding_item](repeating: vlm_grounding_item(), count: count)
                try check(vlm_parse_grounding(chars.baseAddress, chars.count, w, h, rw, rh, &items,
                                              itemSize, count, &count, nil))
                return Array(items.prefix(count))
            }
        }
        return try items.map { item in
            guard let kind = Kind(rawValue: item.kind), let reason = Reason(rawValue: item.reason) else {
                throw VLMError.unknown(status: -1, message: "grounding kind \(item.kind) / reason "
                                       + "\(item.reason) newer than these bindings")
            }
            let label = withUnsafeBytes(of: item.label) { raw -> String in
                let bytes = raw.prefix { $0 != 0 }
                return String(decoding: bytes, as: UTF8.self)
            }
            return Item(kind: kind, reason: reason, x1: item.x1, y1: item.y1, x2: item.x2,
                        y2: item.y2, byteOffset: item.offset, label: label)
        }
    }
}
