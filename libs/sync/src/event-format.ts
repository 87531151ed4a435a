/**
 * The `federation` event format of sync filters (client-server API, "Filtering":
 * `event_format: "federation"` returns "the raw event as received over federation"): each
 * room event of a /sync answer becomes its signed wire form (PDU), redacted if the event
 * is redacted, with the `event_id` and the viewer's `unsigned` (age, transaction id, ...)
 * of the client form.
 */
import { redactEvent } from '@hs/protocol';
import type { ClientEvent } from '@hs/projections/sync';
import { applyEventFields } from './filter';

/** An event's signed wire form with its room version. */
export interface WireEventRecord {
  eventId: string;
  roomVersion: string;
  pdu: object;
}

/** Where the signed wire forms of room events come from (the room write model). */
export interface WireEventSource {
  wireEvents(eventIds: readonly string[]): Promise<WireEventRecord[]>;
}

type Section = { events: Partial<ClientEvent>[] };

/** What of a /sync answer holds room events: the timeline and state of joined and left rooms. */
export interface RoomEventSections {
  rooms?: {
    join?: Record<string, { timeline: Section; state: Section }>;
    leave?: Record<string, { timeline: Section; state: Section }>;
  };
}

/** The timeline and state sections of every joined and left room of `body`. */
function sections(body: RoomEventSections): Section[] {
  const out: Section[] = [];
  for (const room of Object.values(body.rooms?.join ?? {})) out.push(room.timeline, room.state);
  for (const room of Object.values(body.rooms?.leave ?? {})) out.push(room.timeline, room.state);
  return out;
}

/**
 * `body` with its room events in the federation format, then cut to `eventFields` if given
 * (the client form's fields were kept whole for this). An event the source does not hold
 * stays in the client form.
 */
export async function inFederationFormat<T extends RoomEventSections>(body: T, source: WireEventSource, eventFields: readonly string[] | undefined): Promise<T> {
  const all = sections(body);
  const ids = new Set<string>();
  for (const section of all) for (const e of section.events) if (typeof e.event_id === 'string') ids.add(e.event_id);
  const wire = new Map((await source.wireEvents([...ids])).map((w) => [w.eventId, w]));
  for (const section of all) {
    section.events = section.events.map((e) => {
      const record = typeof e.event_id === 'string' ? wire.get(e.event_id) : undefined;
      const redacted = e.unsigned !== undefined && (e.unsigned as Record<string, unknown>).redacted_because !== undefined;
      const raw = record === undefined ? e : {
        ...(redacted ? redactEvent(record.pdu, record.roomVersion) : record.pdu),
        event_id: record.eventId,
        ...(e.unsigned !== undefined ? { unsigned: e.unsigned } : {}),
      };
      return applyEventFields(raw as Partial<ClientEvent>, eventFields);
    });
  }
  return body;
}
