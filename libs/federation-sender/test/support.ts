/** Shared by the sender's specs and its crash child: a fixed resolver and stored room events of a test room. */
import { ROOM_EVENT_ACCEPTED, roomStream, type RoomEventAccepted } from '@hs/contracts';
import type { EventStore } from '@hs/eventstore';
import { buildEvent, serverNameOf, type JsonValue, type PrevEventRef, type SigningKey } from '@hs/protocol';
import type { DestinationResolver } from '../src/destination-resolver';

export const ORIGIN = 'origin.test';
export const ALICE = `@alice:${ORIGIN}`;
export const ROOM = `!room:${ORIGIN}`;

/** Destinations by a function of the event, the same for every room. */
export class FixedResolver implements DestinationResolver {
  constructor(
    public forEvent: (fact: RoomEventAccepted) => string[],
    public forRoom: () => string[] = () => [],
  ) {}

  async eventDestinations(events: readonly RoomEventAccepted[]): Promise<Map<string, readonly string[]>> {
    return new Map(events.map((fact) => [fact.event_id, this.forEvent(fact)]));
  }

  async roomDestinations(): Promise<readonly string[]> {
    return this.forRoom();
  }
}

/** Message events of ROOM, each on top of the previous one, signed by the key of their sender's server. */
export class RoomMessages {
  private prev: PrevEventRef = { eventId: '$start', depth: 1 };
  private counter = 0;

  constructor(private readonly keys: (server: string) => SigningKey) {}

  /** The last event built. */
  get lastEventId(): string {
    return this.prev.eventId;
  }

  /** A message of `sender` as the store keeps it. */
  message(overrides: Partial<RoomEventAccepted> = {}, sender = ALICE): RoomEventAccepted {
    const origin = serverNameOf(sender) ?? ORIGIN;
    const n = ++this.counter;
    const built = buildEvent({
      roomVersion: '11',
      roomId: ROOM,
      sender,
      type: 'm.room.message',
      content: { msgtype: 'm.text', body: `message ${n}` },
      prevEvents: [this.prev],
      state: new Map(),
      originServerTs: 1_700_000_000_000 + n,
      origin,
      signingKey: this.keys(origin),
    });
    this.prev = { eventId: built.event.event_id, depth: built.event.depth };
    return {
      v: 1,
      room_id: ROOM,
      room_version: '11',
      event_id: built.event.event_id,
      pdu: built.pdu,
      soft_failed: false,
      outlier: false,
      state_delta: { added: [], removed: [] },
      forward_extremities: [built.event.event_id],
      ...overrides,
    };
  }

  /** Appends the facts to ROOM's stream in one append; resolves with their event ids. */
  async append(store: EventStore, facts: RoomEventAccepted[]): Promise<string[]> {
    await store.append(
      roomStream(ROOM),
      'any',
      facts.map((fact) => ({ id: fact.event_id, type: ROOM_EVENT_ACCEPTED, data: fact as unknown as JsonValue })),
    );
    return facts.map((fact) => fact.event_id);
  }

  /** Appends `count` messages of ALICE in one append. */
  appendMessages(store: EventStore, count: number): Promise<string[]> {
    return this.append(store, Array.from({ length: count }, () => this.message()));
  }
}
