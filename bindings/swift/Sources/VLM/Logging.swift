import CVLM
import Foundation

/// sizeof of a C struct, what vlm.h's struct_size fields hold. For structs
/// imported from C, MemoryLayout's size and stride both equal C's sizeof
/// (tail padding included); stride is the one defined to be a multiple of
/// the alignment, as sizeof is.
@inline(__always)
func cSizeof<T>(_ type: T.Type) -> Int { MemoryLayout<T>.stride }

extension VLM {
    public enum LogLevel: UInt32, Comparable, Sendable {
        case debug = 0, info = 1, warn = 2, error = 3
        public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
    }

    /// The handler libvlm calls; retained here while it is installed.
    private final class LogBox {
        let handler: (LogLevel, String) -> Void
        init(_ handler: @escaping (LogLevel, String) -> Void) { self.handler = handler }
    }
    private final class LogState: @unchecked Sendable {
        let lock = NSLock()
        var box: LogBox?  // guarded by lock
    }
    private static let logState = LogState()

    /// Routes libvlm's log to handler (nil: discard, the default), from
    /// minimumLevel up. Process-wide: set it before other threads use the
    /// library. The handler runs on whichever thread logs and must not call
    /// libvlm. Every failed call logs its status and message at .debug.
    public static func setLogHandler(minimumLevel: LogLevel = .warn,
                                     _ handler: ((LogLevel, String) -> Void)?) {
        logState.lock.lock()
        defer { logState.lock.unlock() }
        let level = vlm_log_level(rawValue: minimumLevel.rawValue)
        guard let handler else {
            vlm_log_set(nil, level, nil)
            logState.box = nil  // released only after libvlm stopped calling it
            return
        }
        let box = LogBox(handler)
        vlm_log_set({ level, message, userData in
            let box = Unmanaged<LogBox>.fromOpaque(userData!).takeUnretainedValue()
            box.handler(LogLevel(rawValue: level.rawValue) ?? .error,
                        message.map { String(cString: $0) } ?? "")
        }, level, Unmanaged.passUnretained(box).toOpaque())
        logState.box = box  // the previous one is released after the switch
    }

    /// What path holds, as vlm_inspect's JSON text: a model directory
    /// (config summary, tensors), a .safetensors or .gguf file, or an image.
    public static func inspect(path: String) throws -> String {
        try readText(firstGuess: 1 << 16) { buffer, size, length in
            vlm_inspect(path, buffer, size, length)
        }
    }
}
