/**
 * Which room events an application service is sent (application service API, "Pushing
 * events"): events whose sender, or whose member `state_key`, is the service's sender or in its
 * users namespace; events of rooms in its rooms namespace or with an alias in its aliases
 * namespace; and events of rooms where one of its users is joined (read from the room's
 * current state when the batch is read). Services that asked for ephemeral events also get
 * the public read receipts and typing notifications of those rooms.
 */
import { RECEIPT_RECORDED, ROOM_EVENT_ACCEPTED, type ReceiptRecorded, type RoomEventAccepted } from '@hs/contracts';
import type { RecordedEvent } from '@hs/eventstore';
import { clientEventOf, type ClientEvent } from '@hs/protocol';
import { createSqlTag, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { AppService } from './registry';

const sql = createSqlTag();

/** A room event as application services (and clients) see it. */
export type AppServiceEvent = ClientEvent;

/** A timeline event of the store, at its position. */
export interface PositionedEvent {
  position: bigint;
  event: AppServiceEvent;
}

/** The client form of an accepted event, with what the server adds to `unsigned` (e.g. invite_room_state). */
export function appServiceEventOf(fact: RoomEventAccepted): AppServiceEvent {
  const event = clientEventOf(fact.pdu, fact.event_id, fact.room_id, fact.room_version);
  if (fact.unsigned !== undefined) event.unsigned = fact.unsigned;
  return event;
}

/** The timeline events of a batch of store records (outliers, soft-failed and backfilled events left out). */
export function timelineEvents(records: readonly RecordedEvent[]): PositionedEvent[] {
  const events: PositionedEvent[] = [];
  for (const record of records) {
    if (record.type !== ROOM_EVENT_ACCEPTED) continue;
    const fact = record.data as unknown as RoomEventAccepted;
    if (fact.outlier || fact.soft_failed || fact.backfilled) continue;
    events.push({ position: record.position, event: appServiceEventOf(fact) });
  }
  return events;
}

const MemberRow = z.object({ room_id: z.string(), user_id: z.string() });
const AliasRow = z.object({ room_id: z.string(), alias: z.string() });

/** The events of `events` the service is interested in, in order. */
export async function selectInteresting(service: AppService, events: readonly PositionedEvent[], db: CommonQueryMethods): Promise<PositionedEvent[]> {
  const direct = (event: AppServiceEvent) =>
    service.ownsUser(event.sender) ||
    (event.type === 'm.room.member' && event.state_key !== undefined && service.ownsUser(event.state_key)) ||
    service.isInterestedInRoom(event.room_id);
  const roomsOfInterest = await interestingRooms(service, events.filter((entry) => !direct(entry.event)).map((entry) => entry.event.room_id), db);
  return events.filter((entry) => direct(entry.event) || roomsOfInterest.has(entry.event.room_id));
}

/**
 * The rooms of `roomIds` the service is interested in as a whole: in its rooms namespace, with
 * one of its users joined (the room's current state), or with an alias in its aliases namespace.
 */
export async function interestingRooms(service: AppService, roomIds: readonly string[], db: CommonQueryMethods): Promise<Set<string>> {
  const found = new Set<string>(roomIds.filter((roomId) => service.isInterestedInRoom(roomId)));
  const undecided = [...new Set(roomIds.filter((roomId) => !found.has(roomId)))];
  if (undecided.length === 0) return found;
  const members = await db.any(sql.type(MemberRow)`
    SELECT room_id, state_key AS user_id FROM room.current_state
     WHERE room_id = ANY(${sql.array(undecided, 'text')}) AND type = 'm.room.member' AND membership = 'join'`);
  for (const row of members) if (service.ownsUser(row.user_id)) found.add(row.room_id);
  if (service.registration.namespaces.aliases.length > 0) {
    const aliases = await db.any(sql.type(AliasRow)`SELECT room_id, alias FROM room.aliases WHERE room_id = ANY(${sql.array(undecided, 'text')})`);
    for (const row of aliases) if (service.isInterestedInAlias(row.alias)) found.add(row.room_id);
  }
  return found;
}

/** An ephemeral event of a room (`m.receipt`, `m.typing`), as application services get them. */
export interface EphemeralEvent {
  type: string;
  room_id: string;
  content: Record<string, unknown>;
}

/** The public read receipts of a batch of store records, each as the `m.receipt` event of its room. */
export function receiptEvents(records: readonly RecordedEvent[]): EphemeralEvent[] {
  const events: EphemeralEvent[] = [];
  for (const record of records) {
    if (record.type !== RECEIPT_RECORDED) continue;
    const fact = record.data as unknown as ReceiptRecorded;
    if (fact.receipt_type !== 'm.read') continue;
    const data: Record<string, unknown> = { ts: fact.ts };
    if (fact.thread_id !== undefined) data.thread_id = fact.thread_id;
    events.push({ type: 'm.receipt', room_id: fact.room_id, content: { [fact.event_id]: { [fact.receipt_type]: { [fact.user_id]: data } } } });
  }
  return events;
}
