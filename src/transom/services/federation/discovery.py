"""Server discovery (server-server API "Server discovery" → "Resolving server names") and the
IP range blacklist applied to every outbound federation connection.

``ServerDiscovery.resolve_server(server_name)`` turns a server name into where to connect
(``host``, ``port``), the ``Host`` header to send and the name the TLS certificate must be valid
for (``sni``). Results are cached per server name for as long as the ``/.well-known`` answer may
be cached (its ``Cache-Control`` max-age, 24 hours by default, at most 48 hours); failed
``/.well-known`` lookups are cached for ``failure_ttl`` seconds (10 minutes by default, 0 in
tests). SRV records are looked up with dnspython's async resolver.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from transom.core.errors import InvalidIdentifier
from transom.core.identifiers import parse_server_name
from transom.services.clock import Clock

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8448  # "Resolving server names": the default federation port
WELL_KNOWN_DEFAULT_TTL = 24 * 3600  # "The recommended sensible default is 24 hours"
WELL_KNOWN_MAX_TTL = 48 * 3600  # "a maximum cache time for responses: 48 hours is recommended"
WELL_KNOWN_FAILURE_TTL = 10 * 60  # "Errors are recommended to be cached for up to an hour"
WELL_KNOWN_MAX_SIZE = 50 * 1024


@dataclass(frozen=True, slots=True)
class ResolvedServer:
    """Where to send a federation request: connect to ``host`` (a DNS name or an IP address
    without brackets) on ``port``, send ``Host: host_header``, and require a TLS certificate
    valid for ``sni`` (also sent as SNI unless it is an IP address)."""

    host: str
    port: int
    host_header: str
    sni: str


class IpFilter:
    """``ip_range_blacklist`` minus ``ip_range_whitelist``: addresses federation must not reach
    (by default private, loopback and link-local ranges, against SSRF)."""

    def __init__(self, blacklist: Iterable[str], whitelist: Iterable[str] = ()) -> None:
        self.blacklist = [ipaddress.ip_network(c, strict=False) for c in blacklist]
        self.whitelist = [ipaddress.ip_network(c, strict=False) for c in whitelist]

    def allowed(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in net for net in self.whitelist):
            return True
        return not any(ip in net for net in self.blacklist)


class FilteringResolver(AbstractResolver):
    """An aiohttp resolver that drops blacklisted addresses; a name resolving only to
    blacklisted addresses fails like an unknown name (aiohttp reports a DNS error)."""

    def __init__(self, ip_filter: IpFilter) -> None:
        self.ip_filter = ip_filter
        self.inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        allowed = [r for r in results if self.ip_filter.allowed(r["host"])]
        if not allowed:
            raise OSError(f"{host} resolves only to addresses in ip_range_blacklist")
        return allowed

    async def close(self) -> None:
        await self.inner.close()


SrvLookup = Callable[[str], Awaitable[list[tuple[str, int]]]]


def __getattr__(name: str) -> Any:
    """``discovery.dns`` still names dnspython (imported on first use, see below)."""
    if name == "dns":
        import dns.asyncresolver
        import dns.exception
        import dns.resolver

        return dns
    raise AttributeError(name)


async def dns_srv_lookup(name: str) -> list[tuple[str, int]]:
    """SRV targets of ``name`` as ``(host, port)``, best first (lowest priority, then highest
    weight); empty if there are none. A lone target of ``.`` means "no service" (RFC 2782)."""
    # Imported on first use: dnspython costs about 3 MiB of memory that an idle server, or
    # one that only talks to servers on IP literals, never needs.
    import dns.asyncresolver
    import dns.exception
    import dns.resolver

    try:
        answer = await dns.asyncresolver.resolve(name, "SRV")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
        return []
    except dns.exception.DNSException as e:
        logger.info("SRV lookup of %s failed: %s", name, e)
        return []
    records = sorted(answer, key=lambda r: (r.priority, -r.weight))
    targets = [(r.target.to_text(omit_final_dot=True), int(r.port)) for r in records]
    return [(host, port) for host, port in targets if host not in ("", ".")]


_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.IGNORECASE)


def _cache_ttl(cache_control: str | None) -> int:
    """Seconds to cache a ``/.well-known`` answer per its ``Cache-Control`` header."""
    if cache_control:
        if "no-store" in cache_control.lower():
            return 0
        match = _MAX_AGE.search(cache_control)
        if match:
            return min(int(match.group(1)), WELL_KNOWN_MAX_TTL)
    return WELL_KNOWN_DEFAULT_TTL


def _ip_literal(host: str) -> str | None:
    """The address of an IP literal host (``1.2.3.4``, ``[::1]``), else None."""
    try:
        return str(ipaddress.ip_address(host[1:-1] if host.startswith("[") else host))
    except ValueError:
        return None


class ServerDiscovery:
    """Resolves server names; ``session`` gives the HTTP session used for ``/.well-known``."""

    def __init__(
        self,
        session: Callable[[], aiohttp.ClientSession],
        clock: Clock,
        *,
        lookup_srv: SrvLookup = dns_srv_lookup,
        well_known_port: int = 443,
        failure_ttl: int = WELL_KNOWN_FAILURE_TTL,
    ) -> None:
        self._session = session
        self.clock = clock
        self.lookup_srv = lookup_srv
        self.well_known_port = well_known_port
        self.failure_ttl = failure_ttl
        self._cache: dict[str, tuple[ResolvedServer, float]] = {}

    async def resolve_server(self, server_name: str) -> ResolvedServer:
        """Where to reach ``server_name``; raises ``InvalidIdentifier`` for a bad name."""
        cached = self._cache.get(server_name)
        if cached is not None and cached[1] > self.clock.time():
            return cached[0]
        resolved, ttl = await self._resolve(server_name)
        if ttl > 0:
            self._cache[server_name] = (resolved, self.clock.time() + ttl)
        else:
            self._cache.pop(server_name, None)
        return resolved

    async def _resolve(self, server_name: str) -> tuple[ResolvedServer, int]:
        host, port = parse_server_name(server_name)
        ip = _ip_literal(host)
        if ip is not None:
            # Step 1: an IP literal, with its port or 8448; Host is the server name.
            return ResolvedServer(ip, port or DEFAULT_PORT, server_name, ip), WELL_KNOWN_MAX_TTL
        if port is not None:
            # Step 2: a hostname with an explicit port; no delegation.
            return ResolvedServer(host, port, server_name, host), WELL_KNOWN_MAX_TTL
        # Step 3: `/.well-known/matrix/server` delegation.
        delegated, ttl = await self._fetch_well_known(host)
        if delegated is None:
            # Steps 4-6: SRV `_matrix-fed._tcp`, then deprecated `_matrix._tcp`, then 8448.
            return await self._resolve_srv(host), ttl
        d_host, d_port = parse_server_name(delegated)
        d_ip = _ip_literal(d_host)
        if d_ip is not None:
            # Step 3.1: an IP literal; Host is the delegated name (with its port if given).
            return ResolvedServer(d_ip, d_port or DEFAULT_PORT, delegated, d_ip), ttl
        if d_port is not None:
            # Step 3.2: a delegated hostname with a port; Host is `<host>:<port>`.
            return ResolvedServer(d_host, d_port, delegated, d_host), ttl
        # Steps 3.3-3.5: SRV records of the delegated hostname, then port 8448.
        return await self._resolve_srv(d_host), ttl

    async def _resolve_srv(self, host: str) -> ResolvedServer:
        # The certificate and Host header stay `<hostname>` even when SRV points elsewhere.
        for service in ("_matrix-fed._tcp", "_matrix._tcp"):
            targets = await self.lookup_srv(f"{service}.{host}")
            if targets:
                target, port = targets[0]
                return ResolvedServer(target, port, host, host)
        return ResolvedServer(host, DEFAULT_PORT, host, host)

    async def _fetch_well_known(self, host: str) -> tuple[str | None, int]:
        """The ``m.server`` of ``https://<host>/.well-known/matrix/server`` and how long to cache
        the answer; (None, failure_ttl) for any error or invalid answer (redirects followed,
        loops stopped by aiohttp's redirect limit)."""
        port = "" if self.well_known_port == 443 else f":{self.well_known_port}"
        url = f"https://{host}{port}/.well-known/matrix/server"
        try:
            async with self._session().get(
                url, timeout=aiohttp.ClientTimeout(total=10), max_redirects=5
            ) as resp:
                if resp.status != 200:
                    return None, self.failure_ttl
                raw = await resp.content.read(WELL_KNOWN_MAX_SIZE + 1)
                ttl = _cache_ttl(resp.headers.get("Cache-Control"))
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            logger.info("No /.well-known/matrix/server for %s: %s", host, e)
            return None, self.failure_ttl
        delegated = _parse_well_known(raw)
        if delegated is None:
            return None, self.failure_ttl
        return delegated, ttl


def _parse_well_known(raw: bytes) -> str | None:
    if len(raw) > WELL_KNOWN_MAX_SIZE:
        return None
    try:
        data: Any = json.loads(raw)
    except ValueError:
        return None
    value = data.get("m.server") if isinstance(data, dict) else None
    if not isinstance(value, str):
        return None
    try:
        parse_server_name(value)
    except InvalidIdentifier:
        return None
    return value
