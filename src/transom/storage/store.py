"""The Store: every storage area of the homeserver, composed over one Database.

Spec: not covered by the Matrix spec; the project's own storage contract. Each area is a plain
class taking the Database (`store.accounts`, and later `store.rooms`, `store.events`, ...);
adding one means adding an attribute here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transom.storage.accounts import AccountStore
from transom.storage.database import Database, open_database
from transom.storage.migrations import migrate


class Store:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.accounts = AccountStore(db)

    @classmethod
    async def open(
        cls, engine: str, args: Mapping[str, Any], *, run_migrations: bool = True
    ) -> Store:
        """Open the database on `engine` with `args` (see `open_database`) and migrate it."""
        db = await open_database(engine, args)
        try:
            if run_migrations:
                await migrate(db)
        except BaseException:
            await db.close()
            raise
        return cls(db)

    async def close(self) -> None:
        await self.db.close()
