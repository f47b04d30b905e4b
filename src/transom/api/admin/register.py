"""``GET/POST /_synapse/admin/v1/register``: Synapse's shared-secret registration API, so
``register_new_matrix_user`` and ``transom register-user`` work against Transom."""

from __future__ import annotations

from typing import Any

from transom.api.client.register import session_json
from transom.api.routing import ApiRequest, Route

PATH = "/_synapse/admin/v1/register"


async def get_nonce(req: ApiRequest) -> dict[str, Any]:
    return {"nonce": req.hs.shared_secret.new_nonce()}


async def register(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    session = await req.hs.shared_secret.register(
        nonce=body.req_str("nonce"),
        username=body.req_str("username"),
        password=body.req_str("password"),
        admin=body.opt_bool("admin", False),
        user_type=body.opt_str("user_type"),
        mac=body.req_str("mac"),
    )
    return session_json(session, req.hs.config.server_name)


def routes(hs: object) -> list[Route]:
    return [Route("GET", (PATH,), get_nonce), Route("POST", (PATH,), register)]
