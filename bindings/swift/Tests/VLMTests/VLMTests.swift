import Foundation
import XCTest
@testable import VLM

/// tests/data of this repository, found relative to this file.
let dataDirectory: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // VLMTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()  // swift
    .deletingLastPathComponent()  // bindings
    .deletingLastPathComponent()  // repository
    .appendingPathComponent("tests/data")

func dataPath(_ relative: String) -> String { dataDirectory.appendingPathComponent(relative).path }

final class VLMTests: XCTestCase {
    func testVersionMatchesHeader() {
        XCTAssertEqual(VLM.versionNumber / 100, VLM.headerVersionNumber / 100)
        XCTAssertTrue(VLM.version.hasPrefix("0.1."))
        XCTAssertTrue(VLM.buildInfo.hasPrefix("libvlm"))
    }

    func testTokenizerMatchesExpectedIds() throws {
        let tokenizer = try Tokenizer(path: dataPath("tiny-smolvlm/tokenizer.json"))
        XCTAssertEqual(tokenizer.vocabularySize, 49280)
        let corpus = try String(contentsOfFile: dataPath("text/corpus.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        let expected = try String(contentsOfFile: dataPath("text/expected-smolvlm.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        XCTAssertEqual(corpus.count, expected.count)
        for (line, record) in zip(corpus, expected).prefix(200) {
            let text = try JSONSerialization.jsonObject(with: Data(line.utf8),
                                                        options: .fragmentsAllowed) as! String
            let object = try JSONSerialization.jsonObject(with: Data(record.utf8)) as! [String: Any]
            let ids = (object["ids"] as! [NSNumber]).map { $0.int32Value }
            XCTAssertEqual(try tokenizer.encode(text, addSpecial: true, parseSpecial: true), ids, text)
        }
    }

    func testDecodePieceLookup() throws {
        let tokenizer = try Tokenizer(path: dataPath("tiny-smolvlm/tokenizer.json"))
        let text = "Héllo 🙂 world"
        XCTAssertEqual(try tokenizer.decode(try tokenizer.encode(text, addSpecial: false)), text)
        XCTAssertEqual(tokenizer.lookup("<image>"), 49190)
        XCTAssertEqual(try tokenizer.piece(for: 49190), "<image>")
        XCTAssertNil(tokenizer.lookup("surely not a token"))
    }

    func testImageFromRawBufferRoundTrip() throws {
        // 2x2 BGRA rows padded to 16 bytes, as a camera delivers them
        let red: [UInt8] = [0, 0, 255, 255], green: [UInt8] = [0, 255, 0, 255]
        let pad = [UInt8](repeating: 0, count: 8)
        let frame = red + green + pad + green + red + pad
        let image = try Image(pixels: frame, width: 2, height: 2, bytesPerRow: 16, format: .bgra8)
        XCTAssertEqual(image.width, 2)
        XCTAssertEqual(image.rgbBytes, [255, 0, 0, 0, 255, 0, 0, 255, 0, 255, 0, 0])
        let rgb = try Image(pixels: image.rgbBytes, width: 2, height: 2, format: .rgb8)
        XCTAssertEqual(rgb.rgbBytes, image.rgbBytes)
        XCTAssertThrowsError(try Image(pixels: [UInt8](repeating: 0, count: 11), width: 2, height: 2,
                                       format: .rgb8)) { error in
            XCTAssertEqual((error as? VLMError)?.status, 1)
        }
    }

    func testImageDecodeMatchesReference() throws {
        let image = try Image(contentsOfFile: dataPath("image/rgb_420_37x23.jpg"))
        XCTAssertEqual([image.width, image.height], [37, 23])
        let reference = try Data(contentsOf: dataDirectory.appendingPathComponent("image/rgb_420_37x23.jpg.rgb"))
        XCTAssertEqual(image.rgbBytes, [UInt8](reference))
        let fromData = try Image(data: try Data(contentsOf: dataDirectory.appendingPathComponent("sample.jpg")))
        XCTAssertEqual([fromData.width, fromData.height], [320, 240])
        let resized = try fromData.resized(width: 64, height: 48, filter: .lanczos)
        XCTAssertEqual([resized.width, resized.height], [64, 48])
    }

    func testModelLoadArchitectureTensors() throws {
        var reported: [Float] = []
        let model = try Model(path: dataPath("tiny-smolvlm"), progress: { reported.append($0); return true })
        XCTAssertEqual(model.architecture, "Idefics3ForConditionalGeneration")
        XCTAssertEqual(reported.first, 0)
        XCTAssertEqual(reported.last, 1)
        let tensors = try model.tensors()
        XCTAssertEqual(tensors.count, 59)
        let head = try XCTUnwrap(tensors.first { $0.name == "lm_head.weight" })
        XCTAssertEqual(head.shape, [49280, 16])
        XCTAssertEqual(model.tokenizer?.lookup("<image>"), 49190)
    }

    func testProgressCancels() {
        XCTAssertThrowsError(try Model(path: dataPath("tiny-smolvlm"), progress: { _ in false })) { error in
            guard case .cancelled(let message)? = error as? VLMError else {
                return XCTFail("expected cancelled, got \(error)")
            }
            XCTAssertFalse(message.isEmpty)
        }
    }

    func testErrorsCarryMessages() {
        XCTAssertThrowsError(try Model(path: dataPath("no-such-model"))) { error in
            guard case .io(let message)? = error as? VLMError else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("no-such-model"), message)
        }
        XCTAssertThrowsError(try Image(data: Data("not an image".utf8))) { error in
            XCTAssertEqual((error as? VLMError)?.status, 4)  // VLM_ERR_FORMAT
            XCTAssertFalse((error as? VLMError)?.message.isEmpty ?? true)
        }
        XCTAssertThrowsError(try Tokenizer(path: dataPath("missing/tokenizer.json"))) { error in
            XCTAssertEqual((error as? VLMError)?.status, 3)  // VLM_ERR_IO
        }
    }

    func testSessionStreamsText() async throws {
        let model = try Model(path: dataPath("tiny-smolvlm"))
        let session = try Session(model: model)
        var options = Session.GenerateOptions()
        options.maxTokens = 4
        var pieces: [String] = []
        for try await piece in session.generate(prompt: "Hi", options: options) { pieces.append(piece) }
        XCTAssertFalse(pieces.isEmpty)
        XCTAssertLessThanOrEqual(try session.timings().generatedTokens, 4)
        // pieces concatenate to the text of the ids they came from (ReferenceTests
        // compares whole answers with transformers)
        XCTAssertThrowsError(try Session(model: model, contextLength: -1)) { error in
            XCTAssertEqual((error as? VLMError)?.status, 1)
        }
        // the other families' fields reach libvlm (which checks their range)
        _ = try Session(model: model, panAndScan: 1, minImagePixels: 1 << 10, maxImagePixels: 1 << 20)
        XCTAssertThrowsError(try Session(model: model, panAndScan: 2)) { error in
            XCTAssertTrue((error as? VLMError)?.message.contains("pan_and_scan") ?? false, "\(error)")
        }
        XCTAssertThrowsError(try Session(model: model, maxImagePixels: -1)) { error in
            XCTAssertTrue((error as? VLMError)?.message.contains("max_image_pixels") ?? false, "\(error)")
        }
        // an f16 KV cache (VLM_DTYPE_F16); other element types are refused
        _ = try Session(model: model, kvCacheType: 1)
        XCTAssertThrowsError(try Session(model: model, kvCacheType: 2)) { error in
            XCTAssertTrue((error as? VLMError)?.message.contains("kv_cache_type") ?? false, "\(error)")
        }
        // q8_0 (VLM_DTYPE_Q8_0) needs heads of a multiple of 32 dims; this model's have 8
        XCTAssertThrowsError(try Session(model: model, kvCacheType: 3)) { error in
            XCTAssertTrue((error as? VLMError)?.message.contains("q8_0 KV cache needs heads") ?? false,
                          "\(error)")
        }
    }

    /// No ShieldGemma 2 fixture exists yet: what can be checked is the
    /// wrapper's plumbing and libvlm's refusal of another family.
    func testSafetyScoreNeedsAShieldGemmaModel() async throws {
        let model = try Model(path: dataPath("tiny-smolvlm"))
        let session = try Session(model: model)
        let image = try Image(contentsOfFile: dataPath("sample.jpg"))
        for policy in [Session.SafetyPolicy.dangerous, .sexual, .violence, .custom("No cats.")] {
            XCTAssertThrowsError(try session.safetyScore(image, policy: policy)) { error in
                guard case .unsupported(let message)? = error as? VLMError else { return XCTFail("\(error)") }
                XCTAssertTrue(message.contains("ShieldGemma 2") &&
                              message.contains("Idefics3ForConditionalGeneration"), message)
            }
        }
        // the session is untouched and still usable
        var options = Session.GenerateOptions()
        options.maxTokens = 2
        for try await _ in session.generate(prompt: "Hi", options: options) {}
        XCTAssertGreaterThan(try session.timings().generatedTokens, 0)
    }
}
