import CVLM

/// A failed libvlm call: one case per `vlm_status`, each with the message
/// `vlm_last_error()` gave on the failing thread right after the call.
public enum VLMError: Error, Equatable, CustomStringConvertible {
    case invalidArgument(String)
    case outOfMemory(String)
    case io(String)
    case format(String)
    case unsupported(String)
    case bufferTooSmall(String)
    case limit(String)
    case cancelled(String)
    case state(String)
    case shape(String)
    case invalidUTF8(String)
    case `internal`(String)
    /// A status newer than these bindings.
    case unknown(status: Int32, message: String)

    /// The `vlm_status` number (VLM_ERR_*).
    public var status: Int32 {
        switch self {
        case .invalidArgument: return 1
        case .outOfMemory: return 2
        case .io: return 3
        case .format: return 4
        case .unsupported: return 5
        case .bufferTooSmall: return 6
        case .limit: return 7
        case .cancelled: return 8
        case .state: return 9
        case .shape: return 10
        case .invalidUTF8: return 11
        case .internal: return 12
        case .unknown(let status, _): return status
        }
    }

    public var message: String {
        switch self {
        case .invalidArgument(let m), .outOfMemory(let m), .io(let m), .format(let m),
             .unsupported(let m), .bufferTooSmall(let m), .limit(let m), .cancelled(let m),
             .state(let m), .shape(let m), .invalidUTF8(let m), .internal(let m):
            return m
        case .unknown(_, let m): return m
        }
    }

    public var description: String { message }

    init(status: Int32, message: String) {
        switch status {
        case 1: self = .invalidArgument(message)
        case 2: self = .outOfMemory(message)
        case 3: self = .io(message)
        case 4: self = .format(message)
        case 5: self = .unsupported(message)
        case 6: self = .bufferTooSmall(message)
        case 7: self = .limit(message)
        case 8: self = .cancelled(message)
        case 9: self = .state(message)
        case 10: self = .shape(message)
        case 11: self = .invalidUTF8(message)
        case 12: self = .internal(message)
        default: self = .unknown(status: status, message: message)
        }
    }

    /// The error of a failed call; call it on the failing thread before any
    /// other libvlm call, which would replace the message.
    static func last(_ status: vlm_status) -> VLMError {
        var message = String(cString: vlm_last_error())
        if message.isEmpty { message = String(cString: vlm_status_string(status)) }
        return VLMError(status: Int32(bitPattern: status.rawValue), message: message)
    }
}

/// Throws unless status is VLM_OK.
@inline(__always)
func check(_ status: vlm_status) throws {
    if status != VLM_OK { throw VLMError.last(status) }
}

/// Runs a call following vlm.h's caller-buffer convention and returns the
/// bytes as a String; starts with a guess so the common case is one call.
func readText(firstGuess: Int = 256,
              _ call: (UnsafeMutablePointer<CChar>?, Int, UnsafeMutablePointer<Int>) -> vlm_status)
    throws -> String {
    var size = firstGuess
    var length = 0
    for _ in 0..<3 {
        var buffer = [CChar](repeating: 0, count: size)
        let status = buffer.withUnsafeMutableBufferPointer { call($0.baseAddress, size, &length) }
        if status == VLM_ERR_BUFFER_TOO_SMALL { size = length + 1; continue }
        try check(status)
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    throw VLMError.bufferTooSmall("the text kept growing between calls")
}

/// The library's version.
public enum VLM {
    /// "0.1.0"
    public static var version: String { String(cString: vlm_version_string()) }
    /// MAJOR*10000 + MINOR*100 + PATCH of the loaded library.
    public static var versionNumber: Int { Int(vlm_version_number()) }
    /// The version of vlm.h these bindings were compiled against.
    public static let headerVersionNumber =
        Int(VLM_VERSION_MAJOR) * 10000 + Int(VLM_VERSION_MINOR) * 100 + Int(VLM_VERSION_PATCH)
    /// One line naming the build: compiler, kernels, BLAS, image codecs.
    public static var buildInfo: String { String(cString: vlm_build_info()) }
}
