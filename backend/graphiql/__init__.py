"""GraphiQL served from Carnet itself: no CDN, so it works on a machine without internet.

Strawberry's GraphiQL page loads React, GraphiQL and its explorer plugin from unpkg.com. Carnet
serves the same files from `/graphiql/assets/`, with the same Subresource Integrity hashes:

- `package.json` / `package-lock.json` here pin the npm packages; `make graphiql` installs them
  with `npm ci` (which checks every tarball against the lock file) and runs
  `python -m backend.graphiql collect`, which copies the few files the page needs into
  `static/` after checking each one against the hash pinned in `ASSETS` below (the hashes
  Strawberry's page uses for the same versions).
- The server checks them again when it first serves the page (a file altered or missing after
  installation is refused) and writes those hashes in the page's `integrity=` attributes, so
  the browser checks them too.
- Without the files, `GET /graphql` answers a clear 503 message instead of a page stuck on
  "Loading...".
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily: `collect` runs at build time with the standard library only
    from starlette.requests import Request
    from starlette.responses import Response

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
NODE_MODULES = HERE / "node_modules"
TEMPLATE = HERE / "graphiql.html"
URL_PREFIX = "/graphiql/assets/"

INSTALL_HINT = (
    "run `make graphiql` (npm ci in backend/graphiql, then `python -m backend.graphiql "
    "collect`), or `make run`, which does it"
)


@dataclass(frozen=True)
class Asset:
    package: str
    version: str
    file: str  # inside the npm package
    integrity: str  # SRI (sha384), the value Strawberry's page pins for the CDN copy
    placement: str  # "head" or "body"

    @property
    def path(self) -> str:
        """Where it is served under URL_PREFIX and stored under STATIC_DIR (unpkg's layout)."""
        return f"{self.package}@{self.version}/{self.file}"

    @property
    def media_type(self) -> str:
        return "text/css" if self.file.endswith(".css") else "text/javascript"

    def tag(self) -> str:
        url = URL_PREFIX + self.path
        if self.media_type == "text/css":
            return f'<link rel="stylesheet" href="{url}" integrity="{self.integrity}" />'
        return f'<script src="{url}" integrity="{self.integrity}"></script>'


# In the order the page loads them. Keep versions in step with package.json.
ASSETS: tuple[Asset, ...] = (
    Asset("react", "18.2.0", "umd/react.production.min.js",
          "sha384-tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8", "head"),
    Asset("react-dom", "18.2.0", "umd/react-dom.production.min.js",
          "sha384-bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh", "head"),
    Asset("js-cookie", "3.0.5", "dist/js.cookie.min.js",
          "sha384-/vxhYfM1LENRhdpZ8dwEsQn/X4VhpbEZSiU4m/FwR+PVpzar4fkEOw8FP9Y+OfQN", "head"),
    Asset("graphiql", "3.8.3", "graphiql.min.css",
          "sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM", "head"),
    Asset("@graphiql/plugin-explorer", "1.0.2", "dist/style.css",
          "sha384-5DFJlDPW2tSATRbM8kzoP1j194jexLswuNmClWoRr2Q0x7R68JIQzPHZ02Faktwi", "head"),
    Asset("graphiql", "3.8.3", "graphiql.min.js",
          "sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie", "body"),
    Asset("@graphiql/plugin-explorer", "1.0.2", "dist/index.umd.js",
          "sha384-2oonKe47vfHIZnmB6ZZ10vl7T0Y+qrHQF2cmNTaFDuPshpKqpUMGMc9jgj9MLDZ9", "body"),
)
BY_PATH = {asset.path: asset for asset in ASSETS}


class AssetsMissing(RuntimeError):
    """The GraphiQL assets are not installed, or do not match their pinned hashes."""


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def _read_checked(asset: Asset, root: Path) -> bytes:
    file = root / asset.path
    try:
        data = file.read_bytes()
    except OSError:
        raise AssetsMissing(f"{asset.path} is missing from {root}") from None
    if sri(data) != asset.integrity:
        raise AssetsMissing(f"{asset.path} does not match its pinned integrity hash")
    return data


@dataclass(frozen=True)
class Bundle:
    page: str
    files: dict[str, bytes]
    csp: str


@lru_cache(maxsize=1)
def load() -> Bundle:
    """Read and check every asset once per process; build the page. Raises AssetsMissing."""
    root = STATIC_DIR
    files = {asset.path: _read_checked(asset, root) for asset in ASSETS}
    template = TEMPLATE.read_text(encoding="utf-8")

    def tags(placement: str) -> str:
        return "\n    ".join(a.tag() for a in ASSETS if a.placement == placement)

    page = template.replace("{{ head_assets }}", tags("head")).replace(
        "{{ body_assets }}", tags("body"))
    # The page's one inline script, allowed by its hash; everything else from this origin.
    inline = page.split("<script>", 1)[1].split("</script>", 1)[0]
    inline_hash = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    csp = (
        f"default-src 'none'; script-src 'self' 'sha256-{inline_hash}'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return Bundle(page=page, files=files, csp=csp)


def _missing_response(problem: str) -> Response:
    from starlette.responses import PlainTextResponse

    return PlainTextResponse(
        f"GraphiQL is not available: its assets are not installed ({problem}).\n"
        f"To install them, {INSTALL_HINT}.\n"
        "The GraphQL API itself works: POST your queries to this URL.\n",
        status_code=503,
    )


def page_response() -> Response:
    """The GraphiQL page, or a clear 503 message when its assets are missing."""
    from starlette.responses import HTMLResponse

    try:
        bundle = load()
    except AssetsMissing as exc:
        return _missing_response(str(exc))
    return HTMLResponse(bundle.page, headers={
        "Content-Security-Policy": bundle.csp,
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    })


async def serve_asset(request: Request) -> Response:
    """GET /graphiql/assets/{path}: one of the pinned files, nothing else."""
    from starlette.responses import PlainTextResponse, Response

    asset = BY_PATH.get(request.path_params["path"])
    if asset is None:
        return PlainTextResponse("Not found.", status_code=404)
    try:
        data = load().files[asset.path]
    except AssetsMissing as exc:
        return _missing_response(str(exc))
    return Response(data, media_type=asset.media_type, headers={
        # The path carries the version and the content is pinned by hash: never changes.
        "Cache-Control": "public, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "same-origin",
    })


def collect(node_modules: Path = NODE_MODULES, dest: Path = STATIC_DIR) -> list[str]:
    """Copy the pinned files from an `npm ci` tree into `dest`, checking versions and hashes."""
    copied = []
    for asset in ASSETS:
        package_dir = node_modules / asset.package
        try:
            version = json.loads((package_dir / "package.json").read_text())["version"]
        except (OSError, ValueError, KeyError):
            raise AssetsMissing(f"{asset.package} is not installed in {node_modules}") from None
        if version != asset.version:
            raise AssetsMissing(f"{asset.package} is {version} in {node_modules}, "
                                f"expected {asset.version} (see package.json)")
        try:
            data = (package_dir / asset.file).read_bytes()
        except OSError:
            raise AssetsMissing(f"{asset.package}/{asset.file} is missing") from None
        if sri(data) != asset.integrity:
            raise AssetsMissing(f"{asset.package}/{asset.file} does not match its pinned hash")
        target = dest / asset.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        copied.append(asset.path)
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend.graphiql")
    sub = parser.add_subparsers(dest="command", required=True)
    col = sub.add_parser("collect", help="copy the pinned assets from node_modules to static/")
    col.add_argument("--from", dest="source", type=Path, default=NODE_MODULES)
    col.add_argument("--to", dest="dest", type=Path, default=STATIC_DIR)
    col.add_argument("--clean", action="store_true", help="remove the node_modules tree after")
    sub.add_parser("check", help="exit 1 unless the installed assets match their hashes")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            load.cache_clear()
            load()
            print(f"GraphiQL assets OK in {STATIC_DIR}", file=sys.stderr)
            return 0
        if args.dest.exists():
            shutil.rmtree(args.dest)
        copied = collect(args.source, args.dest)
    except AssetsMissing as exc:
        print(f"graphiql: {exc}", file=sys.stderr)
        return 1
    if args.clean:
        shutil.rmtree(args.source, ignore_errors=True)
    print(f"GraphiQL: {len(copied)} assets checked and copied to {args.dest}", file=sys.stderr)
    return 0
