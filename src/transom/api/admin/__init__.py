"""Synapse-compatible admin API (not part of the Matrix spec)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from transom.api.admin import register
from transom.api.routing import Route

if TYPE_CHECKING:
    from transom.app import HomeServer

MODULES = [register]


def admin_routes(hs: HomeServer) -> list[Route]:
    return [route for module in MODULES for route in module.routes(hs)]
