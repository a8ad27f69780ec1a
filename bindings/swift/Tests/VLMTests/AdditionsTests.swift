import Foundation
import XCTest
@testable import VLM

/// Resident set size now, from /proc/self/statm (Linux only), else nil.
func residentBytes() -> Int? {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else {
        return nil
    }
    let fields = statm.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// A trained byte-level BPE tokenizer.json from the unit fixtures: it loads
/// in well under a millisecond, so a thousand loads stay fast.
func smallTokenizerPath() throws -> String {
    let units = try JSONSerialization.jsonObject(
        with: Data(contentsOf: dataDirectory.appendingPathComponent("text/units.json"))) as! [String: Any]
    let bytelevel = (units["bases"] as! [String: Any])["bytelevel"]!
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("vlm-swift-\(getpid())-tokenizer.json")
    try JSONSerialization.data(withJSONObject: bytelevel).write(to: path)
    return path.path
}

final class AdditionsTests: XCTestCase {
    func testDetokenizerStreamMatchesDecode() throws {
        let tokenizer = try Tokenizer(path: dataPath("tiny-smolvlm/tokenizer.json"))
        let text = "Héllo 🙂 world, ünïcödé ✓"
        let ids = try tokenizer.encode(text, addSpecial: false)
        let stream = try tokenizer.detokenizer()
        var pieces: [String] = []
        for id in ids { pieces.append(try stream.push(id)) }
        pieces.append(try stream.flush())
        XCTAssertEqual(pieces.joined(), try tokenizer.decode(ids))
        XCTAssertEqual(pieces.joined(), text)
        // No piece ever ends inside a character (byte-level ids split the emoji).
        XCTAssertFalse(pieces.contains { $0.contains("\u{FFFD}") })
        XCTAssertTrue(pieces.contains(""), "some id should have completed no character")
    }

    func testDetokenizerFlushRendersUnfinishedCharacterLikeDecode() throws {
        let tokenizer = try Tokenizer(path: dataPath("tiny-smolvlm/tokenizer.json"))
        let ids = try tokenizer.encode("a🙂", addSpecial: false)
        // Drop ids from the end until the rest no longer decodes to whole characters.
        guard let cut = (1..<ids.count).reversed().first(where: {
            (try? tokenizer.decode(Array(ids[0..<$0])))?.hasSuffix("\u{FFFD}") == true
        }) else { throw XCTSkip("the emoji is a single token in this vocabulary") }
        let stream = try tokenizer.detokenizer()
        var text = ""
        for id in ids[0..<cut] { text += try stream.push(id) }
        XCTAssertFalse(text.contains("\u{FFFD}"))
        text += try stream.flush()
        XCTAssertEqual(text, try tokenizer.decode(Array(ids[0..<cut])))
        // flush started a new stream
        XCTAssertEqual(try ids.map { try stream.push($0) }.joined() + (try stream.flush()), "a🙂")
    }

    func testPlanImageBeforeEncoding() throws {
        let model = try Model(path: dataPath("tiny-smolvlm"))
        let session = try Session(model: model)
        let plan = try session.planImage(width: 320, height: 240)
        // SmolVLM: 3x4 tiles of 512 plus the global image, 64 tokens each (as Python sees it)
        XCTAssertEqual(plan, Session.ImagePlan(frames: 13, rows: 3, columns: 4, frameWidth: 512,
                                               frameHeight: 512, imageTokens: 832,
                                               workBytes: 18_874_368, featureBytes: 53_248))
        let capped = try Session(model: model, maxImageTiles: 1)
        let image = try Image(contentsOfFile: dataPath("sample.jpg"))
        let single = try capped.planImage(image)
        XCTAssertEqual([single.frames, single.rows, single.columns, single.imageTokens], [1, 0, 0, 64])
        XCTAssertThrowsError(try session.planImage(width: -1, height: 2))
    }

    func testTimingsOfAGenerateWithAnImage() async throws {
        let model = try Model(path: dataPath("tiny-smolvlm"))
        let session = try Session(model: model, maxImageTiles: 1)
        let before = try session.timings()
        XCTAssertEqual(before.generatedTokens, 0)
        XCTAssertGreaterThan(before.loadMilliseconds, 0)
        let image = try Image(pixels: [UInt8](repeating: 200, count: 32 * 24 * 3), width: 32,
                              height: 24, format: .rgb8)
        var options = Session.GenerateOptions()
        options.maxTokens = 5
        var text = ""
        for try await piece in session.generate(prompt: "What is this?", images: [image],
                                                options: options) { text += piece }
        let t = try session.timings()
        XCTAssertEqual(t.imageTokens, Int32(try session.planImage(image).imageTokens))
        XCTAssertGreaterThan(t.promptTokens, t.imageTokens)
        XCTAssertEqual(t.prefillTokens, t.promptTokens)  // a first generate caches nothing
        XCTAssertTrue((1...5).contains(t.generatedTokens), "\(t.generatedTokens)")
        XCTAssertGreaterThan(t.encodeMilliseconds, 0)
        XCTAssertGreaterThan(t.prefillTokensPerSecond, 0)
        XCTAssertEqual(t.loadMilliseconds, before.loadMilliseconds)
    }

    /// 1,000 create/free loops of images and tokenizers (with a detokenizer
    /// each) must not grow resident memory by anything like a leak of them.
    func testThousandCreateFreeLoopsDoNotLeak() throws {
        guard residentBytes() != nil else { throw XCTSkip("no /proc/self/statm on this platform") }
        let jpeg = try Data(contentsOf: dataDirectory.appendingPathComponent("sample.jpg"))
        let tokenizerPath = try smallTokenizerPath()
        defer { try? FileManager.default.removeItem(atPath: tokenizerPath) }
        let pixels = [UInt8](repeating: 7, count: 64 * 48 * 4)

        func growth(of make: () throws -> Void) rethrows -> Int {
            for _ in 0..<50 { try make() }  // warm the allocator's caches first
            let before = residentBytes()!
            for _ in 0..<1000 { try make() }
            return residentBytes()! - before
        }

        let imageGrowth = try growth {
            let decoded = try Image(data: jpeg)  // 230 KB of pixels
            _ = try decoded.resized(width: 64, height: 48)
            _ = try Image(pixels: pixels, width: 64, height: 48, format: .bgra8)
        }
        XCTAssertLessThan(imageGrowth, 1000 * 320 * 240 * 3 / 4, "images: RSS grew \(imageGrowth) bytes")

        let tokenizerGrowth = try growth {
            let tokenizer = try Tokenizer(path: tokenizerPath)
            let ids = try tokenizer.encode("hello there, general", addSpecial: false)
            let stream = try tokenizer.detokenizer()
            _ = try stream.push(ids[0])  // abandoned mid-stream: freed with the object
        }
        XCTAssertLessThan(tokenizerGrowth, 1000 * 16 * 1024 / 4,
                          "tokenizers: RSS grew \(tokenizerGrowth) bytes")
    }
}
