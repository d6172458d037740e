"""axe-core for the browser tests, pinned from the npm registry (no CDN, no copy in the repo).

- `package.json` / `package-lock.json` here pin the exact version; `make axe` installs it with
  `npm ci --ignore-scripts` (which checks the tarball against the lock file's sha512) and runs
  `python -m tests.browser.axe check`, which checks `axe.min.js` against `INTEGRITY` below: the
  hash axe-core publishes for this version in its own `sri-history.json`.
- `tests/browser/a11y.py` reads the script through `script()`, which checks it again, and
  injects it into the pages it checks.

To move to another version: change `package.json`, run `npm install --package-lock-only` here,
then copy the new version and its `axe.min.js` hash from `node_modules/axe-core/sri-history.json`
into `VERSION` and `INTEGRITY`.

Standard library only: `make axe` runs this before the project's virtualenv matters.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from functools import lru_cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE_DIR = HERE / "node_modules" / "axe-core"
SCRIPT = PACKAGE_DIR / "axe.min.js"
VERSION = "4.14.1"  # keep in step with package.json
INTEGRITY = "sha256-KTSJmUUM3yhJqOcLeRL8LahahJ2jnA0NU5T1HUqe2Vw="
INSTALL_HINT = "run `make axe` (npm ci in tests/browser/axe)"


class AxeMissing(RuntimeError):
    """axe-core is not installed, or is not the pinned file."""


def sri(data: bytes) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode()


@lru_cache(maxsize=1)
def script() -> str:
    """The source of axe.min.js, once checked against the pinned version and hash."""
    try:
        version = json.loads((PACKAGE_DIR / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        raise AxeMissing(f"axe-core is not installed in {PACKAGE_DIR.parent}; "
                         f"{INSTALL_HINT}") from None
    if version != VERSION:
        raise AxeMissing(f"axe-core {version} is installed, expected {VERSION}; {INSTALL_HINT}")
    try:
        data = SCRIPT.read_bytes()
    except OSError:
        raise AxeMissing(f"{SCRIPT} is missing; {INSTALL_HINT}") from None
    if sri(data) != INTEGRITY:
        raise AxeMissing(f"{SCRIPT} does not match its pinned hash {INTEGRITY}; {INSTALL_HINT}")
    return data.decode("utf-8")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["check"]:
        print("usage: python -m tests.browser.axe check", file=sys.stderr)
        return 2
    try:
        script()
    except AxeMissing as exc:
        print(f"axe: {exc}", file=sys.stderr)
        return 1
    print(f"axe-core {VERSION} OK in {PACKAGE_DIR}", file=sys.stderr)
    return 0
