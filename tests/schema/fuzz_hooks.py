"""schemathesis hooks for fuzzing a local Transom (loaded with ``SCHEMATHESIS_HOOKS=fuzz_hooks``
next to matrix-spec's ``st_matrix_hooks`` on ``PYTHONPATH``).

On top of matrix-spec's generators for the Matrix string formats this module:

- rewrites every server name other than ``MATRIX_SERVER_NAME`` in path parameters, query and
  body to the local one (the spec's examples use matrix.org and example.org; a join or knock via
  them would try to federate), and drops what is left naming another server. Rewriting rather
  than dropping keeps hypothesis's "too many examples filtered out" health check quiet on
  operations such as ``POST /knock`` whose ``via`` lists are mostly remote names;
- points about half of the generated ``roomId`` and ``roomIdOrAlias`` path parameters at
  real rooms on the server (``FUZZ_ROOM_IDS``, comma-separated), so the fuzzer reaches the
  membership and event code rather than only the "no such room" refusals. The choice hashes
  the generated value, so a fixed seed gives a fixed run.
"""

from __future__ import annotations

import os
import re
import zlib
from typing import Any

import schemathesis
import st_matrix_hooks  # noqa: F401  (registers the mx-* format generators)

LOCAL = os.environ.get("MATRIX_SERVER_NAME", "localhost")
ROOM_IDS = [r for r in os.environ.get("FUZZ_ROOM_IDS", "").split(",") if r]
# Appendices, "Identifier Grammar": a user ID, room alias or (pre-v12) room ID ends ":server".
_SIGIL_ID = re.compile(r"^[@!#][^:]*:(.+)$")
_SERVER_PARAMS = {"via", "server_name"}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _names_remote_server(case: Any) -> bool:
    for text in _strings(case.path_parameters) + _strings(case.body) + _strings(case.query):
        match = _SIGIL_ID.match(text)
        if match and match.group(1) != LOCAL:
            return True
    for key, value in (case.query or {}).items():
        if key.rstrip("[]") in _SERVER_PARAMS and any(s != LOCAL for s in _strings(value)):
            return True
    return False


def _localise(value: Any) -> Any:
    """``value`` with every ``[@!#]...:server`` ending in the local server name."""
    if isinstance(value, str):
        match = _SIGIL_ID.match(value)
        if match and match.group(1) != LOCAL:
            return value[: match.start(1)] + LOCAL
        return value
    if isinstance(value, dict):
        return {k: _localise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_localise(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_localise(v) for v in value)
    return value


@schemathesis.hook
def map_query(context: Any, query: dict[str, Any] | None) -> Any:
    if not query:
        return query
    mapped = _localise(query)
    for key, value in list(mapped.items()):
        if key.rstrip("[]") in _SERVER_PARAMS:
            mapped[key] = [LOCAL] * len(value) if isinstance(value, list | tuple) else LOCAL
    return mapped


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    return _localise(body)


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    return not _names_remote_server(case)


@schemathesis.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    if not path_parameters:
        return path_parameters
    mapped = _localise(dict(path_parameters))
    if not ROOM_IDS:
        return mapped
    for name in ("roomId", "roomIdOrAlias"):
        value = mapped.get(name)
        if isinstance(value, str):
            digest = zlib.crc32(value.encode())
            if digest % 2 == 0:
                mapped[name] = ROOM_IDS[digest % len(ROOM_IDS)]
    return mapped
