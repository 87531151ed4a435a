/**
 * A membership of one of our users in a room this server does not hold (an invite from another
 * server, a decline made here only), appended as the write side records it: an outlier
 * RoomEventAccepted fact, with no timeline place and no room state but its member entry.
 */
import { ROOM_EVENT_ACCEPTED, roomStream, type RoomEventAccepted } from '@hs/contracts';
import type { EventStore } from '@hs/eventstore';
import type { JsonObject, JsonValue } from '@hs/protocol';

export interface OutOfBandMembership {
  roomId: string;
  eventId: string;
  sender: string;
  /** The member (state key). */
  userId: string;
  membership: string;
  prevEvent: string;
  /** The fact's `unsigned` (e.g. `invite_room_state`). */
  unsigned?: JsonObject;
}

export async function appendOutOfBandMembership(store: EventStore, m: OutOfBandMembership): Promise<void> {
  const fact: RoomEventAccepted = {
    v: 1,
    room_id: m.roomId,
    room_version: '10',
    event_id: m.eventId,
    pdu: {
      room_id: m.roomId,
      sender: m.sender,
      type: 'm.room.member',
      state_key: m.userId,
      content: { membership: m.membership },
      origin_server_ts: 1_700_000_000_000,
      depth: 5,
      prev_events: [m.prevEvent],
      auth_events: [m.prevEvent],
      hashes: { sha256: 'x' },
      signatures: {},
    } as unknown as RoomEventAccepted['pdu'],
    soft_failed: false,
    outlier: true,
    state_delta: { added: [{ type: 'm.room.member', state_key: m.userId, event_id: m.eventId }], removed: [] },
    forward_extremities: [],
    state_groups: [],
    ...(m.unsigned ? { unsigned: m.unsigned } : {}),
  };
  await store.append(roomStream(m.roomId), 'any', [{ id: m.eventId, type: ROOM_EVENT_ACCEPTED, data: fact as unknown as JsonValue }]);
}
