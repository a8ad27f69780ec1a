// vlm-snap: the shape of an on-device "point the camera, ask a question"
// tool. One image, one question, the answer streamed, then timings.
//
//   vlm-snap MODEL IMAGE "QUESTION" [--max-tokens N]
// The image plan (tiles, tokens, memory) goes to stderr before generating,
// the timings of vlm_session_timings after it.
import Foundation
import VLM

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("vlm-snap: \(message)\n".utf8))
    exit(1)
}

var arguments = Array(CommandLine.arguments.dropFirst())
var options = Session.GenerateOptions()
if let flag = arguments.firstIndex(of: "--max-tokens"), flag + 1 < arguments.count {
    options.maxTokens = Int32(arguments[flag + 1]) ?? options.maxTokens
    arguments.removeSubrange(flag...(flag + 1))
}
guard arguments.count == 3 else {
    fail("usage: vlm-snap MODEL IMAGE \"QUESTION\" [--max-tokens N]  (libvlm \(VLM.version))")
}
let (modelPath, imagePath, question) = (arguments[0], arguments[1], arguments[2])

func milliseconds(since start: Date) -> String { String(format: "%.1f ms", -start.timeIntervalSinceNow * 1000) }

do {
    var start = Date()
    let model = try Model(path: modelPath)
    let loadTime = milliseconds(since: start)
    start = Date()
    let image = try Image(contentsOfFile: imagePath)
    let decodeTime = milliseconds(since: start)
    let session = try Session(model: model)
    // What the image will cost, known before any pixel is encoded.
    let plan = try session.planImage(image)
    FileHandle.standardError.write(Data("""
        image plan: \(plan.frames) frame(s) of \(plan.frameWidth)x\(plan.frameHeight) \
        (\(plan.rows)x\(plan.columns) tiles), \(plan.imageTokens) image tokens, \
        \(plan.workBytes / 1024) KiB while encoding, \(plan.featureBytes / 1024) KiB kept

        """.utf8))

    start = Date()
    var firstPiece: String?
    let finished = DispatchSemaphore(value: 0)
    var failure: Error?
    Task {
        do {
            for try await piece in session.generate(prompt: question, images: [image], options: options) {
                if firstPiece == nil { firstPiece = milliseconds(since: start) }
                print(piece, terminator: "")
                fflush(stdout)
            }
        } catch {
            failure = error
        }
        finished.signal()
    }
    finished.wait()
    print()
    fflush(stdout)
    if let failure { throw failure }
    let t = try session.timings()
    func ms(_ value: Double) -> String { String(format: "%.1f ms", value) }
    // Wall-clock times measured here, then the library's own (vlm_session_timings).
    FileHandle.standardError.write(Data("""
        load \(loadTime) (libvlm: \(ms(t.loadMilliseconds))), image \(image.width)x\(image.height) decoded in \(decodeTime), \
        first piece after \(firstPiece ?? "-"), total \(milliseconds(since: start))
        preprocess \(ms(t.preprocessMilliseconds)), encode \(ms(t.encodeMilliseconds)), \
        prefill \(ms(t.prefillMilliseconds)) (\(t.prefillTokens) of \(t.promptTokens) tokens, \
        \(t.imageTokens) for the image, \(String(format: "%.1f", t.prefillTokensPerSecond)) tok/s), \
        decode \(ms(t.decodeMilliseconds)) (\(t.generatedTokens) tokens, \
        \(String(format: "%.1f", t.decodeTokensPerSecond)) tok/s)

        """.utf8))
} catch let error as VLMError {
    fail(error.message)
} catch {
    fail("\(error)")
}
