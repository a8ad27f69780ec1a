// Conveniences for Apple frameworks; compiled only where they exist.
#if canImport(CoreGraphics)
import CoreGraphics

extension Image {
    /// Draws a CGImage into an RGBA buffer (alpha premultiplied-last, sRGB)
    /// and copies it.
    public convenience init(cgImage: CGImage) throws {
        let width = cgImage.width, height = cgImage.height
        let bytesPerRow = width * 4
        var rgba = [UInt8](repeating: 0, count: bytesPerRow * height)
        let drawn: Bool = rgba.withUnsafeMutableBytes { buffer in
            guard let context = CGContext(
                data: buffer.baseAddress, width: width, height: height, bitsPerComponent: 8,
                bytesPerRow: bytesPerRow, space: CGColorSpace(name: CGColorSpace.sRGB)!,
                bitmapInfo: CGImageAlphaInfo.noneSkipLast.rawValue) else { return false }
            context.draw(cgImage, in: CGRect(x: 0, y: 0, width: width, height: height))
            return true
        }
        guard drawn else { throw VLMError.invalidArgument("cannot draw the CGImage as RGBA") }
        // noneSkipLast: the fourth byte is padding, so mark it opaque
        for i in stride(from: 3, to: rgba.count, by: 4) { rgba[i] = 255 }
        try self.init(pixels: rgba, width: width, height: height, bytesPerRow: bytesPerRow,
                      format: .rgba8)
    }
}
#endif

#if canImport(CoreVideo)
import CoreVideo

extension Image {
    /// Copies a camera frame in kCVPixelFormatType_32BGRA or 24RGB.
    public convenience init(pixelBuffer: CVPixelBuffer) throws {
        let format: PixelFormat
        switch CVPixelBufferGetPixelFormatType(pixelBuffer) {
        case kCVPixelFormatType_32BGRA: format = .bgra8
        case kCVPixelFormatType_32RGBA: format = .rgba8
        case kCVPixelFormatType_24RGB: format = .rgb8
        case kCVPixelFormatType_24BGR: format = .bgr8
        case kCVPixelFormatType_OneComponent8: format = .gray8
        case let other:
            throw VLMError.unsupported("CVPixelBuffer pixel format \(other); use 32BGRA")
        }
        CVPixelBufferLockBaseAddress(pixelBuffer, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(pixelBuffer, .readOnly) }
        let width = CVPixelBufferGetWidth(pixelBuffer), height = CVPixelBufferGetHeight(pixelBuffer)
        let bytesPerRow = CVPixelBufferGetBytesPerRow(pixelBuffer)
        let buffer = UnsafeRawBufferPointer(start: CVPixelBufferGetBaseAddress(pixelBuffer),
                                            count: bytesPerRow * height)
        try self.init(pixels: buffer, width: width, height: height, bytesPerRow: bytesPerRow,
                      format: format)
    }
}
#endif
