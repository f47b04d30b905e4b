"""Stored client filters (client-server API "Filtering": ``POST /user/{userId}/filter`` and
``GET /user/{userId}/filter/{filterId}``).

A filter ID is a per-user counter rendered as a string. Definitions are kept as canonical JSON,
so uploading the same definition again returns the existing ID. Loaded filters are cached.
"""

from __future__ import annotations

import json
from typing import Any

from canonicaljson import encode_canonical_json

from transom.storage.database import Database, IntegrityError
from transom.storage.events import LruCache


class FilterStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: LruCache[tuple[str, int], dict[str, Any]] = LruCache(10_000)

    async def add_filter(self, user_id: str, definition: dict[str, Any]) -> str:
        """Store ``definition`` for ``user_id``; returns its filter ID."""
        text = encode_canonical_json(definition).decode("utf-8")
        for _ in range(5):  # retry if a concurrent upload took the same ID
            try:
                return await self._insert(user_id, text)
            except IntegrityError:
                continue
        raise RuntimeError("could not allocate a filter ID")

    async def _insert(self, user_id: str, text: str) -> str:
        async with self.db.transaction() as conn:
            existing = await conn.fetchval(
                "SELECT filter_id FROM user_filters WHERE user_id = $1 AND filter_json = $2",
                user_id,
                text,
            )
            if existing is not None:
                return str(existing)
            highest = await conn.fetchval(
                "SELECT MAX(filter_id) FROM user_filters WHERE user_id = $1", user_id
            )
            filter_id = int(highest if highest is not None else -1) + 1
            await conn.execute(
                "INSERT INTO user_filters (user_id, filter_id, filter_json) VALUES ($1, $2, $3)",
                user_id,
                filter_id,
                text,
            )
            return str(filter_id)

    async def get_filter(self, user_id: str, filter_id: str) -> dict[str, Any] | None:
        """The stored definition, or None when the user has no such filter."""
        if not filter_id.isdigit() or len(filter_id) > 18:
            return None
        key = (user_id, int(filter_id))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        text = await self.db.fetchval(
            "SELECT filter_json FROM user_filters WHERE user_id = $1 AND filter_id = $2",
            user_id,
            key[1],
        )
        if text is None:
            return None
        definition: dict[str, Any] = json.loads(text)
        self._cache.put(key, definition)
        return definition
