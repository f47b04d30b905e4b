"""``POST /register`` and ``GET /register/available`` (client-server API, "Account
registration and management")."""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route, client_paths
from transom.services.accounts import LoginSession
from transom.services.errors import GuestAccessForbidden, InvalidParam, MissingParam


def session_json(session: LoginSession, server_name: str) -> dict[str, Any]:
    body: dict[str, Any] = {"user_id": session.user_id}
    if session.access_token is not None:
        body.update(access_token=session.access_token, device_id=session.device_id)
        body["home_server"] = server_name  # deprecated, still read by old clients
    return body


async def register(req: ApiRequest) -> dict[str, Any]:
    kind = req.query("kind") or "user"
    if kind == "guest":
        raise GuestAccessForbidden("Guest access is disabled")
    if kind != "user":
        raise InvalidParam(f"Invalid kind {kind!r}")
    body = await req.body()
    config = req.hs.config
    session = await req.hs.accounts.register(
        enabled=config.enable_registration,
        ip=req.ip,
        auth=body.opt_dict("auth"),
        username=body.opt_str("username"),
        password=body.opt_str("password"),
        device_id=body.opt_str("device_id"),
        display_name=body.opt_str("initial_device_display_name"),
        inhibit_login=body.opt_bool("inhibit_login", False),
    )
    return session_json(session, config.server_name)


async def available(req: ApiRequest) -> dict[str, Any]:
    username = req.query("username")
    if not username:
        raise MissingParam("Missing 'username' query parameter")
    await req.hs.accounts.check_username_available(username)
    return {"available": True}


def routes(hs: object) -> list[Route]:
    return [
        Route("POST", client_paths("/register"), register),
        Route("GET", client_paths("/register/available"), available, ratelimit="registration"),
    ]
