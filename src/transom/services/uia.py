"""User-interactive authentication (client-server API, "User-Interactive Authentication API").

Sessions live in memory: a session ID, the flows offered, and the stages completed so far. A stage
is checked by a callback the caller passes (``m.login.dummy`` always passes; ``m.login.password``
is checked by the accounts service). Sessions expire after ``SESSION_LIFETIME_S``.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from transom.services.clock import Clock
from transom.services.errors import AuthRequired, BadJson, Forbidden

SESSION_LIFETIME_S = 30 * 60

# Checks one stage's auth dict; returns the user ID it authenticated (or None), raises Forbidden.
StageChecker = Callable[[dict[str, Any]], Awaitable[str | None]]


@dataclass
class _Session:
    flows: list[list[str]]
    created: float
    completed: list[str] = field(default_factory=list)
    authenticated_user: str | None = None


class InteractiveAuth:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._sessions: dict[str, _Session] = {}

    def _new_session(self, flows: list[list[str]]) -> str:
        now = self._clock.time()
        for sid in [s for s, v in self._sessions.items() if now - v.created > SESSION_LIFETIME_S]:
            del self._sessions[sid]
        session_id = secrets.token_urlsafe(18)
        self._sessions[session_id] = _Session(flows, now)
        return session_id

    @staticmethod
    def _body(session_id: str, session: _Session) -> dict[str, Any]:
        return {
            "flows": [{"stages": stages} for stages in session.flows],
            "params": {},
            "session": session_id,
            "completed": list(session.completed),
        }

    async def check(
        self, auth: Any, flows: list[list[str]], checkers: dict[str, StageChecker]
    ) -> str | None:
        """Run one step of UIA for a request whose body held ``auth``.

        Returns (the authenticated user ID, or None) once a flow is complete, and otherwise raises
        ``AuthRequired`` carrying the 401 body. A failed stage answers 401 with the session body
        plus ``errcode``/``error``, as the spec requires.
        """
        if auth is None:
            session_id = self._new_session(flows)
            raise AuthRequired(self._body(session_id, self._sessions[session_id]))
        if not isinstance(auth, dict):
            raise BadJson("'auth' must be an object")
        given = auth.get("session")
        session_id = given if isinstance(given, str) else ""
        session = self._sessions.get(session_id)
        if session is None:
            # A stage without a (known) session starts a new session and is checked in it.
            session_id = self._new_session(flows)
            session = self._sessions[session_id]
        stage = auth.get("type")
        if isinstance(stage, str):
            checker = checkers.get(stage)
            allowed = any(stage in stages for stages in session.flows)
            if checker is None or not allowed:
                body = self._body(session_id, session)
                body.update(errcode="M_UNRECOGNIZED", error=f"Unknown auth type {stage!r}")
                raise AuthRequired(body)
            try:
                user = await checker(auth)
            except Forbidden as e:
                body = self._body(session_id, session)
                body.update(errcode=e.errcode, error=e.message)
                raise AuthRequired(body) from None
            if stage not in session.completed:
                session.completed.append(stage)
            session.authenticated_user = user or session.authenticated_user
        for stages in session.flows:
            if all(s in session.completed for s in stages):
                del self._sessions[session_id]
                return session.authenticated_user
        raise AuthRequired(self._body(session_id, session))
