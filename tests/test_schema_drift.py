from pathlib import Path

from backend.schema import schema_sdl

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_committed_schema_matches_the_code():
    committed = SCHEMA_FILE.read_text() if SCHEMA_FILE.exists() else ""
    assert committed == schema_sdl(), (
        "schema.graphql is out of date: run `carnet export-schema` and commit the result"
    )
