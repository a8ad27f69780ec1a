import Foundation
import XCTest
@testable import VLM

// Sessions on the tiny SmolVLM fixture against what transformers does with it
// (tests/data/smolvlm-e2e, made by tests/gen/make_smolvlm_e2e.py), and the
// grounding table of tests/data/qwen2_5_vl. Every expected value comes from
// those reference files, never from libvlm itself.

let logitsTolerance: Float = 1e-3  // as tests/smolvlm/test_e2e.c
let pixelTolerance: Float = 1e-5   // as tests/smolvlm/test_processor.c

func referenceJSON(_ relative: String) throws -> [String: Any] {
    let data = try Data(contentsOf: dataDirectory.appendingPathComponent(relative))
    return try JSONSerialization.jsonObject(with: data) as! [String: Any]
}

/// A raw little-endian float32 file of the fixture.
func referenceFloats(_ relative: String) throws -> [Float] {
    let data = try Data(contentsOf: dataDirectory.appendingPathComponent(relative))
    return data.withUnsafeBytes { raw in
        (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
    }
}

func int32s(_ value: Any?) -> [Int32] { (value as! [NSNumber]).map { $0.int32Value } }
func ints(_ value: Any?) -> [Int] { (value as! [NSNumber]).map { $0.intValue } }
func doubles(_ value: Any?) -> [Double] { (value as! [NSNumber]).map { $0.doubleValue } }

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// The generator's synthetic image: (x*x + 3*y*y + 7*x*y + 50*c + (x ^ y)) mod 256.
func patternImage(width: Int, height: Int) throws -> Image {
    var rgb = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        for x in 0..<width {
            for c in 0..<3 {
                rgb[(y * width + x) * 3 + c] = UInt8((x * x + 3 * y * y + 7 * x * y + 50 * c + (x ^ y)) % 256)
            }
        }
    }
    return try Image(pixels: rgb, width: width, height: height, format: .rgb8)
}

func generateText(_ session: Session, prompt: String? = nil, images: [Image] = [],
                  maxTokens: Int32, stop: [String] = []) async throws -> String {
    var options = Session.GenerateOptions()
    options.maxTokens = maxTokens
    options.stop = stop
    var text = ""
    for try await piece in session.generate(prompt: prompt, images: images, options: options) {
        text += piece
    }
    return text
}

func droppingLeadingSpaces(_ text: String) -> String { String(text.drop { $0 == " " }) }

/// A flag another thread reads (the progress callback runs on generate's thread).
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ on: Bool) { lock.lock(); value = on; lock.unlock() }
}

final class ReferenceTests: XCTestCase {
    var expected: [String: Any] = [:]
    var sample: Image!
    var model: Model!

    override func setUpWithError() throws {
        expected = try referenceJSON("smolvlm-e2e/expected.json")
        sample = try Image(contentsOfFile: dataPath("sample.jpg"))
        model = try Model(path: dataPath("tiny-smolvlm"))
    }

    var maxTiles: Int32 { Int32(expected["max_image_tiles"] as! Int) }
    var maxNewTokens: Int32 { Int32(expected["max_new_tokens"] as! Int) }
    var question: String { expected["question"] as! String }
    func reference(_ name: String) -> [String: Any] { expected[name] as! [String: Any] }

    func assertMatches(_ session: Session, _ name: String, _ text: String,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let want = reference(name)
        XCTAssertEqual(try session.promptTokens(), int32s(want["prompt_ids"]), name, file: file, line: line)
        let logits = try session.promptLogits()
        let wantLogits = try referenceFloats("smolvlm-e2e/" + (want["logits"] as! String))
        XCTAssertEqual(logits.count, wantLogits.count, name, file: file, line: line)
        if logits.count == wantLogits.count {
            XCTAssertLessThanOrEqual(maxAbsDiff(logits, wantLogits), logitsTolerance, name,
                                     file: file, line: line)
        }
        XCTAssertEqual(droppingLeadingSpaces(text), want["answer"] as! String, name, file: file, line: line)
    }

    func testOneImageThenAFollowUpMatchTransformers() async throws {
        let session = try Session(model: model, maxImageTiles: maxTiles)
        var text = try await generateText(session, prompt: question, images: [sample], maxTokens: maxNewTokens)
        try assertMatches(session, "one_image", text)
        var t = try session.timings()
        XCTAssertEqual(Int(t.promptTokens), int32s(reference("one_image")["prompt_ids"]).count)
        XCTAssertEqual(Int(t.generatedTokens), int32s(reference("one_image")["generated_ids"]).count)
        let seqLen = try referenceJSON("smolvlm-e2e/processor.json")["image_seq_len"] as! Int
        XCTAssertEqual(Int(t.imageTokens), (reference("one_image")["n_frames"] as! Int) * seqLen)

        text = try await generateText(session, prompt: expected["follow_up"] as? String, maxTokens: maxNewTokens)
        try assertMatches(session, "two_turns", text)
        t = try session.timings()
        XCTAssertTrue(t.prefillTokens > 0 && t.prefillTokens < t.promptTokens, "\(t)")  // KV cache reused
    }

    func testStopStringCutsTheReferenceAnswer() async throws {
        let answer = reference("one_image")["answer"] as! String
        let stop = "medal"
        let session = try Session(model: model, maxImageTiles: maxTiles)
        let text = try await generateText(session, prompt: question, images: [sample],
                                          maxTokens: maxNewTokens, stop: [stop, "never said"])
        XCTAssertEqual(droppingLeadingSpaces(text), String(answer[..<answer.range(of: stop)!.lowerBound]))
    }

    func testImageCacheServesASecondSession() async throws {
        let wantIds = int32s(reference("one_image")["prompt_ids"])
        let wantLogits = try referenceFloats("smolvlm-e2e/" + (reference("one_image")["logits"] as! String))
        for (cacheBytes, cached) in [(nil, Int32(1)), (UInt64(0), Int32(0))] as [(UInt64?, Int32)] {
            let model = try Model(path: dataPath("tiny-smolvlm"), imageCacheBytes: cacheBytes)
            for round in 0..<2 {
                let session = try Session(model: model, maxImageTiles: maxTiles)
                _ = try await generateText(session, prompt: question, images: [sample], maxTokens: 1)
                let t = try session.timings()
                XCTAssertEqual(t.cachedImages, round == 1 ? cached : 0, "cache \(String(describing: cacheBytes)) round \(round)")
                XCTAssertEqual(t.encodeMilliseconds == 0, t.cachedImages > 0)
                XCTAssertEqual(try session.promptTokens(), wantIds)
                XCTAssertLessThanOrEqual(maxAbsDiff(try session.promptLogits(), wantLogits), logitsTolerance)
            }
        }
    }

    func testVideoTurnMatchesTransformers() async throws {
        let video = try referenceJSON("smolvlm-e2e/video.json")
        let frames = try (video["frame_sizes"] as! [[Int]]).map { try patternImage(width: $0[0], height: $0[1]) }
        let session = try Session(model: model)
        try session.addVideoTurn(.user, video["question"] as! String, frames: frames,
                                 timestamps: doubles(video["timestamps"]),
                                 duration: (video["duration"] as! NSNumber).doubleValue)
        let wantGenerated = int32s(video["generated_ids"])
        let text = try await generateText(session, maxTokens: Int32(wantGenerated.count))
        XCTAssertEqual(try session.promptTokens(), int32s(video["prompt_ids"]))
        let wantLogits = try referenceFloats("smolvlm-e2e/" + (video["logits"] as! String))
        XCTAssertLessThanOrEqual(maxAbsDiff(try session.promptLogits(), wantLogits), logitsTolerance)
        XCTAssertEqual(Int(try session.timings().generatedTokens), wantGenerated.count)
        // the text of the reference's greedy ids
        let want = try model.tokenizer!.decode(wantGenerated, skipSpecial: true)
        XCTAssertEqual(droppingLeadingSpaces(text), droppingLeadingSpaces(want))

        XCTAssertThrowsError(try session.addVideoTurn(.user, "x", frames: frames, timestamps: [0, 1])) {
            XCTAssertEqual(($0 as? VLMError)?.status, 1)
        }
        XCTAssertThrowsError(try session.addVideoTurn(.user, "x", frames: frames, timestamps: [0, -1, 2])) {
            XCTAssertEqual(($0 as? VLMError)?.status, 1)  // from libvlm: not increasing
            XCTAssertFalse(($0 as? VLMError)?.message.isEmpty ?? true)
        }
    }

    func testVideoFrameIndicesMatchSampleFrames() throws {
        let video = try referenceJSON("smolvlm-e2e/video.json")
        let session = try Session(model: model)
        for case let c as [String: Any] in video["sampling"] as! [Any] {
            let got = try session.videoFrameIndices(totalFrames: c["total_frames"] as! Int,
                                                    videoFPS: (c["video_fps"] as! NSNumber).doubleValue,
                                                    fps: (c["fps"] as! NSNumber).doubleValue,
                                                    maxFrames: c["max_frames"] as! Int)
            XCTAssertEqual(got, ints(c["indices"]), "\(c)")
        }
        XCTAssertThrowsError(try session.videoFrameIndices(totalFrames: 0, videoFPS: 30, fps: 1, maxFrames: 8))
    }

    func testPixelValuesMatchTheProcessor() throws {
        let cases = try referenceJSON("smolvlm-e2e/processor.json")["cases"] as! [[String: Any]]
        for name in ["sample_jpg_capped", "sample_jpg"] {
            let c = cases.first { $0["name"] as? String == name }!
            let session = try Session(model: model, maxImageTiles: Int32(c["max_tiles"] as! Int))
            let plan = try session.planImage(sample)
            let tile = c["tile"] as! Int
            XCTAssertEqual([plan.frames, plan.rows, plan.columns, plan.frameWidth, plan.frameHeight],
                           [c["n_frames"] as! Int, c["rows"] as! Int, c["cols"] as! Int, tile, tile], name)
            let pixels = try session.pixelValues(for: sample)
            XCTAssertEqual([pixels.frames, pixels.channels, pixels.height, pixels.width],
                           [c["n_frames"] as! Int, 3, tile, tile], name)
            let sums = doubles(c["frame_sums"]), absSums = doubles(c["frame_abs_sums"])
            let perFrame = Double(3 * tile * tile)
            for k in 0..<pixels.frames {
                var sum = 0.0, absSum = 0.0
                for v in pixels.frame(k) { sum += Double(v); absSum += Double(abs(v)) }
                XCTAssertLessThanOrEqual(abs(sum - sums[k]), 1e-6 * perFrame, "\(name) frame \(k)")
                XCTAssertLessThanOrEqual(abs(absSum - absSums[k]), 1e-6 * perFrame, "\(name) frame \(k)")
            }
            let index = ints(c["sample_index"]), value = doubles(c["sample_value"])
            let worst = zip(index, value).reduce(Float(0)) { max($0, abs(pixels.values[$1.0] - Float($1.1))) }
            XCTAssertLessThanOrEqual(worst, pixelTolerance, name)
        }
    }

    func testSessionProgressReportsAndCancels() async throws {
        var seen: [Float] = []
        let watched = try Session(model: model, maxImageTiles: maxTiles, progress: { seen.append($0); return true })
        try watched.addTurn(.user, question, images: [sample])
        XCTAssertEqual(seen.first, 0)
        XCTAssertEqual(seen.last, 1)
        XCTAssertEqual(seen, seen.sorted())
        XCTAssertTrue(seen.allSatisfy { (0...1).contains($0) })

        let cancel = Flag()
        let session = try Session(model: model, maxImageTiles: maxTiles, progress: { _ in !cancel.isSet })
        cancel.set(true)
        XCTAssertThrowsError(try session.addTurn(.user, "a turn that never happened", images: [sample])) {
            guard case .cancelled? = $0 as? VLMError else { return XCTFail("\($0)") }
        }
        cancel.set(false)
        try session.addTurn(.user, question, images: [sample])
        cancel.set(true)
        do {  // cancelled during the prefill, on generate's thread
            _ = try await generateText(session, maxTokens: 4)
            XCTFail("the prefill was not cancelled")
        } catch VLMError.cancelled {
        }
        cancel.set(false)
        _ = try await generateText(session, maxTokens: 1)
        // the cancelled turn left nothing behind: the prompt is the reference's
        XCTAssertEqual(try session.promptTokens(), int32s(reference("one_image")["prompt_ids"]))
    }

    func testParseGroundingMatchesTheTable() throws {
        let cases = try referenceJSON("qwen2_5_vl/grounding.json")["cases"] as! [[String: Any]]
        XCTAssertGreaterThan(cases.count, 20)
        let kinds: [Grounding.Kind: String] = [.box: "box", .point: "point", .rejected: "rejected"]
        let reasons: [Grounding.Reason: String] = [
            .ok: "ok", .noCoordinates: "no_coordinates", .wrongArity: "wrong_arity",
            .notANumber: "not_a_number", .truncated: "truncated", .notAnObject: "not_an_object",
            .tooDeep: "too_deep"]
        for (i, c) in cases.enumerated() {
            let answer = c["answer"] as! String
            let items = try Grounding.parse(answer, imageWidth: c["width"] as! Int,
                                            imageHeight: c["height"] as! Int,
                                            resizedWidth: c["resized_width"] as! Int,
                                            resizedHeight: c["resized_height"] as! Int)
            let want = c["items"] as! [[String: Any]]
            XCTAssertEqual(items.count, want.count, "case \(i): \(answer)")
            for (item, w) in zip(items, want) {
                XCTAssertEqual(kinds[item.kind], w["kind"] as? String, "case \(i)")
                XCTAssertEqual(reasons[item.reason], w["reason"] as? String, "case \(i)")
                XCTAssertEqual(item.label, w["label"] as? String, "case \(i)")
                for (got, expect) in zip([item.x1, item.y1, item.x2, item.y2], doubles(w["coords"])) {
                    XCTAssertLessThanOrEqual(abs(Double(got) - expect), 1e-3 + 1e-6 * abs(expect), "case \(i)")
                }
                XCTAssertTrue((0..<answer.utf8.count).contains(item.byteOffset), "case \(i)")
            }
        }
        XCTAssertEqual(try Grounding.parse("no JSON here", imageWidth: 10, imageHeight: 10), [])
        XCTAssertThrowsError(try Grounding.parse("[]", imageWidth: 0, imageHeight: 10)) {
            XCTAssertEqual(($0 as? VLMError)?.status, 1)
        }
    }
}
