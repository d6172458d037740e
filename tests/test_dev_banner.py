"""`carnet dev` prints every URL and port once: Reflex's own address lines are replaced by
Carnet's banner, printed when the web app is up; the rest of Reflex's output passes through."""

from __future__ import annotations

import io

import pytest

from backend.cli import _relay_reflex_output


def test_reflex_address_lines_become_one_banner(capsys: pytest.CaptureFixture[str]) -> None:
    reflex_output = io.BytesIO(
        b"Compiling: 100% 43/42\n"
        b"App running at: http://localhost:3000/\n"
        b"Backend running at: http://127.0.0.1:8001\n"
        b"[13:00:00] Reloading after a change\n"
        b"App running at: http://localhost:3000/\n"
    )
    _relay_reflex_output(reflex_output, "BANNER with every URL")
    err = capsys.readouterr().err
    assert err.count("BANNER with every URL") == 1
    assert "running at" not in err
    assert err.index("Compiling") < err.index("BANNER") < err.index("Reloading")
