"""``PUT /_matrix/federation/v1/send/{txnId}`` (server-server API "Transactions").

A body that is not a JSON object, or whose ``pdus``/``edus`` are not lists or exceed 50 PDUs /
100 EDUs, is 400; otherwise the answer is 200 with a result per PDU, whatever became of them.
"""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route


async def on_send(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    result: dict[str, Any] = await req.hs.federation_transactions.on_send(
        req.origin, req.path("txnId"), body.data
    )
    return result


def routes(hs: object) -> list[Route]:
    return [Route("PUT", ("/_matrix/federation/v1/send/{txnId}",), on_send, federation=True)]
