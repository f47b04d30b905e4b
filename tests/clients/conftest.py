"""Fixtures for driving a running Transom with real client libraries: the black-box ``server``
and ``make_server`` fixtures of ``tests/api/conftest.py``, loaded from that file."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "transom_api_fixtures", Path(__file__).parent.parent / "api" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_api = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_api)

engine = _api.engine
make_server = _api.make_server
server = _api.server
