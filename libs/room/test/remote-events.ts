/**
 * Test support: an event of another server (built and signed with that server's key, as it
 * would arrive over federation), checked against the room's current state with the
 * authorization rules and appended to the room stream as a RoomEventAccepted fact, with the
 * write model updated in the same transaction, the way the room writer appends its own events.
 * Until inbound federation is built, this is how tests put remote members into a room.
 */
import { ROOM_EVENT_ACCEPTED, roomStream, type RoomEventAccepted, type StateEntry } from '@hs/contracts';
import type { JsonValue } from '@hs/eventstore';
import { buildEvent, checkAuth, choosePrevEvents, stateKey, type JsonObject, type Pdu, type RoomEvent, type SigningKey, type StateKey } from '@hs/protocol';
import { applyRoomRecord, type RoomWriter, type TransactionalEventStore } from '../src';

export interface RemoteEventInput {
  roomId: string;
  /** The remote server: it names the event's origin and signs it. */
  origin: string;
  signingKey: SigningKey;
  sender: string;
  type: string;
  stateKey?: string;
  content: JsonObject;
  originServerTs?: number;
}

/** Appends the remote event after the room's forward extremities; resolves with it. */
export async function appendRemoteEvent(deps: { writer: RoomWriter; store: TransactionalEventStore }, input: RemoteEventInput): Promise<RoomEvent> {
  const snapshot = await deps.writer.reader.snapshot(input.roomId);
  if (!snapshot) throw new Error(`room ${input.roomId} is not known`);
  const stateIds = new Map<StateKey, string>([...snapshot.state].map(([key, event]) => [key, event.event_id]));
  const built = buildEvent({
    roomVersion: snapshot.rules,
    roomId: input.roomId,
    sender: input.sender,
    type: input.type,
    stateKey: input.stateKey,
    content: input.content,
    prevEvents: snapshot.extremities,
    state: stateIds,
    originServerTs: input.originServerTs ?? Date.now(),
    origin: input.origin,
    signingKey: input.signingKey,
  });
  const event = built.event;
  const auth = checkAuth(event, (type, key) => snapshot.state.get(stateKey(type, key)), snapshot.rules);
  if (!auth.allowed) throw new Error(`the remote event is not allowed: ${auth.reason}`);
  const added: StateEntry[] = [];
  const removed: StateEntry[] = [];
  if (event.state_key !== undefined) {
    const previous = snapshot.state.get(stateKey(event.type, event.state_key));
    if (previous) removed.push({ type: previous.type, state_key: event.state_key, event_id: previous.event_id });
    added.push({ type: event.type, state_key: event.state_key, event_id: event.event_id });
  }
  const referenced = new Set(choosePrevEvents(snapshot.extremities).map((p) => p.eventId));
  const pdu: Pdu = { ...built.pdu };
  delete pdu.unsigned;
  const fact: RoomEventAccepted = {
    v: 1,
    room_id: input.roomId,
    room_version: snapshot.rules.id,
    event_id: event.event_id,
    pdu,
    soft_failed: false,
    outlier: false,
    state_delta: { added, removed },
    forward_extremities: [...snapshot.extremities.map((x) => x.eventId).filter((id) => !referenced.has(id)), event.event_id],
  };
  const record = { id: event.event_id, type: ROOM_EVENT_ACCEPTED, data: fact as unknown as JsonValue };
  await deps.store.transaction(async (tx) => {
    const appended = await deps.store.appendInTransaction(tx, roomStream(input.roomId), snapshot.revision, [record]);
    const stored = appended.events[0];
    await applyRoomRecord(tx, input.roomId, { type: record.type, data: record.data, revision: stored.revision, position: stored.position });
  });
  deps.writer.clearCache();
  return event;
}
