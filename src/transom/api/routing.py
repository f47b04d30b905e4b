"""Routes: each API module exposes ``routes(hs) -> list[Route]``; ``add_routes`` mounts them.

A ``Route`` carries what Ruma keeps beside each endpoint: method, paths, whether an access token is
required, and which rate limiter applies. The wrapper here authenticates, rate-limits, hands the
handler an ``ApiRequest`` and serialises what it returns (a dict is 200 JSON).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from transom.api.http import (
    Body,
    client_ip,
    get_access_token,
    json_response,
    parse_json_body,
    read_body_bytes,
    read_json_body,
)
from transom.services.accounts import Requester
from transom.services.errors import InvalidParam, MissingToken

if TYPE_CHECKING:
    from transom.app import HomeServer

Result = web.StreamResponse | dict[str, Any] | tuple[int, dict[str, Any]]
Handler = Callable[["ApiRequest"], Awaitable[Result]]

# The client-server API path prefixes: every endpoint is served at v3 and, where it existed
# before v1.1, at the r0 alias for old clients.
CLIENT_V3 = "/_matrix/client/v3"
CLIENT_R0 = "/_matrix/client/r0"


def client_paths(path: str, *, r0: bool = True) -> tuple[str, ...]:
    """``/login`` -> ``/_matrix/client/v3/login`` and ``/_matrix/client/r0/login``."""
    return (CLIENT_V3 + path, CLIENT_R0 + path) if r0 else (CLIENT_V3 + path,)


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    paths: tuple[str, ...]
    handler: Handler
    auth: bool = False
    # Name of an attribute of ``hs.ratelimiters``; keyed by user ID, or by IP when unauthenticated.
    ratelimit: str | None = None
    # Server-server API "Request Authentication": require a valid X-Matrix signature; the
    # handler reads the authenticated server name from ``req.origin``.
    federation: bool = False


class ApiRequest:
    """What a handler sees: the HTTP request, the server, and who is asking."""

    def __init__(
        self,
        http: web.Request,
        hs: HomeServer,
        requester: Requester | None,
        *,
        origin: str | None = None,
        raw_body: bytes | None = None,
    ) -> None:
        self.http = http
        self.hs = hs
        self._requester = requester
        self._origin = origin
        self._raw_body = raw_body
        self.ip = client_ip(http, http.app.get(X_FORWARDED_KEY, False))

    @property
    def origin(self) -> str:
        """The server that signed this federation request (routes with ``federation=True``)."""
        if self._origin is None:
            raise RuntimeError("not a federation route")
        return self._origin

    @property
    def requester(self) -> Requester:
        if self._requester is None:
            raise MissingToken("Missing access token")
        return self._requester

    def path(self, name: str) -> str:
        return self.http.match_info[name]

    def query(self, name: str) -> str | None:
        return self.http.query.get(name)

    async def body(self) -> Body:
        if self._raw_body is not None:  # already read to check its signature
            return parse_json_body(self._raw_body)
        return await read_json_body(self.http, self.hs.config.max_request_body_size)


X_FORWARDED_KEY = web.AppKey("x_forwarded", bool)


def _wrap(hs: HomeServer, route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        # Identifiers, types, state keys and transaction IDs from the path are stored as text,
        # which cannot hold U+0000 (PostgreSQL refuses it): refuse such a request up front.
        if any("\x00" in value for value in request.match_info.values()):
            raise InvalidParam("Path parameters may not contain U+0000")
        requester = None
        origin = raw_body = None
        ip = client_ip(request, request.app.get(X_FORWARDED_KEY, False))
        if route.federation:
            # Imported here: the federation package imports this module.
            from transom.api.federation.auth import authenticate_request

            raw_body = await read_body_bytes(request, hs.config.max_request_body_size)
            origin = await authenticate_request(hs, request, raw_body)
        if route.auth:
            token = get_access_token(request)
            if token is None:
                raise MissingToken("Missing access token")
            requester = await hs.accounts.authenticate(token, ip)
        if route.ratelimit is not None:
            limiter = getattr(hs.ratelimiters, route.ratelimit)
            key = requester.user_id if requester else ip
            # Admins are exempt from the message limit, as in Synapse.
            exempt = (
                route.ratelimit == "message"
                and requester is not None
                and await hs.accounts.is_admin(requester.user_id)
            )
            if not exempt:
                limiter.check(key)
        result = await route.handler(
            ApiRequest(request, hs, requester, origin=origin, raw_body=raw_body)
        )
        if isinstance(result, web.StreamResponse):
            return result
        if isinstance(result, tuple):
            return json_response(result[1], status=result[0])
        return json_response(result)

    return handle


def add_routes(app: web.Application, hs: HomeServer, routes: Sequence[Route]) -> None:
    for route in routes:
        handler = _wrap(hs, route)
        for path in route.paths:
            app.router.add_route(route.method, path, handler)
