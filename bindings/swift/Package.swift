// swift-tools-version:5.9
// SwiftPM package of libvlm's Swift bindings: `CVLM` (the raw C API, a
// module map over include/vlm.h) and `VLM` (the Swift API on top of it).
//
// libvlm itself is built by meson; this package links the built shared
// library from $VLM_LIBRARY_DIR, by default ../../build relative to this file
// (what `meson setup build && ninja -C build` at the repository root makes).
import PackageDescription

let libraryDirectory = Context.environment["VLM_LIBRARY_DIR"]
    ?? Context.packageDirectory + "/../../build"

// -L to link, rpath so that `swift test` and vlm-snap find libvlm.so.0 at run time.
let linkLibvlm: [LinkerSetting] = [
    .unsafeFlags(["-L", libraryDirectory, "-Xlinker", "-rpath", "-Xlinker", libraryDirectory]),
]

let package = Package(
    name: "VLM",
    platforms: [.macOS(.v12), .iOS(.v15)],
    products: [
        .library(name: "VLM", targets: ["VLM"]),
        .executable(name: "vlm-snap", targets: ["vlm-snap"]),
    ],
    targets: [
        .systemLibrary(name: "CVLM", path: "Sources/CVLM"),
        .target(name: "VLM", dependencies: ["CVLM"], linkerSettings: linkLibvlm),
        .executableTarget(name: "vlm-snap", dependencies: ["VLM"], linkerSettings: linkLibvlm),
        .testTarget(name: "VLMTests", dependencies: ["VLM"], linkerSettings: linkLibvlm),
    ]
)
