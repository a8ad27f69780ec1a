#!/bin/sh
# The iOS cross files must be valid meson machine files. No Apple SDK is
# needed: this only proves the files parse and say what an iOS build needs.
#   1. Each file is evaluated with meson's machine-file rules (INI sections;
#      values are single-quoted strings, numbers, true/false, arrays, and
#      + / on constants) and must name: the xcrun compilers for its SDK,
#      -arch arm64, -isysroot, a minimum OS version flag, darwin/aarch64 with
#      the iOS subsystem. A second file that redefines sdk_path must win, as
#      build-xcframework.sh relies on it.
#   2. `meson setup --cross-file FILE` runs into a scratch directory. Without
#      Xcode it must fail only because xcrun or the SDK is missing, never on
#      the file itself; with Xcode it may succeed.
# usage: cross_files_parse.sh SOURCE_ROOT   (meson from $MESON or PATH)
set -u
root=${1:-$(dirname "$0")/../..}
meson=${MESON:-meson}
python=${PYTHON:-python3}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail=0

check_values() {  # file, sdk name, version-min flag, subsystem
  "$python" - "$@" <<'EOF'
import ast, configparser, io, os, sys, tokenize

path, sdk, min_flag, subsystem = sys.argv[1:5]

def meson_value(text, scope):
    """Evaluates one machine-file value as meson does (coredata's
    MachineFileParser): anything else is a parse error there."""
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.STRING and not tok.string.startswith("'") or tok.string.startswith("'''"):
            raise ValueError(f"meson strings are single-quoted: {tok.string}")
    def ev(node):
        if isinstance(node, ast.Constant) and type(node.value) in (str, int):
            return node.value
        if isinstance(node, ast.List):
            return [ev(item) for item in node.elts]
        if isinstance(node, ast.Name):
            if node.id in ("true", "false"):
                return node.id == "true"
            if node.id not in scope:
                raise ValueError(f"undefined constant {node.id!r}")
            return scope[node.id]
        if isinstance(node, ast.BinOp):
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add) and type(left) is type(right) and type(left) in (str, list):
                return left + right
            if isinstance(node.op, ast.Div) and isinstance(left, str) and isinstance(right, str):
                return os.path.join(left, right)
        raise ValueError(f"not a meson machine-file value: {ast.dump(node)}")
    return ev(ast.parse(text.strip(), mode="eval").body)

def parse(paths):
    # meson reads every machine file into one parser: later files win
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str
    parser.read(paths)
    constants = {"True": True, "False": False}
    def section(name):
        scope, values = dict(constants), {}
        for key, text in parser.items(name):
            try:
                values[key] = scope[key] = meson_value(text, scope)
            except (ValueError, SyntaxError) as error:
                sys.exit(f"{path}: [{name}] {key}: {error}")
        return values
    if parser.has_section("constants"):  # first: the other sections use them
        constants.update(section("constants"))
    return {name: section(name) for name in parser.sections() if name != "constants"}

checked = []
def expect(condition, what):
    checked.append(what)
    if not condition:
        sys.exit(f"{path}: {what}: no")

m = parse([path])
c = m["binaries"]["c"]
expect(c == ["xcrun", "--sdk", sdk, "clang"], f"c compiler is xcrun --sdk {sdk} clang")
expect(all(m["binaries"][tool][:3] == ["xcrun", "--sdk", sdk] for tool in ("ar", "strip")),
       "ar and strip through xcrun")
host = m["host_machine"]
expect((host["system"], host["cpu_family"], host["endian"]) == ("darwin", "aarch64", "little"),
       "host darwin/aarch64/little")
expect(host.get("subsystem") == subsystem, f"subsystem {subsystem}")
for option in ("c_args", "c_link_args"):
    flags = m["built-in options"][option]
    expect(flags[flags.index("-arch") + 1] == "arm64", f"{option} -arch arm64")
    expect(flags[flags.index("-isysroot") + 1].endswith(".sdk"), f"{option} -isysroot SDK")
    expect(any(f.startswith(min_flag + "=") for f in flags), f"{option} {min_flag}=")
expect(m["properties"].get("needs_exe_wrapper") is True, "needs_exe_wrapper")

override = os.path.join(os.environ["SCRATCH"], "sdk-override.txt")
with open(override, "w") as f:
    f.write("[constants]\nsdk_path = 'override/My.sdk'\n")
layered = parse([path, override])["built-in options"]["c_args"]
expect(layered[layered.index("-isysroot") + 1] == "override/My.sdk",
       "a later machine file's sdk_path wins")
print(f"{os.path.basename(path)}: parsed; checked " + "; ".join(checked))
EOF
}

try_meson_setup() {  # file
  name=$(basename "$1" .txt)
  if ! command -v "$meson" >/dev/null 2>&1; then
    echo "$name: meson not found, setup not tried"
    return 0
  fi
  log="$scratch/$name.log"
  if "$meson" setup "$scratch/$name" "$root" --cross-file "$1" -Dtests=false -Dblas=accelerate \
       --wrap-mode=forcefallback >"$log" 2>&1; then
    echo "$name: meson setup succeeded (Xcode present)"
    return 0
  fi
  # Parse errors of a machine file: never acceptable.
  if grep -qiE "malformed|machine file|undefined constant|ParsingError|MissingSectionHeader|Duplicate(Option|Section)|unsupported node" "$log"; then
    echo "$name: meson rejected the file:"; tail -5 "$log"; return 1
  fi
  # Missing toolchain or SDK: the expected outcome off a Mac (or on a Mac
  # whose Xcode is not where the file's default sdk_path points).
  if grep -qE "Unknown compiler|xcrun|SDK|cannot compile programs" "$log"; then
    echo "$name: meson parsed the file; setup stopped at the missing toolchain: " \
         "$(grep -m1 -E 'ERROR' "$log")"
    return 0
  fi
  echo "$name: meson setup failed for another reason:"; tail -8 "$log"; return 1
}

export SCRATCH="$scratch"
for spec in "ios-arm64 iphoneos -miphoneos-version-min ios" \
            "ios-simulator-arm64 iphonesimulator -mios-simulator-version-min ios-simulator"; do
  set -- $spec
  file="$root/cross/$1.txt"
  [ -f "$file" ] || { echo "$file missing"; fail=1; continue; }
  check_values "$file" "$2" "$3" "$4" || fail=1
  try_meson_setup "$file" || fail=1
done
[ $fail -eq 0 ] && echo "iOS cross files: ok"
exit $fail
