"""``/devices``, ``/devices/{deviceId}``, ``/delete_devices`` (client-server API, "Device
management")."""

from __future__ import annotations

from typing import Any

from transom.api.routing import ApiRequest, Route, client_paths
from transom.storage.accounts import DeviceRecord


def device_json(device: DeviceRecord) -> dict[str, Any]:
    body: dict[str, Any] = {"device_id": device.device_id}
    if device.display_name is not None:
        body["display_name"] = device.display_name
    if device.last_seen_ip is not None:
        body["last_seen_ip"] = device.last_seen_ip
    if device.last_seen_ts is not None:
        body["last_seen_ts"] = device.last_seen_ts
    return body


async def list_devices(req: ApiRequest) -> dict[str, Any]:
    devices = await req.hs.accounts.list_devices(req.requester)
    return {"devices": [device_json(d) for d in devices]}


async def get_device(req: ApiRequest) -> dict[str, Any]:
    return device_json(await req.hs.accounts.get_device(req.requester, req.path("device_id")))


async def update_device(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    await req.hs.accounts.update_device(
        req.requester, req.path("device_id"), body.opt_str("display_name")
    )
    return {}


async def delete_device(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    await req.hs.accounts.delete_device(req.requester, body.opt_dict("auth"), req.path("device_id"))
    return {}


async def delete_devices(req: ApiRequest) -> dict[str, Any]:
    body = await req.body()
    await req.hs.accounts.delete_devices(
        req.requester, body.opt_dict("auth"), body.str_list("devices")
    )
    return {}


def routes(hs: object) -> list[Route]:
    one = client_paths("/devices/{device_id}")
    return [
        Route("GET", client_paths("/devices"), list_devices, auth=True),
        Route("GET", one, get_device, auth=True),
        Route("PUT", one, update_device, auth=True),
        Route("DELETE", one, delete_device, auth=True),
        Route("POST", client_paths("/delete_devices"), delete_devices, auth=True),
    ]
