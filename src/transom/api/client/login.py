"""``GET/POST /login``, ``/logout``, ``/logout/all`` (client-server API, "Login", "Logout")."""

from __future__ import annotations

from typing import Any

from transom.api.client.register import session_json
from transom.api.routing import ApiRequest, Route, client_paths
from transom.services.errors import UnknownError

PASSWORD_LOGIN = "m.login.password"


async def get_login_flows(req: ApiRequest) -> dict[str, Any]:
    return {"flows": [{"type": PASSWORD_LOGIN}]}


async def login(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    login_type = body.req_str("type")
    if login_type != PASSWORD_LOGIN:
        raise UnknownError(f"Unknown login type {login_type!r}")
    session = await req.hs.accounts.login_password(
        ip=req.ip,
        identifier=body.opt_dict("identifier"),
        legacy_user=body.opt_str("user"),
        password=body.req_str("password"),
        device_id=body.opt_str("device_id"),
        display_name=body.opt_str("initial_device_display_name"),
    )
    return session_json(session, req.hs.config.server_name)


async def logout(req: ApiRequest) -> dict[str, Any]:
    await req.hs.accounts.logout(req.requester)
    return {}


async def logout_all(req: ApiRequest) -> dict[str, Any]:
    await req.hs.accounts.logout_all(req.requester)
    return {}


def routes(hs: object) -> list[Route]:
    return [
        Route("GET", client_paths("/login"), get_login_flows),
        Route("POST", client_paths("/login"), login),
        Route("POST", client_paths("/logout"), logout, auth=True),
        Route("POST", client_paths("/logout/all"), logout_all, auth=True),
    ]
