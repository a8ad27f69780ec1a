import CVLM
import Foundation
import XCTest
@testable import VLM

// The Swift bindings against include/vlm.h. The CVLM module map imports the
// header itself, so every signature is checked by the compiler; what the
// compiler cannot see is checked here: that the library we link agrees with
// the header on each struct's size (a stale libvlm.so), that output structs
// are filled no further than struct_size, that the VLM module reaches every
// function of the header, and that the value types carry every field.

/// How many bytes a *_params_init writes when told the caller's struct is
/// 4096 bytes: the library's own sizeof (two fill patterns, so a default
/// equal to one fill byte cannot hide).
func librarySizeof<T>(_ type: T.Type, _ initialize: (UnsafeMutablePointer<T>, Int) -> Void) -> Int {
    var written = 0
    for fill: UInt8 in [0xAB, 0xCD] {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16)
        defer { raw.deallocate() }
        raw.initializeMemory(as: UInt8.self, repeating: fill, count: 4096)
        initialize(raw.bindMemory(to: T.self, capacity: 1), 4096)
        if let last = (0..<4096).last(where: { raw.load(fromByteOffset: $0, as: UInt8.self) != fill }) {
            written = max(written, last + 1)
        }
    }
    return written
}

/// Calls fill on a T at the start of a buffer 64 bytes longer than T, with
/// struct_size set to size, and returns whether the bytes from `size` on
/// were left alone.
func fillsNoFurther<T>(_ type: T.Type, size: Int, setSize: (UnsafeMutablePointer<T>, Int) -> Void,
                       _ fill: (UnsafeMutablePointer<T>) -> vlm_status) -> (vlm_status, Bool) {
    let total = MemoryLayout<T>.stride + 64
    let raw = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: 16)
    defer { raw.deallocate() }
    raw.initializeMemory(as: UInt8.self, repeating: 0xAB, count: total)
    let typed = raw.bindMemory(to: T.self, capacity: 1)
    setSize(typed, size)
    let status = fill(typed)
    let untouched = (max(size, MemoryLayout<Int>.size)..<total).allSatisfy {
        raw.load(fromByteOffset: $0, as: UInt8.self) == 0xAB
    }
    return (status, untouched)
}

final class ABITests: XCTestCase {
    func assertParams<T>(_ type: T.Type, structSize: KeyPath<T, Int>,
                         _ initialize: @escaping (UnsafeMutablePointer<T>, Int) -> Void,
                         file: StaticString = #filePath, line: UInt = #line) {
        let name = String(describing: T.self)
        // what the bindings pass is C's sizeof
        XCTAssertEqual(cSizeof(T.self), MemoryLayout<T>.stride, name, file: file, line: line)
        XCTAssertLessThanOrEqual(MemoryLayout<T>.size, MemoryLayout<T>.stride, name, file: file, line: line)
        // round trip: init with the size we know writes it back
        let raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<T>.stride, alignment: 16)
        defer { raw.deallocate() }
        raw.initializeMemory(as: UInt8.self, repeating: 0xEE, count: MemoryLayout<T>.stride)
        let typed = raw.bindMemory(to: T.self, capacity: 1)
        initialize(typed, cSizeof(T.self))
        XCTAssertEqual(typed.pointee[keyPath: structSize], MemoryLayout<T>.stride, name, file: file, line: line)
        // and the library we link has the same struct as the header we compiled
        XCTAssertEqual(librarySizeof(T.self, initialize), MemoryLayout<T>.stride,
                       "\(name): libvlm and vlm.h disagree on its size (stale library?)",
                       file: file, line: line)
    }

    func testParamsStructSizeRoundTrip() {
        assertParams(vlm_image_params.self, structSize: \.struct_size) { vlm_image_params_init($0, $1) }
        assertParams(vlm_model_params.self, structSize: \.struct_size) { vlm_model_params_init($0, $1) }
        assertParams(vlm_session_params.self, structSize: \.struct_size) { vlm_session_params_init($0, $1) }
        assertParams(vlm_generate_params.self, structSize: \.struct_size) { vlm_generate_params_init($0, $1) }
    }

    func testGenerateDefaultsAreTheDocumentedOnes() {
        var p = vlm_generate_params()
        vlm_generate_params_init(&p, cSizeof(vlm_generate_params.self))
        XCTAssertEqual([Float(p.max_tokens), p.temperature, Float(p.top_k), p.top_p, p.min_p, p.repeat_penalty],
                       [256, 0, 0, 1, 0, 1])
        XCTAssertEqual(p.seed, 0)
        XCTAssertNil(p.stop_strings)
        XCTAssertEqual(p.n_stop_strings, 0)
        let options = Session.GenerateOptions()  // the Swift defaults are the C ones
        XCTAssertEqual([Float(options.maxTokens), options.temperature, Float(options.topK), options.topP,
                        options.minP, options.repeatPenalty], [256, 0, 0, 1, 0, 1])
    }

    func testOutputStructsAreFilledToStructSizeOnly() throws {
        let model = try Model(path: dataPath("tiny-smolvlm"))
        let session = try Session(model: model)
        let modelHandle = model.handle, sessionHandle = session.handle
        for size in [MemoryLayout<vlm_tensor_info>.stride, MemoryLayout<Int>.size] {
            let (status, untouched) = fillsNoFurther(vlm_tensor_info.self, size: size,
                                                     setSize: { $0.pointee.struct_size = $1 }) {
                vlm_model_tensor_info(modelHandle, 0, $0)
            }
            XCTAssertTrue(status == VLM_OK || (size < MemoryLayout<vlm_tensor_info>.stride && status == VLM_ERR_INVALID_ARGUMENT))
            XCTAssertTrue(untouched, "vlm_tensor_info, struct_size \(size)")
        }
        for size in [MemoryLayout<vlm_image_plan>.stride, MemoryLayout<Int>.size] {
            let (status, untouched) = fillsNoFurther(vlm_image_plan.self, size: size,
                                                     setSize: { $0.pointee.struct_size = $1 }) {
                vlm_session_plan_image(sessionHandle, 64, 48, $0)
            }
            XCTAssertTrue(status == VLM_OK || (size < MemoryLayout<vlm_image_plan>.stride && status == VLM_ERR_INVALID_ARGUMENT))
            XCTAssertTrue(untouched, "vlm_image_plan, struct_size \(size)")
        }
        for size in [MemoryLayout<vlm_timings>.stride, MemoryLayout<Int>.size] {
            let (status, untouched) = fillsNoFurther(vlm_timings.self, size: size,
                                                     setSize: { $0.pointee.struct_size = $1 }) {
                vlm_session_timings(sessionHandle, $0)
            }
            XCTAssertTrue(status == VLM_OK || (size < MemoryLayout<vlm_timings>.stride && status == VLM_ERR_INVALID_ARGUMENT))
            XCTAssertTrue(untouched, "vlm_timings, struct_size \(size)")
        }
        withExtendedLifetime((model, session)) {}
    }

    /// Every VLM_API function of vlm.h is called somewhere in Sources/VLM,
    /// so a function added to the header fails here until it is wrapped.
    func testEveryHeaderFunctionIsWrapped() throws {
        let repository = dataDirectory.deletingLastPathComponent().deletingLastPathComponent()
        let header = try String(contentsOf: repository.appendingPathComponent("include/vlm.h"), encoding: .utf8)
        let declaration = try NSRegularExpression(pattern: #"VLM_API\s+[\w\s\*]*?\b(vlm_\w+)\s*\("#)
        let names = Set(declaration.matches(in: header, range: NSRange(header.startIndex..., in: header))
            .map { String(header[Range($0.range(at: 1), in: header)!]) })
        XCTAssertGreaterThan(names.count, 40)
        let sources = repository.appendingPathComponent("bindings/swift/Sources/VLM")
        let files = try FileManager.default.contentsOfDirectory(atPath: sources.path).filter { $0.hasSuffix(".swift") }
        let code = try files.map { try String(contentsOf: sources.appendingPathComponent($0), encoding: .utf8) }
            .joined(separator: "\n")
        let notWrapped: Set<String> = [
            "vlm_free",  // no call of vlm.h hands the caller library-allocated memory yet
        ]
        let missing = names.subtracting(notWrapped).filter { !code.contains($0 + "(") }.sorted()
        XCTAssertEqual(missing, [], "vlm.h functions without a Swift wrapper")
    }

    /// The Swift value types hold every field of the C structs they mirror
    /// (struct_size aside; TensorInfo folds n_dims into shape).
    func testValueTypesCarryEveryField() throws {
        func fields<T>(_ value: T) -> Int { Mirror(reflecting: value).children.count }
        let model = try Model(path: dataPath("tiny-smolvlm"))
        let session = try Session(model: model)
        XCTAssertEqual(fields(try session.timings()), fields(vlm_timings()) - 1)
        XCTAssertEqual(fields(try session.planImage(width: 4, height: 4)), fields(vlm_image_plan()) - 1)
        XCTAssertEqual(fields(try model.tensors()[0]), fields(vlm_tensor_info()) - 2)
        let item = try Grounding.parse("[{\"bbox_2d\": [1, 2, 3, 4]}]", imageWidth: 9, imageHeight: 9)[0]
        XCTAssertEqual(fields(item), fields(vlm_grounding_item()))
        XCTAssertGreaterThan(fields(vlm_timings()), 10)  // Mirror sees the C fields
    }

    func testEnumsMatchTheHeader() {
        XCTAssertEqual(Grounding.Kind.rejected.rawValue, Int32(VLM_GROUNDING_REJECTED.rawValue))
        XCTAssertEqual(Grounding.Reason.tooDeep.rawValue, Int32(VLM_GROUNDING_TOO_DEEP.rawValue))
        XCTAssertEqual(Grounding.Reason.truncated.rawValue, Int32(VLM_GROUNDING_TRUNCATED.rawValue))
        XCTAssertEqual(Image.SourceFormat.png.rawValue, VLM_IMAGE_FORMAT_PNG.rawValue)
        XCTAssertEqual(Image.PixelFormat.gray8.rawValue, VLM_PIXEL_GRAY8.rawValue)
        XCTAssertEqual(Image.Filter.hamming.rawValue, VLM_RESAMPLE_HAMMING.rawValue)
        XCTAssertEqual(Session.Role.assistant.rawValue, VLM_ROLE_ASSISTANT.rawValue)
        XCTAssertEqual(VLM.LogLevel.error.rawValue, VLM_LOG_ERROR.rawValue)
        XCTAssertEqual(Session.SafetyPolicy.dangerous.raw, VLM_SAFETY_DANGEROUS)
        XCTAssertEqual(Session.SafetyPolicy.sexual.raw, VLM_SAFETY_SEXUAL)
        XCTAssertEqual(Session.SafetyPolicy.violence.raw, VLM_SAFETY_VIOLENCE)
        XCTAssertEqual(Session.SafetyPolicy.custom("x").raw, VLM_SAFETY_CUSTOM)
        for status in 1...12 {
            let error = VLMError(status: Int32(status), message: "m")
            XCTAssertEqual(error.status, Int32(status))
            if case .unknown = error { XCTFail("status \(status) has no case") }
        }
        XCTAssertEqual(String(cString: vlm_status_string(VLM_ERR_INTERNAL)), "VLM_ERR_INTERNAL")
    }

    func testInspectLogAndSourceFormat() throws {
        let json = try VLM.inspect(path: dataPath("sample.jpg"))
        let info = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        XCTAssertEqual(info["kind"] as? String, "image")
        XCTAssertEqual(info["format"] as? String, "jpeg")
        XCTAssertEqual([info["width"] as? Int, info["height"] as? Int], [320, 240])
        let modelInfo = try JSONSerialization.jsonObject(
            with: Data(try VLM.inspect(path: dataPath("tiny-smolvlm")).utf8)) as! [String: Any]
        let listed = ((modelInfo["weights"] as! [String: Any])["tensors"] as! [[String: Any]])
            .map { $0["name"] as! String }
        XCTAssertEqual(Set(listed), Set(try Model(path: dataPath("tiny-smolvlm")).tensors().map(\.name)))
        XCTAssertThrowsError(try VLM.inspect(path: dataPath("no-such-file"))) {
            XCTAssertEqual(($0 as? VLMError)?.status, 3)
        }

        let received = Flag()
        var messages: [(VLM.LogLevel, String)] = []
        let lock = NSLock()
        VLM.setLogHandler(minimumLevel: .debug) { level, message in
            lock.lock(); messages.append((level, message)); lock.unlock()
            received.set(true)
        }
        XCTAssertThrowsError(try Image(data: Data("not an image".utf8)))  // failures log at debug
        VLM.setLogHandler(nil)
        XCTAssertTrue(received.isSet)
        XCTAssertTrue(messages.contains { $0.0 == .debug && $0.1.hasPrefix("VLM_ERR_FORMAT") }, "\(messages)")
        let count = messages.count
        XCTAssertThrowsError(try Image(data: Data("not an image".utf8)))
        XCTAssertEqual(messages.count, count)  // cleared

        XCTAssertEqual(try Image(contentsOfFile: dataPath("sample.jpg")).sourceFormat, .jpeg)
        XCTAssertEqual(try Image(contentsOfFile: dataPath("image/gray16_11x17.png")).sourceFormat, .png)
        XCTAssertEqual(try Image(pixels: [UInt8](repeating: 0, count: 3), width: 1, height: 1,
                                 format: .rgb8).sourceFormat, .raw)
    }
}
