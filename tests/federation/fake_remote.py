"""A scriptable federation peer for tests: ``FakeRemoteServer``.

It runs a tiny aiohttp server over TLS (self-signed certificate) on 127.0.0.1 with its own
ed25519 key, so a Transom under test (``federation_verify_certificates: false``,
``ip_range_blacklist: []``) reaches it by its server name ``127.0.0.1:<port>`` and fetches its
keys from ``/_matrix/key/v2/server`` like any peer's. It can:

- build and sign PDUs as its users (``make_event``, or ``make_event_from_state`` which picks
  prev/auth events from a Transom's own state, read in-process through ``hs.rooms``);
- send signed requests to a Transom's federation listener (``send_transaction`` for
  ``PUT /send/{txnId}``, ``request`` for anything else), authenticated with X-Matrix;
- answer requests with handlers a test registers (``on("POST", "/get_missing_events/", fn)``);
  ``GET /_matrix/federation/v1/event/{eventId}`` is answered from the events it built or was
  given (``remember``). Every request it receives is recorded in ``received``.

Incoming requests are not authenticated: this is a test double, not a homeserver.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from signedjson.key import encode_verify_key_base64, generate_signing_key, get_verify_key
from signedjson.sign import sign_json
from yarl import URL

from transom.core.auth import auth_types_for_event
from transom.core.canonical import encode_canonical_json
from transom.core.events import Event, JsonDict
from transom.core.pdu import build_event
from transom.core.room_versions import RoomVersion
from transom.core.xmatrix import build_authorization_header

FEDERATION_V1 = "/_matrix/federation/v1"

# A handler gets the received request and returns (status, JSON body).
Handler = Callable[["ReceivedRequest"], Awaitable[tuple[int, Any]]]


@dataclass
class ReceivedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    authorization: str | None


def _self_signed_context(folder: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "fake.crt", folder / "fake.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


class FakeRemoteServer:
    """A federation peer named ``127.0.0.1:<port>``; ``await start(tmp_path)`` before use."""

    def __init__(self) -> None:
        self.signing_key = generate_signing_key("fake1")
        self.key_id = f"{self.signing_key.alg}:{self.signing_key.version}"
        self.server_name = ""
        self.port = 0
        self.events: dict[str, Event] = {}
        self.received: list[ReceivedRequest] = []
        self._handlers: list[tuple[str, str, Handler]] = []
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    # Lifecycle --------------------------------------------------------------------------------

    async def start(self, folder: Path) -> FakeRemoteServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=_self_signed_context(folder))
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]
        self.server_name = f"127.0.0.1:{self.port}"
        self._session = aiohttp.ClientSession()
        return self

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def user(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    # Serving ----------------------------------------------------------------------------------

    def on(self, method: str, path_prefix: str, handler: Handler) -> None:
        """Answer requests whose path starts with ``path_prefix`` (relative to
        ``/_matrix/federation/v1`` unless it starts with ``/_matrix``); later ones win."""
        if not path_prefix.startswith("/_matrix"):
            path_prefix = FEDERATION_V1 + path_prefix
        self._handlers.insert(0, (method.upper(), path_prefix, handler))

    def remember(self, *events: Event) -> None:
        """Events this server will serve from ``/event/{eventId}``."""
        for event in events:
            self.events[event.event_id] = event

    def requests_to(self, path_prefix: str) -> list[ReceivedRequest]:
        if not path_prefix.startswith("/_matrix"):
            path_prefix = FEDERATION_V1 + path_prefix
        return [r for r in self.received if r.path.startswith(path_prefix)]

    async def _dispatch(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw) if raw.strip() else None
        query: dict[str, list[str]] = {}
        for key, value in request.query.items():
            query.setdefault(key, []).append(value)
        received = ReceivedRequest(
            request.method, request.path, query, body, request.headers.get("Authorization")
        )
        self.received.append(received)
        for method, prefix, handler in self._handlers:
            if method == request.method and request.path.startswith(prefix):
                status, answer = await handler(received)
                return web.json_response(answer, status=status)
        if request.path == "/_matrix/key/v2/server":
            return web.json_response(self.key_response())
        if request.method == "GET" and request.path.startswith(FEDERATION_V1 + "/event/"):
            event = self.events.get(request.path[len(FEDERATION_V1 + "/event/") :])
            if event is not None:
                return web.json_response(self.transaction([event.pdu]))
        return web.json_response({"errcode": "M_NOT_FOUND", "error": "Not found"}, status=404)

    def key_response(self) -> JsonDict:
        """``GET /_matrix/key/v2/server``, self-signed, valid for a day."""
        response = {
            "server_name": self.server_name,
            "valid_until_ts": int(time.time() * 1000) + 86_400_000,
            "verify_keys": {
                self.key_id: {"key": encode_verify_key_base64(get_verify_key(self.signing_key))}
            },
            "old_verify_keys": {},
        }
        signed: JsonDict = sign_json(response, self.server_name, self.signing_key)
        return signed

    def transaction(self, pdus: list[JsonDict]) -> JsonDict:
        return {
            "origin": self.server_name,
            "origin_server_ts": int(time.time() * 1000),
            "pdus": pdus,
        }

    # Building events --------------------------------------------------------------------------

    def make_event(
        self,
        room_version: RoomVersion,
        room_id: str | None,
        sender: str,
        event_type: str,
        content: JsonDict,
        state_key: str | None = None,
        *,
        prev_events: Sequence[Event],
        auth_events: Sequence[Event],
        depth: int | None = None,
        redacts: str | None = None,
    ) -> Event:
        """A PDU built and signed by this server (remembered for ``/event``); ``room_id`` is
        None only for a v12 create event."""
        if depth is None:
            depth = max((e.depth for e in prev_events), default=0) + 1
        event = build_event(
            room_version=room_version,
            room_id=room_id,
            sender=sender,
            event_type=event_type,
            content=content,
            state_key=state_key,
            prev_events=prev_events,
            auth_events=auth_events,
            depth=depth,
            origin_server_ts=int(time.time() * 1000),
            origin=self.server_name,
            signing_key=self.signing_key,
            redacts=redacts,
            event_id_v1=f"${uuid.uuid4().hex}:{self.server_name}",
        )
        self.remember(event)
        return event

    async def make_event_from_state(
        self,
        hs: Any,
        room_id: str,
        sender: str,
        event_type: str,
        content: JsonDict,
        state_key: str | None = None,
        *,
        prev_events: Sequence[Event] | None = None,
        state: dict[tuple[str, str], str] | None = None,
    ) -> Event:
        """An event whose auth events come from ``state`` (default: the Transom ``hs``'s current
        state of the room) and whose prev events are ``prev_events`` (default: its forward
        extremities), as a well-behaved peer would build it."""
        rooms = hs.rooms
        room_version = await rooms.rooms.get_room_version(room_id)
        if state is None:
            state = await rooms.state.get_current_state_ids(room_id)
        if prev_events is None:
            extremities = await rooms.events.get_forward_extremities(room_id)
            prev_events = list((await rooms.events.get_events(extremities)).values())
        keys = auth_types_for_event(room_version, event_type, state_key, sender, content)
        auth_ids = [state[k] for k in keys if k in state]
        auth = {**self.events, **await rooms.events.get_events(auth_ids, allow_rejected=True)}
        return self.make_event(
            room_version, room_id, sender, event_type, content, state_key,
            prev_events=prev_events, auth_events=[auth[i] for i in auth_ids],
        )  # fmt: skip

    # Sending ----------------------------------------------------------------------------------

    def _session_or_fail(self) -> aiohttp.ClientSession:
        assert self._session is not None, "start() the fake server first"
        return self._session

    async def request(
        self,
        target: Any,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, str | list[str]] | None = None,
        raw_body: bytes | None = None,
    ) -> tuple[int, Any]:
        """A signed request to ``target`` (anything with ``server_name`` and
        ``federation_url``), e.g. ``FedServer`` from ``tests/federation/conftest.py``."""
        pairs = [
            (k, item) for k, v in (query or {}).items() for item in (v if isinstance(v, list)
                                                                    else [v])
        ]  # fmt: skip
        uri = path + ("?" + urlencode(pairs, quote_via=quote) if pairs else "")
        header = build_authorization_header(
            origin=self.server_name,
            destination=target.server_name,
            key_id=self.key_id,
            signing_key=self.signing_key,
            method=method,
            uri=uri,
            content=body,
        )
        data = raw_body if raw_body is not None else (
            encode_canonical_json(body) if body is not None else None
        )  # fmt: skip
        headers = {"Authorization": header, "Content-Type": "application/json"}
        async with self._session_or_fail().request(
            method,
            URL(target.federation_url + uri, encoded=True),
            data=data,
            headers=headers,
            ssl=False,
        ) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text

    async def send_transaction(
        self,
        target: Any,
        pdus: Sequence[Event | JsonDict],
        edus: Sequence[JsonDict] = (),
        *,
        txn_id: str | None = None,
    ) -> tuple[int, Any]:
        """``PUT /send/{txnId}`` with these PDUs (events or raw JSON) and EDUs."""
        body = {
            "origin": self.server_name,
            "origin_server_ts": int(time.time() * 1000),
            "pdus": [p.pdu if isinstance(p, Event) else p for p in pdus],
            "edus": list(edus),
        }
        txn = txn_id or uuid.uuid4().hex
        return await self.request(target, "PUT", f"{FEDERATION_V1}/send/{txn}", body)
