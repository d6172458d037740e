"""Print, as .po entries to fill in, the web app's strings that have no English yet.

    .venv/bin/python scripts/i18n_missing.py [frontend/carnet_web/pages/foo.py ...]

With paths, only strings used in those files. Copy the output into your area's
frontend/carnet_web/locales/en/LC_MESSAGES/<area>.po and write the English in each msgstr.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "frontend"))
sys.path.insert(0, str(ROOT))

from babel.messages.catalog import Catalog  # noqa: E402
from babel.messages.pofile import write_po  # noqa: E402
from carnet_web import i18n  # noqa: E402

from tests.frontend.test_i18n import extracted  # noqa: E402


def main(paths: list[str]) -> None:
    english = i18n.catalogue("en")
    wanted = {str(Path(p).resolve()) for p in paths}
    catalog = Catalog(locale="en")
    for msgid, places in sorted(extracted().items(), key=lambda kv: kv[1][0]):
        if msgid in english:
            continue
        files = {str((i18n.WEB_APP if hasattr(i18n, "WEB_APP") else Path(i18n.__file__).parent)
                     / place.rsplit(":", 1)[0]) for place in places}
        if wanted and not (files & wanted):
            continue
        catalog.add(msgid, "", locations=[(place.rsplit(":", 1)[0], int(place.rsplit(":", 1)[1]))
                                           for place in places])
    write_po(sys.stdout.buffer, catalog, omit_header=True, width=100)


if __name__ == "__main__":
    main(sys.argv[1:])
