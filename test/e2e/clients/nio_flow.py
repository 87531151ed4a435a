"""The conversation flow driven by matrix-nio (r0 paths):
``python3 nio_flow.py <homeserver url> <result file>``. Writes a JSON report of what each
client saw to the result file; exits 1 (with ``error`` in the report) on failure.

Two users register, alice creates a room and invites bob, bob joins from his invite, both
exchange messages, alice sends 200 more, bob paginates back through them with /messages, bob
changes his display name and alice's sync shows it on his room member.
"""
import asyncio
import json
import random
import string
import sys
import time
import traceback

from nio import (
    AsyncClient,
    JoinResponse,
    MessageDirection,
    ProfileSetDisplayNameResponse,
    RegisterResponse,
    RoomCreateResponse,
    RoomInviteResponse,
    RoomMessagesResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)


class FlowError(Exception):
    pass


def expect(response, kind, what):
    if not isinstance(response, kind):
        raise FlowError(f"{what}: {type(response).__name__} {getattr(response, 'message', '')} {getattr(response, 'status_code', '')}")
    return response


class Client:
    """An AsyncClient that keeps the message bodies its syncs delivered, per room, in order."""

    def __init__(self, base_url):
        self.nio = AsyncClient(base_url, "")
        self.bodies = {}
        self.sync_errors = []

    async def sync_once(self, timeout_ms=0):
        response = await self.nio.sync(timeout=timeout_ms, full_state=False)
        if not isinstance(response, SyncResponse):
            self.sync_errors.append(f"{type(response).__name__}: {getattr(response, 'message', '')}")
            raise FlowError(f"sync failed: {response}")
        for room_id, room in response.rooms.join.items():
            for event in room.timeline.events:
                if isinstance(event, RoomMessageText):
                    self.bodies.setdefault(room_id, []).append(event.body)
        return response

    async def sync_until(self, check, what, seconds=30):
        deadline = time.monotonic() + seconds
        while not check():
            if time.monotonic() > deadline:
                raise FlowError(f"timed out: {what}")
            await self.sync_once(timeout_ms=2000)


async def register(base_url, username):
    client = Client(base_url)
    response = await client.nio.register(username, f"{username}-secret-password", f"{username} nio")
    expect(response, RegisterResponse, f"register {username}")
    return client


async def send_text(client, room_id, body):
    response = await client.nio.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": body})
    expect(response, RoomSendResponse, f"send {body}")


async def flow(base_url, report):
    suffix = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(6))
    alice = await register(base_url, f"alice{suffix}")
    bob = await register(base_url, f"bob{suffix}")
    try:
        report["alice"] = alice.nio.user_id
        report["bob"] = bob.nio.user_id
        await alice.sync_once()
        await bob.sync_once()
        report["steps"].append("synced")

        created = expect(await alice.nio.room_create(name="nio e2e"), RoomCreateResponse, "createRoom")
        room_id = created.room_id
        report["roomId"] = room_id
        expect(await alice.nio.room_invite(room_id, bob.nio.user_id), RoomInviteResponse, "invite")
        await bob.sync_until(lambda: room_id in bob.nio.invited_rooms, "bob sees the invite")
        report["bobSawInvite"] = True
        expect(await bob.nio.join(room_id), JoinResponse, "join")
        await alice.sync_until(
            lambda: room_id in alice.nio.rooms and bob.nio.user_id in alice.nio.rooms[room_id].users,
            "alice sees bob join",
        )
        report["steps"].append("joined")

        conversation = []
        for i in range(6):
            sender, name = (alice, "alice") if i % 2 == 0 else (bob, "bob")
            body = f"{name} says {i}"
            conversation.append(body)
            await send_text(sender, room_id, body)

        def saw(client):
            return lambda: all(body in client.bodies.get(room_id, []) for body in conversation)

        await alice.sync_until(saw(alice), "alice sees the conversation")
        await bob.sync_until(saw(bob), "bob sees the conversation")
        report["conversation"] = conversation
        report["aliceTimeline"] = list(alice.bodies.get(room_id, []))
        report["bobTimeline"] = list(bob.bodies.get(room_id, []))
        report["steps"].append("conversation")

        for i in range(200):
            await send_text(alice, room_id, f"message {i}")
        await bob.sync_until(lambda: "message 199" in bob.bodies.get(room_id, []), "bob sees message 199")
        report["bobLiveTail"] = bob.bodies[room_id][-200:]
        report["steps"].append("sent 200")

        paginated = []
        start = bob.nio.next_batch
        for _ in range(100):
            response = expect(
                await bob.nio.room_messages(room_id, start=start, direction=MessageDirection.back, limit=30),
                RoomMessagesResponse,
                "messages",
            )
            paginated.extend(event.body for event in response.chunk if isinstance(event, RoomMessageText))
            if not response.end or not response.chunk:
                break
            start = response.end
        report["paginated"] = paginated
        report["steps"].append("paginated")

        expect(await bob.nio.set_displayname("Bob the Builder"), ProfileSetDisplayNameResponse, "displayname")

        def alice_sees_name():
            room = alice.nio.rooms.get(room_id)
            user = room.users.get(bob.nio.user_id) if room else None
            return user is not None and user.display_name == "Bob the Builder"

        await alice.sync_until(alice_sees_name, "alice sees the new display name")
        report["bobNameSeenByAlice"] = alice.nio.rooms[room_id].users[bob.nio.user_id].display_name
        report["steps"].append("displayname")
        report["ok"] = True
    finally:
        report["syncErrors"] = alice.sync_errors + bob.sync_errors
        await alice.nio.close()
        await bob.nio.close()


def main():
    base_url, result_file = sys.argv[1], sys.argv[2]
    report = {"steps": [], "ok": False}
    try:
        asyncio.run(flow(base_url, report))
    except Exception as error:  # the report carries any failure to the test
        report["ok"] = False
        report["error"] = f"{type(error).__name__}: {error}\n{traceback.format_exc()}"
    with open(result_file, "w", encoding="utf-8") as out:
        json.dump(report, out, indent=2)
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
