"""Fixtures for checking a running Transom against the official Client-Server API OpenAPI
description (matrix-spec ``client-server.bundled.json``, OpenAPI 3.1): the black-box ``server``
and ``make_server`` fixtures of ``tests/api/conftest.py``, and ``spec_dir``, the matrix-spec copy
that CI places at ``../shared/matrix-spec`` beside the repository."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_DIR = REPO_ROOT.parent / "shared" / "matrix-spec"

_spec = importlib.util.spec_from_file_location(
    "transom_api_fixtures_for_schema", REPO_ROOT / "tests" / "api" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_api = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_api)

engine = _api.engine
make_server = _api.make_server
server = _api.server


@pytest.fixture(scope="session")
def spec_dir() -> Path:
    """The matrix-spec copy; fails (does not skip) when it is absent."""
    bundle = SPEC_DIR / "client-server.bundled.json"
    if not bundle.is_file():
        pytest.fail(
            f"matrix-spec copy not found: expected {bundle} (the spec data lives in "
            "shared/matrix-spec beside the repository clone)"
        )
    return SPEC_DIR
