"""``GET /_matrix/client/versions`` (client-server API, "Client-server versions")."""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route

SPEC_VERSIONS = [
    "r0.0.1", "r0.1.0", "r0.2.0", "r0.3.0", "r0.4.0", "r0.5.0", "r0.6.0", "r0.6.1",
    *(f"v1.{minor}" for minor in range(1, 19)),
]  # fmt: skip


async def get_versions(req: ApiRequest) -> dict[str, Any]:
    return {"versions": SPEC_VERSIONS, "unstable_features": {}}


def routes(hs: object) -> list[Route]:
    return [Route("GET", ("/_matrix/client/versions",), get_versions)]
