"""Account phases: registration and password login.

Spec: Client-Server API "Account registration" (``POST /register`` with ``m.login.dummy``) and
"Login" (``POST /login`` with ``m.login.password`` and an ``m.id.user`` identifier).
Both are dominated by the bcrypt cost, which servers.py sets equal on every server.
"""

from __future__ import annotations

from bench.phases.base import Context, Phase, ensure_users, register


class Register(Phase):
    name = "register"
    description = "N new users via POST /register with m.login.dummy"

    def count(self, ctx: Context) -> int:
        return ctx.settings.users

    async def prepare(self, ctx: Context) -> None:
        ctx.scratch["register_localparts"] = [ctx.next_localpart() for _ in range(self.count(ctx))]

    async def operation(self, ctx: Context, index: int) -> None:
        localparts = ctx.scratch["register_localparts"]
        assert isinstance(localparts, list)
        ctx.users.append(await register(ctx.client, localparts[index], ctx.settings.password))


class Login(Phase):
    name = "login"
    description = "N password logins (POST /login, m.login.password) of existing users"

    def count(self, ctx: Context) -> int:
        return ctx.settings.users

    async def prepare(self, ctx: Context) -> None:
        await ensure_users(ctx, ctx.settings.users)

    async def operation(self, ctx: Context, index: int) -> None:
        user = ctx.users[index % len(ctx.users)]
        body = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user.localpart},
            "password": ctx.settings.password,
        }
        _, data = await ctx.client.request("POST", "/_matrix/client/v3/login", body)
        if not data.get("access_token"):
            raise KeyError(f"login answered without access_token: {data}")
