"""The composition root: builds the ``HomeServer`` (config, store, signing key, clock, rate
limiters, services as plain attributes), the aiohttp applications and the listeners.

Listeners: the client-server API (port 8008, plain HTTP) and the server-server API (port 8448,
TLS; server-server API, "Server discovery" and "TLS"). ``GET /health`` answers ``OK`` on every
listener. SIGTERM/SIGINT stop accepting, let in-flight requests finish (``shutdown_timeout``)
and close the store.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import os
import signal
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from transom.api.access_log import AccessLogger
from transom.api.admin import admin_routes
from transom.api.client import client_routes
from transom.api.errors import add_cors_headers, error_middleware
from transom.api.federation import federation_routes, key_routes
from transom.api.routing import X_FORWARDED_KEY, add_routes
from transom.config import Config, ListenerConfig
from transom.services.account_data import AccountDataService
from transom.services.accounts import AccountsService
from transom.services.clock import Clock, SystemClock
from transom.services.directory import DirectoryService
from transom.services.ephemeral import ReceiptService, TypingService
from transom.services.federation import FederationClient, KeyRing
from transom.services.federation.edus import OutboundEdus
from transom.services.federation.events import FederationEventHandler
from transom.services.federation.knocking import FederationKnocking
from transom.services.federation.membership import FederationMembership
from transom.services.federation.queries import FederationQueries
from transom.services.federation.reads import FederationReads
from transom.services.federation.remote_membership import RemoteMembership
from transom.services.federation.sender import FederationSender, RetryPolicy
from transom.services.federation.summary import RemoteRoomSummaries
from transom.services.federation.transactions import TransactionHandler
from transom.services.passwords import PasswordHasher
from transom.services.profiles import ProfileService
from transom.services.push import PushService
from transom.services.ratelimit import RateLimiters
from transom.services.rooms.knocking import KnockService
from transom.services.rooms.messages import MessagesService
from transom.services.rooms.service import RoomService
from transom.services.rooms.summary import RoomSummaryService
from transom.services.shared_secret import SharedSecretRegistration
from transom.services.sync import SyncService
from transom.services.uia import InteractiveAuth
from transom.storage.account_data import AccountDataStore
from transom.storage.federation_outbox import FederationOutbox
from transom.storage.filters import FilterStore
from transom.storage.profiles import ProfileStore
from transom.storage.push import PushActionStore, PushRuleStore
from transom.storage.receipts import ReceiptStore
from transom.storage.server_keys import ServerKeyStore
from transom.storage.store import Store

logger = logging.getLogger(__name__)


class HomeServer:
    """Everything one server holds. Later features add their services here as attributes."""

    def __init__(self, config: Config, store: Store, clock: Clock | None = None) -> None:
        self.config = config
        self.store = store
        self.server_name = config.server_name
        self.signing_key = config.signing_key
        self.clock: Clock = clock or SystemClock()
        self.executor = ThreadPoolExecutor(max_workers=os.cpu_count() or 2)
        self.ratelimiters = RateLimiters.from_config(config.rc, self.clock)
        self.passwords = PasswordHasher(config.bcrypt_rounds, self.executor)
        self.uia = InteractiveAuth(self.clock)
        self.accounts = AccountsService(
            config.server_name, store.accounts, self.passwords, self.clock, self.ratelimiters,
            self.uia,
        )  # fmt: skip
        self.shared_secret = SharedSecretRegistration(
            config.registration_shared_secret, self.accounts, self.clock
        )
        self.profiles = ProfileStore(store.db)
        # Federation: the signed outbound client and the key ring of remote servers' keys.
        self.federation_client = FederationClient(
            config.server_name, config.signing_key, self.clock,
            verify_certificates=config.federation_verify_certificates,
            ip_blacklist=config.ip_range_blacklist, ip_whitelist=config.ip_range_whitelist,
        )  # fmt: skip
        self.keyring = KeyRing(
            config.server_name, config.signing_key, self.clock, ServerKeyStore(store.db),
            self.federation_client,
        )  # fmt: skip
        self.rooms = RoomService(
            server_name=config.server_name,
            signing_key=config.signing_key,
            clock=self.clock,
            db=store.db,
            profiles=self.profiles,
        )
        # Typing, receipts, account data, push rules and unread counts.
        self.account_data = AccountDataService(AccountDataStore(store.db), self.rooms.streams)
        self.typing = TypingService(self.clock, self.rooms.membership.membership_of)
        push_actions = PushActionStore(store.db)
        self.receipts = ReceiptService(
            store=ReceiptStore(store.db),
            push_actions=push_actions,
            streams=self.rooms.streams,
            clock=self.clock,
            membership_of=self.rooms.membership.membership_of,
            events=self.rooms.events,
        )
        self.push = PushService(
            rules=PushRuleStore(store.db),
            actions=push_actions,
            account_data=self.account_data,
            events=self.rooms.events,
            state=self.rooms.state,
            streams=self.rooms.streams,
            is_local_user=self.rooms.is_local_user,
        )
        self.rooms.creator.listeners.append(self.push.on_new_events)
        self.rooms.creator.push = self.push
        self.messages = MessagesService(self.rooms)
        self.directory = DirectoryService(self.rooms, config.server_name, self.accounts.is_admin)
        self.profile_service = ProfileService(self.profiles, self.rooms, store.accounts.get_user)
        # Knocking: refusals, rc_knocks limits, rescinding a deactivated account's knocks.
        self.knocking = KnockService(self.rooms, self.ratelimiters)
        self.accounts.on_deactivate.append(self.knocking.rescind_all)
        self.room_summary = RoomSummaryService(self.rooms)
        # Federation inbound: the PDU receipt pipeline, /send transactions and read endpoints.
        self.federation_events = FederationEventHandler(self)
        self.federation_transactions = TransactionHandler(self, self.federation_events)
        self.federation_reads = FederationReads(self, self.federation_events)
        # Federation outbound queue, membership handshakes (both sides) and queries.
        retry = config.federation_retry
        self.federation_sender = FederationSender(
            server_name=config.server_name, outbox=FederationOutbox(store.db),
            client=self.federation_client, state=self.rooms.state, clock=self.clock,
            policy=RetryPolicy(retry.min_interval_ms, retry.max_interval_ms, retry.multiplier),
        )  # fmt: skip
        self.rooms.creator.listeners.append(self.federation_sender.on_new_events)
        self.federation_events.listeners.append(self.federation_sender.on_inbound)
        # Typing and public receipts of our users go to the room's other servers as EDUs;
        # /messages backfills from a resident server when it runs out of local history.
        self.federation_edus = OutboundEdus(
            server_name=config.server_name, sender=self.federation_sender,
            state=self.rooms.state, is_local_user=self.rooms.is_local_user,
        )  # fmt: skip
        self.typing.on_typing(self.federation_edus.on_typing)
        self.receipts.listeners.append(self.federation_edus.on_receipt)
        self.messages.backfill = self.federation_events.backfiller.backfill_room
        self.federation_membership = FederationMembership(self)
        self.remote_membership = RemoteMembership(self)
        self.federation_queries = FederationQueries(self)
        self.rooms.remote = self.remote_membership
        self.rooms.directory.remote = self.federation_queries
        self.profile_service.remote = self.federation_queries.remote_profile
        self.directory.remote_public_rooms = self.federation_queries.remote_public_rooms
        self.room_summary.remote_summary = RemoteRoomSummaries(self).summary
        # Knocking over federation: make_knock/send_knock served, remote knocks and rescinds,
        # rejections of our users' knocks delivered by the room's server.
        self.federation_knocking = FederationKnocking(self)
        self.knocking.remote_knock = self.federation_knocking.remote_knock
        self.knocking.remote_rescind = self.federation_knocking.remote_rescind
        self.federation_transactions.out_of_room = self.federation_knocking.on_pdu_outside_room

        # Sync and filters (after typing, receipts and account data, which it reads).
        self.filters = FilterStore(store.db)
        self.sync = SyncService(self)

    @classmethod
    async def open(cls, config: Config, clock: Clock | None = None) -> HomeServer:
        """Open (and migrate) the database, then build the server."""
        store = await Store.open(config.database.name, config.database.args)
        hs = cls(config, store, clock)
        await hs.rooms.setup()
        hs.sync.setup()
        await hs.federation_sender.start()
        return hs

    async def close(self) -> None:
        await self.federation_events.backfiller.stop()
        await self.federation_sender.stop()
        await self.federation_client.close()
        await self.store.close()
        self.executor.shutdown(wait=False)


async def _health(request: web.Request) -> web.Response:
    return web.Response(text="OK", content_type="text/plain")


def build_app(
    hs: HomeServer, resources: tuple[str, ...], x_forwarded: bool = False
) -> web.Application:
    """An aiohttp application serving the named listener resources."""
    app = web.Application(middlewares=[error_middleware], client_max_size=hs.config.max_upload_size)
    app[X_FORWARDED_KEY] = x_forwarded
    app.on_response_prepare.append(add_cors_headers)
    app.router.add_get("/health", _health)
    if "client" in resources:
        add_routes(app, hs, client_routes(hs))
        add_routes(app, hs, admin_routes(hs))
    if "federation" in resources:
        add_routes(app, hs, federation_routes(hs))
    if "federation" in resources or "keys" in resources:
        add_routes(app, hs, key_routes(hs))
    return app


def build_client_app(hs: HomeServer) -> web.Application:
    return build_app(hs, ("client",))


def build_federation_app(hs: HomeServer) -> web.Application:
    return build_app(hs, ("federation",))


def ensure_tls_certificate(config: Config) -> ssl.SSLContext:
    """Load the TLS certificate, generating a self-signed one on first run if the files are
    missing (federation peers in production need a real one; see the README)."""
    cert_path, key_path = config.tls_certificate_path, config.tls_private_key_path
    assert cert_path is not None and key_path is not None  # checked by the config loader
    if not cert_path.exists() or not key_path.exists():
        logger.warning("Generating a self-signed TLS certificate at %s", cert_path)
        write_self_signed_certificate(config.server_name, cert_path, key_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


def write_self_signed_certificate(server_name: str, cert_path: Path, key_path: Path) -> None:
    """A self-signed certificate for the host of ``server_name`` (``transom generate-config``
    writes one beside the signing key; ``run`` writes one if the files are missing)."""
    # Imported here: the x509 machinery costs about 8 MiB that a running server with its
    # certificate already on disk never needs.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    host = server_name.rsplit(":", 1)[0] if "]" not in server_name else "localhost"
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        alt = x509.DNSName(host)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


@dataclass
class RunningServer:
    hs: HomeServer
    runners: list[web.AppRunner] = field(default_factory=list)
    # (listener, actual port) per bound socket; port 0 in the config binds a free port.
    bound: list[tuple[ListenerConfig, int]] = field(default_factory=list)

    def port_for(self, resource: str) -> int:
        return next(port for listener, port in self.bound if resource in listener.resources)

    async def stop(self) -> None:
        """Stop accepting, wait for in-flight requests (``shutdown_timeout``), close the store."""
        for runner in self.runners:
            await runner.cleanup()
        await self.hs.close()


async def start(config: Config, clock: Clock | None = None) -> RunningServer:
    hs = await HomeServer.open(config, clock)
    running = RunningServer(hs)
    try:
        for listener in config.listeners:
            app = build_app(hs, listener.resources, listener.x_forwarded)
            runner = web.AppRunner(
                app,
                access_log=logging.getLogger("transom.access"),
                access_log_class=AccessLogger,
                shutdown_timeout=config.shutdown_timeout,
            )
            await runner.setup()
            running.runners.append(runner)
            ssl_context = ensure_tls_certificate(config) if listener.tls else None
            for address in listener.bind_addresses:
                site = web.TCPSite(runner, address, listener.port, ssl_context=ssl_context)
                await site.start()
                server = site._server  # the asyncio Server, to learn the port bound for port 0
                sockets = getattr(server, "sockets", None) or []
                port = sockets[0].getsockname()[1] if sockets else listener.port
                running.bound.append((listener, port))
                logger.info("Listening on %s:%d (%s)", address, port, ", ".join(listener.resources))
    except BaseException:
        await running.stop()
        raise
    return running


async def serve_forever(config: Config) -> None:
    """``transom run``: serve until SIGTERM or SIGINT, then shut down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    running = await start(config)
    logger.info("Transom serving %s", config.server_name)
    await stop.wait()
    logger.info("Shutting down")
    await running.stop()
    logger.info("Stopped")


async def migrate(config: Config) -> None:
    """``transom migrate``: apply pending database migrations and exit."""
    store = await Store.open(config.database.name, config.database.args)
    await store.close()
