"""The client-server API. Adding an endpoint module is one line in ``MODULES``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from transom.api.client import (
    account,
    account_data,
    capabilities,
    create_room,
    devices,
    directory,
    filters,
    knocking,
    login,
    membership,
    messages,
    profile,
    pushrules,
    receipts,
    redaction,
    register,
    room_events,
    room_summary,
    sync,
    tags,
    typing,
    versions,
    wellknown,
)
from transom.api.routing import Route

if TYPE_CHECKING:
    from transom.app import HomeServer

MODULES = [
    versions,
    wellknown,
    capabilities,
    register,
    login,
    account,
    devices,
    create_room,
    membership,
    room_events,
    messages,
    redaction,
    directory,
    profile,
    typing,
    receipts,
    account_data,
    pushrules,
    knocking,
    room_summary,
    filters,
    sync,
    tags,
]


def client_routes(hs: HomeServer) -> list[Route]:
    return [route for module in MODULES for route in module.routes(hs)]
