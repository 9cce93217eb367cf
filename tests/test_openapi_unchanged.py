"""The API document is part of the contract with integrators: it changes only on purpose.

`tests/data/openapi.json` is the document of the assembled app, keys sorted. When a change
to the API is meant, write the new snapshot and review its diff with the change:

    KIUNGA_WRITE_OPENAPI=1 ./run test tests/test_openapi_unchanged.py -n 0
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from kiunga.platform.web.app import create_app
from litestar._openapi.schema_generation.examples import ExampleFactory
from litestar.serialization import encode_json

SNAPSHOT = Path(__file__).resolve().parent / "data" / "openapi.json"


def normalised(document):
    """Keys sorted (json.dumps does it) and tag lists sorted: their order is incidental."""
    if isinstance(document, dict):
        return {
            key: sorted(value, key=json.dumps) if key == "tags" and isinstance(value, list)
            else normalised(value)
            for key, value in document.items()
        }  # fmt: skip
    if isinstance(document, list):
        return [normalised(item) for item in document]
    return document


def as_text(document) -> str:
    return json.dumps(normalised(document), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def test_the_api_document_matches_its_snapshot(settings, database_url, redis_url):
    app = create_app(settings, database_url, redis_url)
    # The error bodies' examples are drawn at random from a seeded generator, whose state
    # moves on with every document built in the process: start where a fresh server does.
    ExampleFactory.seed_random(ExampleFactory.__random_seed__)
    document = json.loads(encode_json(app.openapi_schema.to_schema()))
    if os.environ.get("KIUNGA_WRITE_OPENAPI"):
        SNAPSHOT.write_text(as_text(document))
    assert as_text(document) == SNAPSHOT.read_text()
