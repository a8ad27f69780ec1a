import CVLM

/// A Hugging Face hub directory or a GGUF file, weights memory-mapped.
/// Immutable once loaded: any number of threads may use it.
public final class Model: @unchecked Sendable {
    let handle: OpaquePointer

    public struct TensorInfo: Equatable, Sendable {
        public let name: String
        public let dtype: Int32      // a vlm_dtype value (VLM_DTYPE_*)
        public let shape: [Int64]    // outermost first, as in safetensors
        public let byteCount: UInt64
    }

    /// Holds the progress closure for the C callback's user_data.
    private final class ProgressBox {
        let progress: (Float) -> Bool
        init(_ progress: @escaping (Float) -> Bool) { self.progress = progress }
    }

    /// Loads a model. progress (on the loading thread) gets a fraction in
    /// [0, 1] and may return false to cancel: the load then throws
    /// VLMError.cancelled. imageCacheBytes: encoded image features the model
    /// keeps for all its sessions, so that the same picture added again
    /// skips the vision encoder (nil: the library's default, 64 MiB; 0
    /// disables). mmprojPath: with a GGUF model, llama.cpp's multimodal
    /// projector file (mmproj-*.gguf) holding its vision tower (Gemma 3);
    /// nil: none.
    public init(path: String, threads: Int32 = 0, imageCacheBytes: UInt64? = nil,
                mmprojPath: String? = nil, progress: ((Float) -> Bool)? = nil) throws {
        var params = vlm_model_params()
        vlm_model_params_init(&params, cSizeof(vlm_model_params.self))
        params.n_threads = threads
        if let imageCacheBytes { params.image_cache_bytes = imageCacheBytes }
        var box: ProgressBox?
        if let progress {
            box = ProgressBox(progress)
            params.progress = { fraction, userData in
                Unmanaged<ProgressBox>.fromOpaque(userData!).takeUnretainedValue().progress(fraction)
            }
            params.progress_user_data = Unmanaged.passUnretained(box!).toOpaque()
        }
        var out: OpaquePointer?
        let status: vlm_status = withExtendedLifetime(box) {
            guard let mmprojPath else { return vlm_model_load(path, &params, &out) }
            // the C string lives for the call, the only time C reads it
            return mmprojPath.withCString { mmproj in
                params.mmproj_path = mmproj
                return vlm_model_load(path, &params, &out)
            }
        }
        try check(status)
        handle = out!
    }

    deinit { vlm_model_free(handle) }

    /// "Idefics3ForConditionalGeneration", or GGUF general.architecture.
    public var architecture: String { String(cString: vlm_model_architecture(handle)) }

    /// Every weight tensor, in the model's order.
    public func tensors() throws -> [TensorInfo] {
        try (0..<vlm_model_n_tensors(handle)).map { index in
            var info = vlm_tensor_info()
            info.struct_size = cSizeof(vlm_tensor_info.self)
            try check(vlm_model_tensor_info(handle, index, &info))
            let shape = withUnsafeBytes(of: info.shape) { Array($0.bindMemory(to: Int64.self)) }
            return TensorInfo(name: String(cString: info.name), dtype: Int32(info.dtype.rawValue),
                              shape: Array(shape.prefix(Int(info.n_dims))),
                              byteCount: info.n_bytes)
        }
    }

    /// The model's tokenizer (it keeps the model alive), or nil.
    public private(set) lazy var tokenizer: Tokenizer? = {
        guard let borrowed = vlm_model_tokenizer(handle) else { return nil }
        return Tokenizer(borrowing: borrowed, from: self)
    }()
}
