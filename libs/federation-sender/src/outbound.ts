/**
 * What of the event store goes to other servers, and in what form: the room events our users
 * sent (PDUs) and their public read receipts (`m.receipt` EDUs). Everything else in the store
 * (events of other servers, outliers, soft-failed events, private receipts, room facts) stays
 * here.
 */
import { RECEIPT_RECORDED, ROOM_EVENT_ACCEPTED, type ReceiptRecorded, type RoomEventAccepted } from '@hs/contracts';
import type { RecordedEvent } from '@hs/eventstore';
import { serverNameOf, type JsonObject, type Pdu } from '@hs/protocol';

/** An ephemeral data unit, as a transaction carries it. */
export interface Edu {
  edu_type: string;
  content: JsonObject;
}

/** Something of the store due to one or more servers, at its global position. */
export type StoredItem =
  | { kind: 'pdu'; position: bigint; eventId: string; pdu: Pdu }
  | { kind: 'edu'; position: bigint; edu: Edu };

/** A store record that goes out, with what decides where it goes. */
export type OutboundRecord =
  | { kind: 'event'; item: StoredItem & { kind: 'pdu' }; fact: RoomEventAccepted }
  | { kind: 'receipt'; item: StoredItem & { kind: 'edu' }; roomId: string };

/** The user is one of ours. */
export function isLocalUser(userId: string, serverName: string): boolean {
  return serverNameOf(userId) === serverName;
}

/** The `m.receipt` EDU of one receipt. */
export function receiptEdu(fact: ReceiptRecorded): Edu {
  const data: JsonObject = { ts: fact.ts };
  if (fact.thread_id !== undefined) data.thread_id = fact.thread_id;
  return {
    edu_type: 'm.receipt',
    content: { [fact.room_id]: { [fact.receipt_type]: { [fact.user_id]: { event_ids: [fact.event_id], data } } } },
  };
}

/** The `m.typing` EDU of a user's typing change. */
export function typingEdu(roomId: string, userId: string, typing: boolean): Edu {
  return { edu_type: 'm.typing', content: { room_id: roomId, user_id: userId, typing } };
}

/**
 * What `record` sends to other servers, or undefined. A room event goes out when one of our
 * users sent it and it is part of the room's timeline (neither an outlier nor soft-failed); a
 * receipt when one of our users sent it and it is public (`m.read`).
 */
export function outboundRecord(record: RecordedEvent, serverName: string): OutboundRecord | undefined {
  if (record.type === ROOM_EVENT_ACCEPTED) {
    const fact = record.data as unknown as RoomEventAccepted;
    if (fact.outlier || fact.soft_failed || fact.backfilled || !isLocalUser(fact.pdu.sender, serverName)) return undefined;
    return { kind: 'event', fact, item: { kind: 'pdu', position: record.position, eventId: fact.event_id, pdu: fact.pdu } };
  }
  if (record.type === RECEIPT_RECORDED) {
    const fact = record.data as unknown as ReceiptRecorded;
    if (fact.receipt_type !== 'm.read' || !isLocalUser(fact.user_id, serverName)) return undefined;
    return { kind: 'receipt', roomId: fact.room_id, item: { kind: 'edu', position: record.position, edu: receiptEdu(fact) } };
  }
  return undefined;
}

/** The room and user of an accepted join (ours or another server's) in the room's timeline, or undefined. */
export function joinOf(record: RecordedEvent): { roomId: string; userId: string } | undefined {
  if (record.type !== ROOM_EVENT_ACCEPTED) return undefined;
  const fact = record.data as unknown as RoomEventAccepted;
  const pdu = fact.pdu;
  if (fact.outlier || fact.soft_failed || fact.backfilled || pdu.type !== 'm.room.member' || typeof pdu.state_key !== 'string') return undefined;
  return pdu.content.membership === 'join' ? { roomId: fact.room_id, userId: pdu.state_key } : undefined;
}

/**
 * The room of an accepted `m.room.guest_access` change (ours or another server's) in the room's
 * timeline that stops guests from joining, or undefined: local guests must then leave.
 */
export function guestAccessRevokedIn(record: RecordedEvent): string | undefined {
  if (record.type !== ROOM_EVENT_ACCEPTED) return undefined;
  const fact = record.data as unknown as RoomEventAccepted;
  const pdu = fact.pdu;
  if (fact.outlier || fact.soft_failed || fact.backfilled || pdu.type !== 'm.room.guest_access' || pdu.state_key !== '') return undefined;
  return pdu.content.guest_access === 'can_join' ? undefined : fact.room_id;
}
