/**
 * Test set-up for rooms with members of other servers, before the federation join path exists:
 * a membership event of another server's user, built and signed with that server's key, stored
 * as the `RoomEventAccepted` fact that accepting it over federation appends (one append to the
 * room stream and the write model in one transaction, on top of the room's extremities).
 */
import { ROOM_EVENT_ACCEPTED, roomStream, type RoomEventAccepted } from '@hs/contracts';
import { buildEvent, serverNameOf, stateKey, type JsonObject, type JsonValue, type RoomEvent, type SigningKey, type StateKey } from '@hs/protocol';
import { applyRoomRecord, type RoomWriter, type TransactionalEventStore } from '../src';

export interface RemoteMembership {
  /** The remote user (the sender and state key). */
  userId: string;
  membership: 'join' | 'leave';
  /** The signing key of the user's server. */
  signingKey: SigningKey;
  /** The event's timestamp (default now). */
  originServerTs?: number;
}

/** Stores a membership event sent by a user of another server; returns the event. */
export async function addRemoteMembership(writer: RoomWriter, store: TransactionalEventStore, roomId: string, change: RemoteMembership): Promise<RoomEvent> {
  const origin = serverNameOf(change.userId);
  if (origin === undefined) throw new Error(`not a user id: ${change.userId}`);
  return writer.exclusive(roomId, async () => {
    const snapshot = await writer.reader.snapshot(roomId);
    if (!snapshot) throw new Error(`unknown room ${roomId}`);
    const state = new Map<StateKey, string>([...snapshot.state].map(([key, event]) => [key, event.event_id]));
    const built = buildEvent({
      roomVersion: snapshot.rules,
      roomId,
      sender: change.userId,
      type: 'm.room.member',
      stateKey: change.userId,
      content: { membership: change.membership } as JsonObject,
      prevEvents: snapshot.extremities,
      state,
      originServerTs: change.originServerTs ?? Date.now(),
      origin,
      signingKey: change.signingKey,
    });
    const eventId = built.event.event_id;
    const previous = snapshot.state.get(stateKey('m.room.member', change.userId));
    const fact: RoomEventAccepted = {
      v: 1,
      room_id: roomId,
      room_version: snapshot.rules.id,
      event_id: eventId,
      pdu: built.pdu,
      soft_failed: false,
      outlier: false,
      state_delta: {
        added: [{ type: 'm.room.member', state_key: change.userId, event_id: eventId }],
        removed: previous ? [{ type: 'm.room.member', state_key: change.userId, event_id: previous.event_id }] : [],
      },
      forward_extremities: [eventId],
    };
    await store.transaction(async (tx) => {
      const data = fact as unknown as JsonValue;
      const appended = await store.appendInTransaction(tx, roomStream(roomId), snapshot.revision, [{ id: eventId, type: ROOM_EVENT_ACCEPTED, data }]);
      const stored = appended.events[0];
      await applyRoomRecord(tx, roomId, { type: ROOM_EVENT_ACCEPTED, data, revision: stored.revision, position: stored.position });
    });
    // The writer's cached state no longer is the room's.
    writer.clearCache();
    return built.event;
  });
}
