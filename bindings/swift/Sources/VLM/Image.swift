import CVLM
import Foundation

/// An 8-bit RGB image, rows top to bottom. Immutable: any thread.
public final class Image: @unchecked Sendable {
    let handle: OpaquePointer

    public enum PixelFormat: UInt32 {
        case rgb8 = 0, rgba8 = 1, bgra8 = 2, bgr8 = 3, gray8 = 4

        public var bytesPerPixel: Int {
            switch self {
            case .rgb8, .bgr8: return 3
            case .rgba8, .bgra8: return 4
            case .gray8: return 1
            }
        }
    }

    /// What an image was made from.
    public enum SourceFormat: UInt32, Sendable {
        case raw = 0, jpeg = 1, png = 2
    }

    /// Resampling filters, numbered as PIL's Image.Resampling.
    public enum Filter: UInt32 {
        case nearest = 0, lanczos = 1, bilinear = 2, bicubic = 3, box = 4, hamming = 5
    }

    init(adopting handle: OpaquePointer) { self.handle = handle }

    deinit { vlm_image_free(handle) }

    private static func params(maxPixels: UInt64?, applyExifOrientation: Bool) -> vlm_image_params {
        var params = vlm_image_params()
        vlm_image_params_init(&params, cSizeof(vlm_image_params.self))
        if let maxPixels { params.max_pixels = maxPixels }
        params.apply_exif_orientation = applyExifOrientation
        return params
    }

    /// Decodes a JPEG or PNG file.
    public convenience init(contentsOfFile path: String, maxPixels: UInt64? = nil,
                            applyExifOrientation: Bool = true) throws {
        var params = Image.params(maxPixels: maxPixels, applyExifOrientation: applyExifOrientation)
        var out: OpaquePointer?
        try check(vlm_image_load_file(path, &params, &out))
        self.init(adopting: out!)
    }

    /// Decodes JPEG or PNG bytes.
    public convenience init(data: Data, maxPixels: UInt64? = nil,
                            applyExifOrientation: Bool = true) throws {
        var params = Image.params(maxPixels: maxPixels, applyExifOrientation: applyExifOrientation)
        var out: OpaquePointer?
        try data.withUnsafeBytes { bytes in
            try check(vlm_image_load_memory(bytes.baseAddress, bytes.count, &params, &out))
        }
        self.init(adopting: out!)
    }

    /// Copies a raw frame (a camera buffer): rows of width pixels,
    /// bytesPerRow apart (0: tightly packed). Alpha is composited over white.
    public convenience init(pixels: UnsafeRawBufferPointer, width: Int, height: Int,
                            bytesPerRow: Int = 0, format: PixelFormat) throws {
        self.init(adopting: try Image.copyPixels(pixels, width: width, height: height,
                                                 bytesPerRow: bytesPerRow, format: format))
    }

    /// Copies pixels from an array or Data; see init(pixels:width:height:bytesPerRow:format:).
    public convenience init<Bytes: ContiguousBytes>(pixels: Bytes, width: Int, height: Int,
                                                    bytesPerRow: Int = 0, format: PixelFormat) throws {
        self.init(adopting: try pixels.withUnsafeBytes {
            try Image.copyPixels($0, width: width, height: height, bytesPerRow: bytesPerRow,
                                 format: format)
        })
    }

    private static func copyPixels(_ pixels: UnsafeRawBufferPointer, width: Int, height: Int,
                                   bytesPerRow: Int, format: PixelFormat) throws -> OpaquePointer {
        // The library checks the extent too; this gives the Swift message first.
        let row = width * format.bytesPerPixel
        if bytesPerRow != 0 && bytesPerRow < row {
            throw VLMError.invalidArgument("bytesPerRow \(bytesPerRow) is less than a row (\(row) bytes)")
        }
        let needed = width == 0 || height == 0
            ? 0 : (bytesPerRow == 0 ? row : bytesPerRow) * (height - 1) + row
        if pixels.count < needed {
            throw VLMError.invalidArgument(
                "\(width)x\(height) \(format) needs \(needed) bytes, the buffer has \(pixels.count)")
        }
        guard let width32 = UInt32(exactly: width), let height32 = UInt32(exactly: height) else {
            throw VLMError.invalidArgument("image size \(width)x\(height) out of range")
        }
        var out: OpaquePointer?
        try check(vlm_image_from_pixels(pixels.baseAddress, pixels.count, width32, height32, bytesPerRow,
                                        vlm_pixel_format(rawValue: format.rawValue), &out))
        return out!
    }

    /// JPEG, PNG, or raw (made from a pixel buffer); nil for a format newer
    /// than these bindings.
    public var sourceFormat: SourceFormat? {
        SourceFormat(rawValue: vlm_image_source_format(handle).rawValue)
    }

    public var width: Int { Int(vlm_image_width(handle)) }
    public var height: Int { Int(vlm_image_height(handle)) }

    /// width*height*3 bytes of RGB (a copy).
    public var rgbBytes: [UInt8] {
        let count = width * height * 3
        return Array(UnsafeBufferPointer(start: vlm_image_pixels(handle), count: count))
    }

    /// A new image resized exactly as PIL's Image.resize((width, height), filter).
    public func resized(width: Int, height: Int, filter: Filter = .bicubic) throws -> Image {
        guard let w = UInt32(exactly: width), let h = UInt32(exactly: height) else {
            throw VLMError.invalidArgument("target size \(width)x\(height) out of range")
        }
        var out: OpaquePointer?
        try check(vlm_image_resize(handle, w, h, vlm_resample(rawValue: filter.rawValue), &out))
        return Image(adopting: out!)
    }
}
