#!/usr/bin/env bash
# Vendor front-end assets from the npm registry into static/vendor/.
#
# The site must work on a closed network: every CSS/JS/font/icon file is
# served from static/vendor/, never from a CDN. To upgrade, change the pinned
# version (and its integrity) below and re-run this script; commit the result.
#
# Requires: bash, npm (talks only to the npm registry), node, tar, sha256sum.
# Idempotent: the target directories are deleted and rebuilt on every run.
set -euo pipefail

# --- pinned versions ---------------------------------------------------------
BOOTSTRAP_ITALIA_VERSION="2.18.3"   # newest 2.x
HTMX_VERSION="2.0.11"               # newest 2.0.x
HTMX_EXT_WS_VERSION="2.0.4"         # newest 2.0.x

# npm tarball integrity (`npm view <pkg>@<version> dist.integrity`).
# Leave empty to skip the check (the script then prints the value to pin).
BOOTSTRAP_ITALIA_INTEGRITY="sha512-dz4kNtcAYJF4OsWABT9m3CAT3NH5y6OzGG+v/VUGH1LjumIUmlP3GaQ+aHgtv5Vw3B5dS0jbHZiHGSfdu+DffA=="
HTMX_INTEGRITY="sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA=="
HTMX_EXT_WS_INTEGRITY="sha512-LnOpFRL/2hInhdKl/9N0OJsb4GYQ5/teUdTHNZYY9ytYdxYEqjfLEe0MWgF3ODjfwGJRb4E95igAbU66te48ZA=="

# Font formats kept from bootstrap-italia/dist/fonts. The @font-face rules are
# injected at runtime by bootstrap.loadFonts() and list eot, woff2, woff, ttf
# and svg; every browser that matters picks woff2 (woff as fallback), so the
# legacy eot/ttf/svg copies (~2.2 MB) are dropped.
FONT_EXTENSIONS=(woff2 woff)
# -----------------------------------------------------------------------------

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR_DIR="$REPO_ROOT/static/vendor"
BI_DIR="$VENDOR_DIR/bootstrap-italia"
HTMX_DIR="$VENDOR_DIR/htmx"

WORK_DIR="$(mktemp -d)"
trap 'rm -rf "$WORK_DIR"' EXIT

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

integrity_of() {  # npm-style "sha512-<base64>" of a file
    node -e 'const c=require("crypto"),f=require("fs");process.stdout.write("sha512-"+c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$1"
}

# fetch <name> <version> <expected-integrity>  -> prints the extracted package dir
fetch() {
    local name="$1" version="$2" expected="$3"
    local dest="$WORK_DIR/$name" tarball actual
    mkdir -p "$dest"
    log "npm pack $name@$version"
    tarball="$(cd "$WORK_DIR" && npm pack --silent "$name@$version" 2>/dev/null | tail -n 1)"
    [[ -n "$tarball" && -f "$WORK_DIR/$tarball" ]] || die "npm pack $name@$version failed"
    actual="$(integrity_of "$WORK_DIR/$tarball")"
    if [[ -z "$expected" ]]; then
        log "WARNING: no pinned integrity for $name@$version; pin: $actual"
    elif [[ "$actual" != "$expected" ]]; then
        die "integrity mismatch for $name@$version: expected $expected, got $actual"
    fi
    tar -xzf "$WORK_DIR/$tarball" -C "$dest"
    [[ -d "$dest/package" ]] || die "unexpected tarball layout for $name@$version"
    printf '%s\n' "$dest/package"
}

copy() {  # copy <src> <dst>: plain file copy, parent dirs created, mode 0644
    [[ -f "$1" ]] || die "missing file in package: $1"
    install -D -m 0644 "$1" "$2"
}

# --- fetch everything first, so a network failure leaves static/vendor intact -
BI_PKG="$(fetch bootstrap-italia "$BOOTSTRAP_ITALIA_VERSION" "$BOOTSTRAP_ITALIA_INTEGRITY")"
HTMX_PKG="$(fetch htmx.org "$HTMX_VERSION" "$HTMX_INTEGRITY")"
WS_PKG="$(fetch htmx-ext-ws "$HTMX_EXT_WS_VERSION" "$HTMX_EXT_WS_INTEGRITY")"

if [[ -f "$WS_PKG/ws.js" ]]; then
    WS_SRC="$WS_PKG/ws.js"
elif [[ -f "$WS_PKG/dist/ws.js" ]]; then
    WS_SRC="$WS_PKG/dist/ws.js"
else
    die "ws.js not found in htmx-ext-ws@$HTMX_EXT_WS_VERSION"
fi

# --- rebuild the target directories -------------------------------------------
log "rebuilding $VENDOR_DIR"
rm -rf "$BI_DIR" "$HTMX_DIR" "$VENDOR_DIR/VERSIONS.txt"
mkdir -p "$VENDOR_DIR"

# bootstrap-italia: keep the dist/ layout (css/ js/ fonts/ svg/ side by side)
copy "$BI_PKG/dist/css/bootstrap-italia.min.css"       "$BI_DIR/css/bootstrap-italia.min.css"
copy "$BI_PKG/dist/js/bootstrap-italia.bundle.min.js"  "$BI_DIR/js/bootstrap-italia.bundle.min.js"
copy "$BI_PKG/dist/svg/sprites.svg"                    "$BI_DIR/svg/sprites.svg"
copy "$BI_PKG/LICENSE"                                 "$BI_DIR/LICENSE"
(
    cd "$BI_PKG/dist/fonts"
    find_args=(-type f \( -iname '*.txt')   # per-family licences (OFL.txt, LICENSE.txt)
    for ext in "${FONT_EXTENSIONS[@]}"; do find_args+=(-o -name "*.$ext"); done
    find_args+=(\))
    find . "${find_args[@]}" -print0 | LC_ALL=C sort -z | while IFS= read -r -d '' f; do
        copy "$f" "$BI_DIR/fonts/${f#./}"
    done
)

# htmx + ws extension
copy "$HTMX_PKG/dist/htmx.min.js" "$HTMX_DIR/htmx.min.js"
copy "$HTMX_PKG/LICENSE"          "$HTMX_DIR/LICENSE"
copy "$WS_SRC"                    "$HTMX_DIR/ext/ws.js"
copy "$WS_PKG/LICENSE"            "$HTMX_DIR/ext/LICENSE"

# --- sanity checks ---------------------------------------------------------------
log "verifying"
node - "$BI_DIR" "$HTMX_DIR" "$HTMX_VERSION" <<'EOF'
const fs = require("fs"), path = require("path");
const [biDir, htmxDir, htmxVersion] = process.argv.slice(2);
let failures = 0;
const fail = (msg) => { console.error("FAIL: " + msg); failures++; };

// 1. every relative url(...) in the CSS must resolve to a file next to it.
const cssFile = path.join(biDir, "css/bootstrap-italia.min.css");
const css = fs.readFileSync(cssFile, "utf8");
let total = 0, external = 0, relative = 0;
for (const m of css.matchAll(/url\(\s*(['"]?)(.*?)\1\s*\)/g)) {
  total++;
  const url = m[2];
  if (/^(data:|#)/i.test(url)) continue;
  if (/^([a-z]+:)?\/\//i.test(url)) { external++; fail(`CSS loads external resource: ${url}`); continue; }
  relative++;
  const target = path.resolve(path.dirname(cssFile), url.split(/[?#]/)[0]);
  if (!fs.existsSync(target)) fail(`CSS url(${url}) -> missing ${target}`);
}
console.log(`css: ${total} url() refs, ${relative} relative file refs, ${external} external, all relative refs resolve: ${failures === 0}`);

// 2. fonts are injected by bootstrap.loadFonts(<path>) from the JS bundle;
//    its woff2/woff URLs must exist under fonts/.
const js = fs.readFileSync(path.join(biDir, "js/bootstrap-italia.bundle.min.js"), "utf8");
const failuresBeforeFonts = failures;
const fontRefs = new Set([...js.matchAll(/url\('\$\{\w+\}\/([^')?#]+\.(woff2?))/g)].map(m => m[1]));
if (fontRefs.size === 0) fail("no woff2/woff references found in loadFonts()");
for (const f of fontRefs) if (!fs.existsSync(path.join(biDir, "fonts", f))) fail(`font missing: fonts/${f}`);
console.log(`fonts: ${fontRefs.size} woff2/woff files referenced by loadFonts(), all present: ${failures === failuresBeforeFonts}`);

// 3. htmx version and ws extension name
const htmx = fs.readFileSync(path.join(htmxDir, "htmx.min.js"), "utf8");
if (!htmx.includes(`version:"${htmxVersion}"`) || !htmx.includes('"2.0.')) fail("htmx.min.js does not carry version " + htmxVersion);
else console.log(`htmx.min.js: version:"${htmxVersion}"`);
const ws = fs.readFileSync(path.join(htmxDir, "ext/ws.js"), "utf8");
if (!/htmx\.defineExtension\(\s*['"]ws['"]/.test(ws)) fail("ws.js does not register extension 'ws'");
else console.log("ext/ws.js: registers htmx extension 'ws'");

process.exit(failures ? 1 : 0);
EOF

# --- VERSIONS.txt -----------------------------------------------------------------
{
    echo "# Vendored front-end assets. Generated by scripts/vendor-static.sh; do not edit."
    echo "# Paths are relative to static/vendor/."
    echo
    echo "bootstrap-italia@$BOOTSTRAP_ITALIA_VERSION  ${BOOTSTRAP_ITALIA_INTEGRITY:-integrity-not-pinned}"
    echo "htmx.org@$HTMX_VERSION  ${HTMX_INTEGRITY:-integrity-not-pinned}"
    echo "htmx-ext-ws@$HTMX_EXT_WS_VERSION  ${HTMX_EXT_WS_INTEGRITY:-integrity-not-pinned}"
    echo
    echo "# sha256 of the main files"
    (
        cd "$VENDOR_DIR"
        sha256sum \
            bootstrap-italia/css/bootstrap-italia.min.css \
            bootstrap-italia/js/bootstrap-italia.bundle.min.js \
            bootstrap-italia/svg/sprites.svg \
            htmx/htmx.min.js \
            htmx/ext/ws.js
    )
    echo
    echo "# fonts (${FONT_EXTENSIONS[*]} only)"
    (cd "$VENDOR_DIR" && find bootstrap-italia/fonts -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
} > "$VENDOR_DIR/VERSIONS.txt"

log "done: $(du -sh "$VENDOR_DIR" | cut -f1) in ${VENDOR_DIR#"$REPO_ROOT"/}"
