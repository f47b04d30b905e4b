"""AccountStore on SQLite and PostgreSQL: users, devices, access tokens."""

from __future__ import annotations

import asyncio

import pytest

from transom.storage import (
    AccountStore,
    DeviceRecord,
    IntegrityError,
    Store,
    TokenOwner,
    UserExistsError,
    UserRecord,
)

ALICE = "@alice:example.org"


@pytest.fixture
async def accounts(store: Store) -> AccountStore:
    await store.accounts.create_user(ALICE, "hash1", creation_ts=1000)
    return store.accounts


async def test_create_and_get_user(accounts: AccountStore) -> None:
    assert await accounts.get_user(ALICE) == UserRecord(
        user_id=ALICE, password_hash="hash1", admin=False, deactivated=False, creation_ts=1000
    )
    await accounts.create_user("@root:example.org", None, admin=True, creation_ts=2)
    root = await accounts.get_user("@root:example.org")
    assert root is not None and root.admin is True and root.password_hash is None
    assert await accounts.get_user("@nobody:example.org") is None


async def test_duplicate_user_is_rejected(accounts: AccountStore) -> None:
    with pytest.raises(UserExistsError):
        await accounts.create_user(ALICE, "other", creation_ts=5)
    # The original account is untouched.
    user = await accounts.get_user(ALICE)
    assert user is not None and user.password_hash == "hash1"


async def test_case_insensitive_clash_is_a_duplicate(accounts: AccountStore) -> None:
    with pytest.raises(UserExistsError):
        await accounts.create_user("@Alice:example.org", "x", creation_ts=5)
    assert await accounts.get_user("@Alice:example.org") is None
    assert await accounts.user_exists_case_insensitive("@ALICE:example.org")
    assert await accounts.user_exists_case_insensitive(ALICE)
    assert not await accounts.user_exists_case_insensitive("@alice2:example.org")


async def test_concurrent_registration_of_one_id(store: Store) -> None:
    ids = ["@bob:example.org", "@Bob:example.org", "@BOB:example.org"] * 4
    results = await asyncio.gather(
        *(store.accounts.create_user(u, None, creation_ts=1) for u in ids),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, UserExistsError) for r in results if r is not None)


async def test_set_password_admin_deactivated(accounts: AccountStore) -> None:
    await accounts.set_password_hash(ALICE, "hash2")
    await accounts.set_admin(ALICE, True)
    await accounts.set_deactivated(ALICE)
    user = await accounts.get_user(ALICE)
    assert user == UserRecord(ALICE, "hash2", admin=True, deactivated=True, creation_ts=1000)
    await accounts.set_deactivated(ALICE, False)
    await accounts.set_admin(ALICE, False)
    await accounts.set_password_hash(ALICE, None)
    assert await accounts.get_user(ALICE) == UserRecord(ALICE, None, False, False, 1000)


async def test_setters_on_unknown_user_do_nothing(accounts: AccountStore) -> None:
    ghost = "@ghost:example.org"
    await accounts.set_password_hash(ghost, "h")
    await accounts.set_admin(ghost, True)
    await accounts.set_deactivated(ghost)
    assert await accounts.get_user(ghost) is None


async def test_create_device_and_relogin_keeps_it(accounts: AccountStore) -> None:
    await accounts.create_device(ALICE, "DEV1", "Phone", created_ts=10)
    await accounts.record_device_seen(ALICE, "DEV1", 20, "10.0.0.1")
    # Logging in again with the same device_id keeps the existing device as it was.
    await accounts.create_device(ALICE, "DEV1", "Laptop", created_ts=30)
    assert await accounts.get_device(ALICE, "DEV1") == DeviceRecord(
        device_id="DEV1",
        user_id=ALICE,
        display_name="Phone",
        last_seen_ts=20,
        last_seen_ip="10.0.0.1",
    )
    assert len(await accounts.list_devices(ALICE)) == 1


async def test_devices_are_per_user(accounts: AccountStore) -> None:
    bob = "@bob:example.org"
    await accounts.create_user(bob, None, creation_ts=1)
    await accounts.create_device(ALICE, "SAME", None, created_ts=1)
    await accounts.create_device(bob, "SAME", "Bob's", created_ts=1)
    alice_dev = await accounts.get_device(ALICE, "SAME")
    assert alice_dev is not None and alice_dev.display_name is None
    assert alice_dev.last_seen_ts is None and alice_dev.last_seen_ip is None
    assert await accounts.get_device(ALICE, "OTHER") is None
    assert [d.user_id for d in await accounts.list_devices(bob)] == [bob]


async def test_device_for_unknown_user_is_rejected(store: Store) -> None:
    with pytest.raises(IntegrityError):
        await store.accounts.create_device("@ghost:example.org", "D", None, created_ts=1)


async def test_list_and_update_devices(accounts: AccountStore) -> None:
    for device_id in ("B", "A", "C"):
        await accounts.create_device(ALICE, device_id, f"name {device_id}", created_ts=1)
    devices = await accounts.list_devices(ALICE)
    assert [d.device_id for d in devices] == ["A", "B", "C"]
    await accounts.update_device(ALICE, "B", "renamed")
    await accounts.update_device(ALICE, "C", None)
    names = {d.device_id: d.display_name for d in await accounts.list_devices(ALICE)}
    assert names == {"A": "name A", "B": "renamed", "C": None}
    assert await accounts.list_devices("@nobody:example.org") == []


async def test_access_tokens(accounts: AccountStore) -> None:
    await accounts.create_device(ALICE, "DEV1", None, created_ts=1)
    await accounts.create_access_token("tok1", ALICE, "DEV1", created_ts=2)
    assert await accounts.get_token_owner("tok1") == TokenOwner(ALICE, "DEV1", False)
    assert await accounts.get_token_owner("nope") is None
    await accounts.set_deactivated(ALICE)
    assert await accounts.get_token_owner("tok1") == TokenOwner(ALICE, "DEV1", True)
    await accounts.delete_access_token("tok1")
    assert await accounts.get_token_owner("tok1") is None
    await accounts.delete_access_token("tok1")  # deleting twice is harmless


async def test_duplicate_token_is_rejected(accounts: AccountStore) -> None:
    await accounts.create_access_token("tok", ALICE, None, created_ts=1)
    with pytest.raises(IntegrityError):
        await accounts.create_access_token("tok", ALICE, None, created_ts=2)
    assert await accounts.get_token_owner("tok") == TokenOwner(ALICE, None, False)


async def test_delete_device_deletes_its_tokens_only(accounts: AccountStore) -> None:
    for device_id in ("D1", "D2"):
        await accounts.create_device(ALICE, device_id, None, created_ts=1)
        await accounts.create_access_token(f"t-{device_id}", ALICE, device_id, created_ts=1)
    await accounts.delete_device(ALICE, "D1")
    assert await accounts.get_device(ALICE, "D1") is None
    assert await accounts.get_token_owner("t-D1") is None
    assert await accounts.get_token_owner("t-D2") == TokenOwner(ALICE, "D2", False)
    await accounts.delete_device(ALICE, "D1")  # already gone: harmless


async def test_delete_devices(accounts: AccountStore) -> None:
    bob = "@bob:example.org"
    await accounts.create_user(bob, None, creation_ts=1)
    for user in (ALICE, bob):
        for device_id in ("D1", "D2", "D3"):
            await accounts.create_device(user, device_id, None, created_ts=1)
            await accounts.create_access_token(f"{user}-{device_id}", user, device_id, created_ts=1)
    await accounts.delete_devices(ALICE, ["D1", "D3", "MISSING"])
    await accounts.delete_devices(ALICE, [])
    assert [d.device_id for d in await accounts.list_devices(ALICE)] == ["D2"]
    assert len(await accounts.list_devices(bob)) == 3
    assert await accounts.get_token_owner(f"{ALICE}-D1") is None
    assert await accounts.get_token_owner(f"{ALICE}-D2") is not None
    assert await accounts.get_token_owner(f"{bob}-D1") is not None


async def test_delete_all_tokens(accounts: AccountStore) -> None:
    bob = "@bob:example.org"
    await accounts.create_user(bob, None, creation_ts=1)
    for token in ("a1", "a2", "a3"):
        await accounts.create_access_token(token, ALICE, None, created_ts=1)
    await accounts.create_access_token("b1", bob, None, created_ts=1)
    await accounts.delete_all_tokens(ALICE, except_token="a2")
    assert await accounts.get_token_owner("a1") is None
    assert await accounts.get_token_owner("a3") is None
    assert await accounts.get_token_owner("a2") is not None
    await accounts.delete_all_tokens(ALICE)
    assert await accounts.get_token_owner("a2") is None
    assert await accounts.get_token_owner("b1") is not None


async def test_record_device_seen(accounts: AccountStore) -> None:
    await accounts.create_device(ALICE, "D", None, created_ts=1)
    await accounts.record_device_seen(ALICE, "D", 1_700_000_000_000, "::1")
    await accounts.record_device_seen(ALICE, "D", 1_700_000_000_500, "192.0.2.1")
    device = await accounts.get_device(ALICE, "D")
    assert device is not None
    assert (device.last_seen_ts, device.last_seen_ip) == (1_700_000_000_500, "192.0.2.1")
    await accounts.record_device_seen(ALICE, "UNKNOWN", 5, None)  # no such device: no-op
    assert await accounts.get_device(ALICE, "UNKNOWN") is None


async def test_data_survives_reopen(store_config: tuple[str, dict[str, object]]) -> None:
    store = await Store.open(*store_config)
    await store.accounts.create_user(ALICE, "h", creation_ts=1)
    await store.accounts.create_access_token("tok", ALICE, None, created_ts=1)
    await store.close()
    store = await Store.open(*store_config)
    try:
        assert await store.accounts.get_token_owner("tok") == TokenOwner(ALICE, None, False)
    finally:
        await store.close()
