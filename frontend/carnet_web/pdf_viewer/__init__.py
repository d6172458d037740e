"""The PDF viewer of the document page: pdf.js, served by the Reflex backend itself (no CDN).

A PDF is shown in an `<iframe sandbox="allow-scripts">` (no `allow-same-origin`: the viewer runs
in an opaque origin, with no access to Carnet's pages, cookies or storage). Inside it,
`viewer.html` + `viewer.js` receive the document's bytes from the parent page by `postMessage`
(the viewer itself fetches no document) and render each page with pdf.js into a canvas, with
previous/next and zoom buttons. pdf.js runs with no JavaScript evaluation (`isEvalSupported`
false, no scripting, no annotation layer, so no links): a malicious PDF can run nothing.

Everything is served by `carnet_web.documents_http` under `URL_PREFIX`, from the Reflex backend
rather than the Vite dev server: a document in an opaque origin may load module scripts (pdf.js
is only published as ES modules) and fetch pdf.js's font data only from a server that answers
CORS for the origin `null`, and the backend is the one whose headers Carnet controls (CSP of the
viewer page, CORS, `nosniff`), in development and in production alike.

pdf.js comes from the npm registry:

- `package.json` / `package-lock.json` here pin `pdfjs-dist`; `make pdfjs` installs it with
  `npm ci` (which checks the tarball against the lock file) and runs
  `python -m carnet_web.pdf_viewer collect`, which copies the files the viewer needs (`FILES`)
  into `static/` after checking each one against its SHA-384 pinned in `pdfjs.sha384`.
- The server checks each file again when it first serves it (a file altered after installation
  is refused).
- To upgrade: change the version in package.json and `VERSION`, `npm install
  --package-lock-only`, `npm ci`, then `python -m carnet_web.pdf_viewer pin` rewrites
  `pdfjs.sha384` from the new package (review the diff), and `collect`.

Standard library only (`collect` runs at build time, before the web app's dependencies).
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import json
import shutil
import sys
from functools import lru_cache
from pathlib import Path
from typing import Final

HERE: Final = Path(__file__).resolve().parent
NODE_MODULES: Final = HERE / "node_modules"
STATIC_DIR: Final = HERE / "static"
MANIFEST: Final = HERE / "pdfjs.sha384"
PACKAGE: Final = "pdfjs-dist"
VERSION: Final = "6.5.438"  # keep in step with package.json
URL_PREFIX: Final = "/_carnet/visionneuse"
#: Where pdf.js's files are served, under URL_PREFIX (the version in the path: immutable).
PDFJS_PATH: Final = f"pdfjs/{VERSION}"

#: What the viewer uses from the package (globs, relative to the package): the library and its
#: worker; the data pdf.js fetches for some PDFs (the 14 standard fonts when a PDF does not
#: embed them, character maps of CJK fonts, colour profiles, and the decoders of JBIG2 and
#: JPEG 2000 images, common in scanned documents); the licences. Not its scripting engine.
FILES: Final = (
    "LICENSE",
    "build/pdf.min.mjs",
    "build/pdf.worker.min.mjs",
    "standard_fonts/*",
    "cmaps/*",
    "iccs/*",
    "wasm/jbig2.wasm",
    "wasm/openjpeg.wasm",
    "wasm/qcms_bg.wasm",
    "wasm/LICENSE_*",
)

#: The viewer's own files (committed, next to this module), served as they are.
VIEWER_FILES: Final = {"viewer.js": "text/javascript; charset=utf-8",
                       "viewer.css": "text/css; charset=utf-8"}
TEMPLATE: Final = HERE / "viewer.html"

_MEDIA_TYPES: Final = {
    ".mjs": "text/javascript; charset=utf-8",
    ".wasm": "application/wasm",
    ".bcmap": "application/octet-stream",
    ".pfb": "application/octet-stream",
    ".ttf": "font/ttf",
    ".icc": "application/vnd.iccprofile",
}


class AssetsMissing(RuntimeError):
    """pdf.js is not installed, or a file does not match its pinned hash."""


INSTALL_HINT: Final = (
    "run `make pdfjs` (npm ci in frontend/carnet_web/pdf_viewer, then `python -m "
    "carnet_web.pdf_viewer collect`), or `make run`, which does it"
)


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def media_type(path: str) -> str:
    return _MEDIA_TYPES.get(Path(path).suffix, "text/plain; charset=utf-8")


def pinned(manifest: Path = MANIFEST) -> dict[str, str]:
    """path (inside the package) -> SRI hash, from the committed manifest."""
    hashes: dict[str, str] = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            digest, path = line.split(None, 1)
            hashes[path.strip()] = digest
    return hashes


def _wanted(package_dir: Path) -> list[str]:
    """The package's files that `FILES` selects, sorted."""
    found = []
    for file in sorted(package_dir.rglob("*")):
        relative = file.relative_to(package_dir).as_posix()
        if file.is_file() and any(fnmatch.fnmatchcase(relative, pattern) for pattern in FILES):
            found.append(relative)
    return found


def _package_dir(node_modules: Path) -> Path:
    package_dir = node_modules / PACKAGE
    try:
        version = json.loads((package_dir / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        raise AssetsMissing(f"{PACKAGE} is not installed in {node_modules}") from None
    if version != VERSION:
        raise AssetsMissing(f"{PACKAGE} is {version} in {node_modules}, expected {VERSION} "
                            "(see package.json)")
    return package_dir


def collect(node_modules: Path = NODE_MODULES, dest: Path = STATIC_DIR,
            manifest: Path = MANIFEST) -> list[str]:
    """Copy the pinned files from an `npm ci` tree into `dest`, checking version and hashes."""
    package_dir = _package_dir(node_modules)
    hashes = pinned(manifest)
    wanted = _wanted(package_dir)
    if sorted(hashes) != wanted:
        unpinned = sorted(set(wanted) - set(hashes))
        gone = sorted(set(hashes) - set(wanted))
        raise AssetsMissing(f"{PACKAGE} {VERSION} does not hold the pinned files "
                            f"(not pinned: {unpinned[:5]}; missing: {gone[:5]})")
    for path, digest in hashes.items():
        data = (package_dir / path).read_bytes()
        if sri(data) != digest:
            raise AssetsMissing(f"{PACKAGE}/{path} does not match its pinned hash")
        target = dest / VERSION / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return sorted(hashes)


def pin(node_modules: Path = NODE_MODULES, manifest: Path = MANIFEST) -> int:
    """Write the manifest from an installed package (when upgrading pdf.js: review the diff)."""
    package_dir = _package_dir(node_modules)
    lines = [f"# SHA-384 of the {PACKAGE} {VERSION} files the viewer serves "
             "(python -m carnet_web.pdf_viewer pin)"]
    wanted = _wanted(package_dir)
    lines += [f"{sri((package_dir / path).read_bytes())}  {path}" for path in wanted]
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(wanted)


@lru_cache(maxsize=1)
def _hashes() -> dict[str, str]:
    return pinned()


@lru_cache(maxsize=256)
def asset(path: str) -> bytes:
    """The bytes of pdf.js's file `path` (inside the package), checked against its pinned hash
    once per process. Raises KeyError for a file that is not pinned, AssetsMissing when it is
    not installed or does not match."""
    digest = _hashes()[path]
    try:
        data = (STATIC_DIR / VERSION / path).read_bytes()
    except OSError:
        raise AssetsMissing(f"{path} is missing from {STATIC_DIR}; {INSTALL_HINT}") from None
    if sri(data) != digest:
        raise AssetsMissing(f"{path} does not match its pinned integrity hash")
    return data


def check() -> None:
    """Raise AssetsMissing unless every pinned file is installed and intact."""
    asset.cache_clear()
    for path in _hashes():
        asset(path)


@lru_cache(maxsize=4)
def viewer_file(name: str) -> bytes:
    return (HERE / name).read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m carnet_web.pdf_viewer")
    sub = parser.add_subparsers(dest="command", required=True)
    col = sub.add_parser("collect", help="copy the pinned files from node_modules to static/")
    col.add_argument("--from", dest="source", type=Path, default=NODE_MODULES)
    col.add_argument("--to", dest="dest", type=Path, default=STATIC_DIR)
    col.add_argument("--clean", action="store_true", help="remove the node_modules tree after")
    sub.add_parser("check", help="exit 1 unless the installed files match their hashes")
    pin_command = sub.add_parser("pin", help="rewrite pdfjs.sha384 from node_modules")
    pin_command.add_argument("--from", dest="source", type=Path, default=NODE_MODULES)
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            check()
            print(f"pdf.js {VERSION} OK in {STATIC_DIR}", file=sys.stderr)
            return 0
        if args.command == "pin":
            count = pin(args.source)
            print(f"pdf.js: {count} files pinned in {MANIFEST}", file=sys.stderr)
            return 0
        if args.dest.exists():
            shutil.rmtree(args.dest)
        copied = collect(args.source, args.dest)
    except AssetsMissing as exc:
        print(f"pdf_viewer: {exc}", file=sys.stderr)
        return 1
    if args.clean:
        shutil.rmtree(args.source, ignore_errors=True)
    print(f"pdf.js: {len(copied)} files checked and copied to {args.dest}", file=sys.stderr)
    return 0
