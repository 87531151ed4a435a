"""An end-to-end encrypted conversation driven by matrix-nio with libolm (python3-olm):
``python3 nio_e2ee.py <params json> <homeserver url> <result file>``, params
``{"username", "send", "expect"}``. Writes a JSON report to the result file; exits 1 (with
``error`` in the report) on failure.

The user registers (its device keys and one-time keys go up from an encrypted store in a
temporary folder), joins the first room it is invited to, which must be encrypted, trusts every
device of the room's other members, sends ``send`` encrypted and waits until it has decrypted a
message ``expect`` from another member.
"""
import asyncio
import json
import shutil
import sys
import tempfile
import time
import traceback

from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    MegolmEvent,
    RegisterResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)

WAIT_SECONDS = 60


class FlowError(Exception):
    pass


def expect(response, kind, what):
    if not isinstance(response, kind):
        raise FlowError(f"{what}: {type(response).__name__} {getattr(response, 'message', '')} {getattr(response, 'status_code', '')}")
    return response


class Client:
    """An AsyncClient with encryption whose syncs keep the keys up to date and the messages seen."""

    def __init__(self, base_url, store_path):
        # The Olm account and sessions are pickled encrypted with this key in the SQLite store.
        config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True, pickle_key="nio e2ee test store key")
        self.nio = AsyncClient(base_url, "", store_path=store_path, config=config)
        self.decrypted = []  # (room id, sender, body) of encrypted messages it could read
        self.undecrypted = []  # MegolmEvents it could not (yet) read, with their room id

    async def sync_once(self, timeout_ms=1000):
        response = await self.nio.sync(timeout=timeout_ms, full_state=False)
        if not isinstance(response, SyncResponse):
            raise FlowError(f"sync failed: {response}")
        if self.nio.should_upload_keys:
            await self.nio.keys_upload()
        if self.nio.should_query_keys:
            await self.nio.keys_query()
        if self.nio.should_claim_keys:
            await self.nio.keys_claim(self.nio.get_users_for_key_claiming())
        for room_id, room in response.rooms.join.items():
            for event in room.timeline.events:
                self.keep(room_id, event)
        # A room key may come after its message: try the waiting ones again.
        waiting, self.undecrypted = self.undecrypted, []
        for room_id, event in waiting:
            try:
                self.keep(room_id, self.nio.decrypt_event(event))
            except Exception:  # still no key for it
                self.undecrypted.append((room_id, event))
        return response

    def keep(self, room_id, event):
        if isinstance(event, MegolmEvent):
            self.undecrypted.append((room_id, event))
        elif isinstance(event, RoomMessageText) and event.decrypted:
            self.decrypted.append((room_id, event.sender, event.body))

    async def sync_until(self, check, what, seconds=WAIT_SECONDS):
        deadline = time.monotonic() + seconds
        while not check():
            if time.monotonic() > deadline:
                raise FlowError(f"timed out: {what}")
            await self.sync_once()


async def flow(base_url, params, store_path, report):
    client = Client(base_url, store_path)
    nio = client.nio
    try:
        username = params["username"]
        response = await nio.register(username, f"{username}-secret-password", f"{username} nio")
        expect(response, RegisterResponse, f"register {username}")
        report["user"] = nio.user_id
        report["device"] = nio.device_id
        await client.sync_once(timeout_ms=0)
        report["steps"].append("registered")

        await client.sync_until(lambda: len(nio.invited_rooms) > 0, "an invite")
        room_id = next(iter(nio.invited_rooms))
        report["roomId"] = room_id
        expect(await nio.join(room_id), JoinResponse, "join")
        await client.sync_until(lambda: room_id in nio.rooms and len(nio.rooms[room_id].users) > 1, "the joined room with its members")
        room = nio.rooms[room_id]
        report["encrypted"] = room.encrypted
        if not room.encrypted:
            raise FlowError("the room is not encrypted")
        others = [user for user in room.users if user != nio.user_id]
        report["steps"].append("joined")

        def devices_known():
            return all(any(True for _ in nio.device_store.active_user_devices(user)) for user in others)

        await client.sync_until(devices_known, f"device keys of {others}")
        trusted = []
        for user in others:
            for device in nio.device_store.active_user_devices(user):
                nio.verify_device(device)
                trusted.append(f"{user} {device.id}")
        report["trusted"] = trusted
        report["steps"].append("trusted")

        sent = await nio.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": params["send"]})
        expect(sent, RoomSendResponse, "send")
        report["sentEventId"] = sent.event_id
        report["steps"].append("sent")

        def read_expected():
            return any(r == room_id and body == params["expect"] for r, _, body in client.decrypted)

        try:
            await client.sync_until(read_expected, f"decrypt {params['expect']!r}")
        finally:
            report["decrypted"] = [{"sender": sender, "body": body} for r, sender, body in client.decrypted if r == room_id]
            report["undecrypted"] = [{"sender": event.sender, "session_id": event.session_id} for _, event in client.undecrypted]
        report["steps"].append("decrypted")
    finally:
        await nio.close()


def main():
    params_json, base_url, result_file = sys.argv[1:4]
    report = {"steps": []}
    store_path = tempfile.mkdtemp(prefix="nio-store-")
    try:
        asyncio.run(asyncio.wait_for(flow(base_url, json.loads(params_json), store_path, report), 240))
        report["ok"] = True
    except BaseException as error:  # noqa: BLE001 - everything goes into the report
        report["ok"] = False
        report["error"] = "".join(traceback.format_exception(error))
    finally:
        shutil.rmtree(store_path, ignore_errors=True)
        with open(result_file, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=2)
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
