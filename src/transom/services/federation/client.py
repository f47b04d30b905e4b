"""The outbound federation HTTP client (server-server API "API standards", "TLS", "Server
discovery" and "Request Authentication").

Every request is signed with this server's key in an ``Authorization: X-Matrix`` header naming
``origin``, ``destination``, ``key`` and ``sig``; the signed ``uri`` is the path and query string
exactly as sent. ``path`` arguments must already be percent-encoded (quote path parameters with
``urllib.parse.quote(x, safe="")``); ``query`` values are encoded here.

Connections use HTTPS with certificate verification (unless ``federation_verify_certificates``
is false) through one pooled aiohttp session, and never reach addresses in
``ip_range_blacklist`` (minus ``ip_range_whitelist``). Requests to our own server name are not
short-circuited: they go over the network like any other.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from signedjson.types import SigningKey
from yarl import URL

from transom import __version__
from transom.core.canonical import encode_canonical_json
from transom.core.errors import InvalidIdentifier
from transom.core.xmatrix import build_authorization_header
from transom.services.clock import Clock
from transom.services.federation.discovery import (
    WELL_KNOWN_FAILURE_TTL,
    FilteringResolver,
    IpFilter,
    ServerDiscovery,
)

Query = Mapping[str, str | list[str]]
MAX_RESPONSE_SIZE = 100 * 1024 * 1024


class FederationError(Exception):
    """The remote server answered with a non-2xx status."""

    def __init__(self, status: int, errcode: str | None, body: Any) -> None:
        error = body.get("error") if isinstance(body, dict) else None
        super().__init__(f"HTTP {status} {errcode or ''} {error or ''}".strip())
        self.status = status
        self.errcode = errcode
        self.body = body


class FederationUnreachable(Exception):
    """The remote server could not be reached: DNS, connection, TLS, timeout, a blacklisted
    address, or an answer that is not JSON."""

    def __init__(self, destination: str, reason: str) -> None:
        super().__init__(f"{destination} unreachable: {reason}")
        self.destination = destination
        self.reason = reason


def encode_query(query: Query | None) -> str:
    """``a=1&b=x%20y``; a list value repeats its key."""
    if not query:
        return ""
    pairs = [
        (key, item)
        for key, value in query.items()
        for item in (value if isinstance(value, list) else [value])
    ]
    return urlencode(pairs, quote_via=quote)


class FederationClient:
    def __init__(
        self,
        server_name: str,
        signing_key: SigningKey,
        clock: Clock,
        *,
        verify_certificates: bool = True,
        ip_blacklist: tuple[str, ...] = (),
        ip_whitelist: tuple[str, ...] = (),
        well_known_port: int = 443,
        well_known_failure_ttl: int | None = None,
    ) -> None:
        self.server_name = server_name
        self.signing_key = signing_key
        self.key_id = f"{signing_key.alg}:{signing_key.version}"
        self.ip_filter = IpFilter(ip_blacklist, ip_whitelist)
        self.ssl_context = ssl.create_default_context()
        if not verify_certificates:
            self.ssl_context.check_hostname = False
            self.ssl_context.verify_mode = ssl.CERT_NONE
        self._http: aiohttp.ClientSession | None = None
        self.discovery = ServerDiscovery(
            self.session,
            clock,
            well_known_port=well_known_port,
            failure_ttl=WELL_KNOWN_FAILURE_TTL
            if well_known_failure_ttl is None
            else well_known_failure_ttl,
        )
        self.requests_sent = 0  # requests attempted, for metrics and tests

    def session(self) -> aiohttp.ClientSession:
        """The one pooled session (created on first use, inside the event loop)."""
        if self._http is None or self._http.closed:
            connector = aiohttp.TCPConnector(
                resolver=FilteringResolver(self.ip_filter),
                ssl=self.ssl_context,
                limit=200,
                limit_per_host=20,
            )
            self._http = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": f"Transom/{__version__}"}
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def get_json(
        self, destination: str, path: str, query: Query | None = None, *, timeout: float = 30
    ) -> Any:
        return await self._request("GET", destination, path, None, query, timeout)

    async def put_json(
        self,
        destination: str,
        path: str,
        body: Any,
        *,
        query: Query | None = None,
        timeout: float = 30,
    ) -> Any:
        return await self._request("PUT", destination, path, body, query, timeout)

    async def post_json(
        self,
        destination: str,
        path: str,
        body: Any,
        *,
        query: Query | None = None,
        timeout: float = 30,
    ) -> Any:
        return await self._request("POST", destination, path, body, query, timeout)

    async def _request(
        self,
        method: str,
        destination: str,
        path: str,
        body: Any,
        query: Query | None,
        timeout: float,
    ) -> Any:
        encoded_query = encode_query(query)
        uri = f"{path}?{encoded_query}" if encoded_query else path
        # "Request Authentication": sign method, uri (with query), origin, destination, content.
        authorization = build_authorization_header(
            origin=self.server_name,
            destination=destination,
            key_id=self.key_id,
            signing_key=self.signing_key,
            method=method,
            uri=uri,
            content=body,
        )
        headers = {"Authorization": authorization}
        data = None
        if body is not None:
            data = encode_canonical_json(body)
            headers["Content-Type"] = "application/json"
        try:
            target = await self.discovery.resolve_server(destination)
        except InvalidIdentifier as e:
            raise FederationUnreachable(destination, f"invalid server name: {e}") from None
        if not _is_hostname(target.host) and not self.ip_filter.allowed(target.host):
            raise FederationUnreachable(destination, f"{target.host} is in ip_range_blacklist")
        headers["Host"] = target.host_header
        host = f"[{target.host}]" if ":" in target.host else target.host
        url = URL(f"https://{host}:{target.port}{uri}", encoded=True)
        self.requests_sent += 1
        try:
            async with self.session().request(
                method,
                url,
                headers=headers,
                data=data,
                server_hostname=target.sni,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as resp:
                if resp.content_length is not None and resp.content_length > MAX_RESPONSE_SIZE:
                    raise FederationUnreachable(destination, "response too large")
                raw = await resp.content.read(MAX_RESPONSE_SIZE + 1)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError, ssl.SSLError) as e:
            reason = f"{type(e).__name__}: {e}"
            raise FederationUnreachable(destination, reason) from None
        except asyncio.CancelledError:
            raise
        return _parse_response(destination, status, raw)


def _is_hostname(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


def _parse_response(destination: str, status: int, raw: bytes) -> Any:
    try:
        parsed: Any = json.loads(raw) if raw.strip() else None
    except ValueError:
        parsed = None
        if 200 <= status < 300:
            raise FederationUnreachable(destination, "response is not JSON") from None
    if not 200 <= status < 300:
        errcode = parsed.get("errcode") if isinstance(parsed, dict) else None
        raise FederationError(status, errcode if isinstance(errcode, str) else None, parsed)
    return parsed
