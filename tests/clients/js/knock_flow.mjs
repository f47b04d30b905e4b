// The knock lifecycle driven by matrix-js-sdk against a running Transom (Client-Server API,
// "Knocking on rooms", room versions 7+).
// Usage: node knock_flow.mjs <baseUrl> <serverName> [roomVersion]
//
// alice registers (m.login.dummy), bob registers and logs in with a password; alice creates a
// room whose join rule is "knock"; bob knocks with client.knockRoom(roomId, {viaServers, reason});
// alice sees the knock through /sync and invites; bob sees the invite through /sync and joins;
// both send a message and each receives the other's through /sync. Prints one "STEP {json}" line
// per step and exits 0 on success, 1 on the first failure (with the error on stderr).

import * as sdk from "matrix-js-sdk";

// matrix-js-sdk 43 targets Node 22+, which has Promise.withResolvers (ES2024); on Node 20 the
// SDK's event scheduler needs it, so supply the standard behaviour when it is absent.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

const [baseUrl, serverName, roomVersion = "10"] = process.argv.slice(2);
const STEP_TIMEOUT_MS = 15000;
const suffix = Math.random().toString(36).slice(2, 8);

function step(name, detail = {}) {
  console.log(`STEP ${JSON.stringify({ step: name, ...detail })}`);
}

function waitFor(description, check, subscribe) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${description}`)),
      STEP_TIMEOUT_MS,
    );
    const poll = () => {
      const value = check();
      if (value) {
        clearTimeout(timer);
        unsubscribe();
        resolve(value);
      }
    };
    const unsubscribe = subscribe(poll);
    poll();
  });
}

function onAny(client, events) {
  return (fn) => {
    for (const e of events) client.on(e, fn);
    return () => {
      for (const e of events) client.off(e, fn);
    };
  };
}

async function registerDummy(username) {
  const anon = sdk.createClient({ baseUrl });
  const res = await anon.registerRequest({
    username,
    password: "js-password",
    auth: { type: "m.login.dummy" },
  });
  return res;
}

async function loginPassword(username) {
  const anon = sdk.createClient({ baseUrl });
  return anon.loginRequest({
    type: "m.login.password",
    identifier: { type: "m.id.user", user: username },
    password: "js-password",
  });
}

function clientFor(creds) {
  return sdk.createClient({
    baseUrl,
    userId: creds.user_id,
    accessToken: creds.access_token,
    deviceId: creds.device_id,
  });
}

async function main() {
  const aliceCreds = await registerDummy(`alice_${suffix}`);
  step("registered", { user_id: aliceCreds.user_id });
  await registerDummy(`bob_${suffix}`);
  const bobCreds = await loginPassword(`bob_${suffix}`);
  step("logged_in", { user_id: bobCreds.user_id });
  if (!bobCreds.user_id.endsWith(`:${serverName}`)) throw new Error("wrong server name");

  const alice = clientFor(aliceCreds);
  const bob = clientFor(bobCreds);
  const whoami = await bob.whoami();
  if (whoami.user_id !== bobCreds.user_id) throw new Error(`whoami: ${whoami.user_id}`);

  const { room_id: roomId } = await alice.createRoom({
    room_version: roomVersion,
    name: "js knock room",
    initial_state: [
      { type: "m.room.join_rules", state_key: "", content: { join_rule: "knock" } },
    ],
  });
  step("created", { room_id: roomId });

  await alice.startClient({ initialSyncLimit: 20 });
  await bob.startClient({ initialSyncLimit: 20 });

  const knocked = await bob.knockRoom(roomId, {
    viaServers: [serverName],
    reason: "js-sdk knocking",
  });
  if (knocked.room_id !== roomId) throw new Error(`knock returned ${JSON.stringify(knocked)}`);
  step("knocked");

  // alice's sync shows bob's knock in the room's member list, with the reason.
  const knockMember = await waitFor(
    "alice to see the knock",
    () => {
      const member = alice.getRoom(roomId)?.getMember(bobCreds.user_id);
      return member?.membership === "knock" ? member : null;
    },
    onAny(alice, [sdk.RoomMemberEvent.Membership, sdk.ClientEvent.Sync]),
  );
  const reason = knockMember.events.member?.getContent().reason;
  if (reason !== "js-sdk knocking") throw new Error(`knock reason: ${reason}`);
  step("alice_saw_knock");

  // bob's own sync places the room in rooms.knock.
  await waitFor(
    "bob's sync to show the knock",
    () => bob.getRoom(roomId)?.getMyMembership() === "knock",
    onAny(bob, [sdk.RoomEvent.MyMembership, sdk.ClientEvent.Sync]),
  );
  step("bob_saw_own_knock");

  await alice.invite(roomId, bobCreds.user_id);
  await waitFor(
    "bob to see the invite",
    () => bob.getRoom(roomId)?.getMyMembership() === "invite",
    onAny(bob, [sdk.RoomEvent.MyMembership, sdk.ClientEvent.Sync]),
  );
  step("bob_saw_invite");

  await bob.joinRoom(roomId);
  await waitFor(
    "alice to see bob join",
    () => alice.getRoom(roomId)?.getMember(bobCreds.user_id)?.membership === "join",
    onAny(alice, [sdk.RoomMemberEvent.Membership, sdk.ClientEvent.Sync]),
  );
  step("joined");

  const hasMessage = (client, sender, body) => () =>
    client
      .getRoom(roomId)
      ?.getLiveTimeline()
      .getEvents()
      .some((e) => e.getSender() === sender && e.getContent().body === body && !e.status);

  await alice.sendTextMessage(roomId, "hello from alice");
  await bob.sendTextMessage(roomId, "hello from bob");
  await waitFor(
    "bob to receive alice's message",
    hasMessage(bob, aliceCreds.user_id, "hello from alice"),
    onAny(bob, [sdk.RoomEvent.Timeline, sdk.ClientEvent.Sync]),
  );
  await waitFor(
    "alice to receive bob's message",
    hasMessage(alice, bobCreds.user_id, "hello from bob"),
    onAny(alice, [sdk.RoomEvent.Timeline, sdk.ClientEvent.Sync]),
  );
  step("messages_exchanged");

  alice.stopClient();
  bob.stopClient();
  step("done");
}

const hardStop = setTimeout(() => {
  console.error("knock_flow.mjs: overall timeout");
  process.exit(1);
}, 90000);

main().then(
  () => {
    clearTimeout(hardStop);
    process.exit(0);
  },
  (err) => {
    console.error(err?.stack ?? String(err));
    if (err?.data) console.error(JSON.stringify(err.data));
    process.exit(1);
  },
);
