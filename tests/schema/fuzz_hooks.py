"""schemathesis hooks for fuzzing a local Transom (loaded with ``SCHEMATHESIS_HOOKS=fuzz_hooks``
next to matrix-spec's ``st_matrix_hooks`` on ``PYTHONPATH``).

On top of matrix-spec's generators for the Matrix string formats this module:

- drops every case that names a server other than ``MATRIX_SERVER_NAME`` (the spec's examples
  use matrix.org and example.org; a join or knock via them would try to federate), and
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


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    return not _names_remote_server(case)


@schemathesis.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    if not path_parameters or not ROOM_IDS:
        return path_parameters
    mapped = dict(path_parameters)
    for name in ("roomId", "roomIdOrAlias"):
        value = mapped.get(name)
        if isinstance(value, str):
            digest = zlib.crc32(value.encode())
            if digest % 2 == 0:
                mapped[name] = ROOM_IDS[digest % len(ROOM_IDS)]
    return mapped
