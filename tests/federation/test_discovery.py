"""Server discovery (server-server API "Resolving server names"): IP literals, explicit ports,
``/.well-known/matrix/server`` delegation served over TLS on loopback, SRV records (scripted),
fallbacks and caching; and the blacklist applied to resolved host names."""

from __future__ import annotations

import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from signedjson.key import generate_signing_key

from transom.app import ensure_tls_certificate
from transom.services.clock import ManualClock
from transom.services.federation import discovery
from transom.services.federation.client import FederationClient, FederationUnreachable
from transom.services.federation.discovery import ResolvedServer, ServerDiscovery


class WellKnown:
    """A TLS server on 127.0.0.1 answering ``/.well-known/matrix/server`` as scripted."""

    def __init__(self) -> None:
        self.status = 200
        self.body: Any = {"m.server": "delegated.example:9999"}
        self.headers: dict[str, str] = {}
        self.hits = 0
        self.port = 0
        self.redirect_to: str | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        if self.redirect_to is not None:
            raise web.HTTPFound(self.redirect_to)
        return await self.document(request)

    async def document(self, request: web.Request) -> web.StreamResponse:
        if isinstance(self.body, bytes):
            return web.Response(body=self.body, status=self.status, headers=self.headers)
        return web.json_response(self.body, status=self.status, headers=self.headers)


@pytest.fixture
async def well_known(tmp_path: Path) -> AsyncIterator[WellKnown]:
    state = WellKnown()
    app = web.Application()
    app.router.add_get("/.well-known/matrix/server", state.handle)
    app.router.add_get("/moved", state.document)
    config = types.SimpleNamespace(
        tls_certificate_path=tmp_path / "wk.crt",
        tls_private_key_path=tmp_path / "wk.key",
        server_name="localhost",
    )
    ssl_context = ensure_tls_certificate(config)  # type: ignore[arg-type]
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    state.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield state
    await runner.cleanup()


class Srv:
    """Scripted SRV records, recording the names looked up."""

    def __init__(self, records: dict[str, list[tuple[str, int]]] | None = None) -> None:
        self.records = records or {}
        self.asked: list[str] = []

    async def __call__(self, name: str) -> list[tuple[str, int]]:
        self.asked.append(name)
        return self.records.get(name, [])


@pytest.fixture
async def client(well_known: WellKnown) -> AsyncIterator[FederationClient]:
    fed = FederationClient(
        "origin.example",
        generate_signing_key("k"),
        ManualClock(),
        verify_certificates=False,
        well_known_port=well_known.port,
        well_known_failure_ttl=0,
    )
    yield fed
    await fed.close()


def make_discovery(client: FederationClient, srv: Srv, **kw: Any) -> ServerDiscovery:
    d = client.discovery
    d.lookup_srv = srv
    for key, value in kw.items():
        setattr(d, key, value)
    return d


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("1.2.3.4", ResolvedServer("1.2.3.4", 8448, "1.2.3.4", "1.2.3.4")),
        ("1.2.3.4:1234", ResolvedServer("1.2.3.4", 1234, "1.2.3.4:1234", "1.2.3.4")),
        ("[2001:db8::1]", ResolvedServer("2001:db8::1", 8448, "[2001:db8::1]", "2001:db8::1")),
        ("[::1]:99", ResolvedServer("::1", 99, "[::1]:99", "::1")),
        (
            "example.org:1234",
            ResolvedServer("example.org", 1234, "example.org:1234", "example.org"),
        ),
    ],
)
async def test_literals_and_explicit_ports_skip_lookups(
    client: FederationClient, well_known: WellKnown, name: str, expected: ResolvedServer
) -> None:
    srv = Srv()
    assert await make_discovery(client, srv).resolve_server(name) == expected
    assert srv.asked == []
    assert well_known.hits == 0


@pytest.mark.parametrize(
    ("m_server", "srv_records", "expected"),
    [
        # 3.1: an IP literal; Host is the delegated name.
        ("127.0.0.9", {}, ResolvedServer("127.0.0.9", 8448, "127.0.0.9", "127.0.0.9")),
        ("[::2]:77", {}, ResolvedServer("::2", 77, "[::2]:77", "::2")),
        # 3.2: hostname and port.
        ("d.example:9999", {}, ResolvedServer("d.example", 9999, "d.example:9999", "d.example")),
        # 3.3: SRV _matrix-fed._tcp of the delegated host; certificate for the delegated host.
        ("d.example", {"_matrix-fed._tcp.d.example": [("t.example", 443)],
                       "_matrix._tcp.d.example": [("old.example", 1)]},
         ResolvedServer("t.example", 443, "d.example", "d.example")),
        # 3.4: deprecated _matrix._tcp.
        ("d.example", {"_matrix._tcp.d.example": [("old.example", 1)]},
         ResolvedServer("old.example", 1, "d.example", "d.example")),
        # 3.5: no SRV: port 8448.
        ("d.example", {}, ResolvedServer("d.example", 8448, "d.example", "d.example")),
    ],
)  # fmt: skip
async def test_well_known_delegation(
    client: FederationClient,
    well_known: WellKnown,
    m_server: str,
    srv_records: dict[str, list[tuple[str, int]]],
    expected: ResolvedServer,
) -> None:
    well_known.body = {"m.server": m_server}
    srv = Srv(srv_records)
    assert await make_discovery(client, srv).resolve_server("localhost") == expected
    assert well_known.hits == 1
    # Never the SRV records of the original name when delegation worked.
    assert all("localhost" not in name for name in srv.asked)


@pytest.mark.parametrize(
    "answer",
    [
        (404, {"m.server": "d.example:1"}),
        (200, b"not json"),
        (200, {"m.server": 5}),
        (200, {"m.server": "bad name!"}),
        (200, ["m.server"]),
        (200, {}),
    ],
)
async def test_bad_well_known_falls_back_to_srv(
    client: FederationClient, well_known: WellKnown, answer: tuple[int, Any]
) -> None:
    well_known.status, well_known.body = answer
    srv = Srv({"_matrix-fed._tcp.localhost": [("srv.example", 8000)]})
    resolved = await make_discovery(client, srv).resolve_server("localhost")
    # Step 4: SRV of the original hostname; Host and certificate stay the hostname.
    assert resolved == ResolvedServer("srv.example", 8000, "localhost", "localhost")


async def test_fallback_order_without_well_known(client: FederationClient) -> None:
    # Nothing listens on the well-known port here: steps 4, 5 and 6 in turn.
    d = make_discovery(client, Srv(), well_known_port=1)
    assert await d.resolve_server("localhost") == ResolvedServer(
        "localhost", 8448, "localhost", "localhost"
    )
    assert d.lookup_srv.asked == ["_matrix-fed._tcp.localhost", "_matrix._tcp.localhost"]  # type: ignore[attr-defined]
    d.lookup_srv = Srv({"_matrix._tcp.localhost": [("old.example", 8)]})
    assert await d.resolve_server("localhost") == ResolvedServer(
        "old.example", 8, "localhost", "localhost"
    )


async def test_redirects_followed_and_loops_stopped(
    client: FederationClient, well_known: WellKnown
) -> None:
    d = make_discovery(client, Srv())
    well_known.body = {"m.server": "d.example:1"}
    well_known.redirect_to = "/moved"
    assert (await d.resolve_server("localhost")).port == 1
    # A redirect loop ends as a failed lookup: on to SRV and port 8448.
    d._cache.clear()
    well_known.redirect_to = "/.well-known/matrix/server"
    resolved = await d.resolve_server("localhost")
    assert resolved == ResolvedServer("localhost", 8448, "localhost", "localhost")
    assert well_known.hits > 2


async def test_well_known_cached_per_cache_control(
    client: FederationClient, well_known: WellKnown
) -> None:
    clock = ManualClock()
    d = make_discovery(client, Srv(), clock=clock)
    well_known.body = {"m.server": "d.example:1"}
    well_known.headers = {"Cache-Control": "max-age=60"}
    await d.resolve_server("localhost")
    await d.resolve_server("localhost")
    assert well_known.hits == 1
    clock.advance(61)
    well_known.headers = {}  # default: 24 hours
    await d.resolve_server("localhost")
    assert well_known.hits == 2
    clock.advance(23 * 3600)
    await d.resolve_server("localhost")
    assert well_known.hits == 2
    clock.advance(2 * 3600)
    well_known.headers = {"Cache-Control": "no-store"}
    await d.resolve_server("localhost")
    await d.resolve_server("localhost")
    assert well_known.hits == 4


async def test_failures_cached_when_configured(
    client: FederationClient, well_known: WellKnown
) -> None:
    clock = ManualClock()
    d = make_discovery(client, Srv(), clock=clock, failure_ttl=600)
    well_known.status = 500
    await d.resolve_server("localhost")
    await d.resolve_server("localhost")
    assert well_known.hits == 1
    clock.advance(601)
    await d.resolve_server("localhost")
    assert well_known.hits == 2


async def test_dns_srv_lookup_orders_records(monkeypatch: pytest.MonkeyPatch) -> None:
    def record(priority: int, weight: int, target: str, port: int) -> Any:
        return types.SimpleNamespace(
            priority=priority, weight=weight, port=port,
            target=types.SimpleNamespace(to_text=lambda omit_final_dot: target),
        )  # fmt: skip

    asked = []

    async def fake_resolve(name: str, rdtype: str) -> list[Any]:
        asked.append((name, rdtype))
        return [record(20, 5, "c.example", 3), record(10, 1, "b.example", 2),
                record(10, 9, "a.example", 1), record(30, 0, ".", 0)]  # fmt: skip

    monkeypatch.setattr(discovery.dns.asyncresolver, "resolve", fake_resolve)
    got = await discovery.dns_srv_lookup("_matrix-fed._tcp.x.example")
    assert got == [("a.example", 1), ("b.example", 2), ("c.example", 3)]
    assert asked == [("_matrix-fed._tcp.x.example", "SRV")]

    async def nxdomain(name: str, rdtype: str) -> list[Any]:
        raise discovery.dns.resolver.NXDOMAIN()

    monkeypatch.setattr(discovery.dns.asyncresolver, "resolve", nxdomain)
    assert await discovery.dns_srv_lookup("_matrix._tcp.x.example") == []


async def test_blacklist_applies_to_resolved_names(well_known: WellKnown) -> None:
    fed = FederationClient(
        "origin.example", generate_signing_key("k"), ManualClock(),
        verify_certificates=False, ip_blacklist=("127.0.0.0/8", "::1/128"),
    )  # fmt: skip
    try:
        # `localhost:<port>` skips well-known; the name resolves only to loopback addresses,
        # which the resolver drops, so the connection fails like an unknown name.
        with pytest.raises(FederationUnreachable, match="DNS"):
            await fed.get_json(f"localhost:{well_known.port}", "/_matrix/key/v2/server")
        with pytest.raises(FederationUnreachable, match="blacklist"):
            await fed.get_json(f"127.0.0.1:{well_known.port}", "/_matrix/key/v2/server")
        with pytest.raises(FederationUnreachable, match="blacklist"):
            await fed.get_json(f"[::ffff:127.0.0.1]:{well_known.port}", "/x")
    finally:
        await fed.close()
    assert well_known.hits == 0
