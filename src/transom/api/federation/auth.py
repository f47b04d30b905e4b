"""Authentication of inbound federation requests (server-server API "Request Authentication").

A request carries ``Authorization: X-Matrix origin=...,destination=...,key=...,sig=...``; its
method, target URI (path and query string as received), origin, destination and JSON body are
checked against the origin's published key, fetched through the key ring. Anything wrong is
answered 401 ``M_UNAUTHORIZED`` before the handler runs.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from transom.core.errors import SignatureError
from transom.core.xmatrix import parse_authorization_header, verify_request
from transom.services.errors import Unauthorized

if TYPE_CHECKING:
    from transom.app import HomeServer


async def authenticate_request(hs: HomeServer, request: web.Request, body_bytes: bytes) -> str:
    """The server name that signed ``request``; raises ``Unauthorized`` otherwise.

    Several ``Authorization`` headers may be sent; the first X-Matrix one that verifies wins.
    """
    headers = request.headers.getall("Authorization", [])
    if not headers:
        raise Unauthorized("Missing Authorization header")
    content: Any = None
    if body_bytes.strip():
        # "Request Authentication": `content` is the JSON-parsed request body.
        try:
            content = json.loads(body_bytes)
        except ValueError:
            raise Unauthorized("Request body is not JSON") from None
    errors = []
    for header in headers:
        try:
            return await _check(hs, request, header, content)
        except SignatureError as e:
            errors.append(str(e))
    raise Unauthorized("; ".join(errors))


async def _check(hs: HomeServer, request: web.Request, header: str, content: Any) -> str:
    auth = parse_authorization_header(header)
    if auth.destination is not None and auth.destination != hs.server_name:
        # "If this property is included, but the value does not match the receiving server's
        # name, the receiving server must deny the request with ... 401 Unauthorized."
        raise SignatureError(f"request is addressed to {auth.destination}, not to us")
    # Request keys must be current ones, valid now (not keys only valid for old events).
    keys = await hs.keyring.get_server_verify_keys(
        auth.origin, [auth.key_id], min_valid_until_ts=hs.clock.time_msec()
    )
    key = keys.get(auth.key_id)
    if key is None:
        raise SignatureError(f"no valid key {auth.key_id} known for {auth.origin}")
    verify_request(
        auth,
        method=request.method,
        uri=request.raw_path,
        content=content,
        destination=hs.server_name,
        verify_key=key,
    )
    return auth.origin
