"""``/account/whoami``, ``/account/password``, ``/account/deactivate`` (client-server API,
"Current account information", "Password management", "Account deactivation")."""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route, client_paths
from transom.services.errors import UnknownError

MAX_PASSWORD_LENGTH = 512


async def whoami(req: ApiRequest) -> dict[str, Any]:
    requester = req.requester
    body: dict[str, Any] = {"user_id": requester.user_id, "is_guest": False}
    if requester.device_id is not None:
        body["device_id"] = requester.device_id
    return body


async def change_password(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    new_password = body.req_str("new_password")
    if len(new_password) > MAX_PASSWORD_LENGTH:
        raise UnknownError("Password too long")
    await req.hs.accounts.change_password(
        req.requester,
        body.opt_dict("auth"),
        new_password,
        logout_devices=body.opt_bool("logout_devices", True),
    )
    return {}


async def deactivate(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    await req.hs.accounts.deactivate(req.requester, body.opt_dict("auth"))
    # No identity server support, so nothing was unbound.
    return {"id_server_unbind_result": "no-support"}


def routes(hs: object) -> list[Route]:
    return [
        Route("GET", client_paths("/account/whoami"), whoami, auth=True),
        Route("POST", client_paths("/account/password"), change_password, auth=True),
        Route("POST", client_paths("/account/deactivate"), deactivate, auth=True),
    ]
