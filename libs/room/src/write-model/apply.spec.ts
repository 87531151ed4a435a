import type { RoomEventAccepted } from '@hs/contracts';
import { toRoomEvent, type Pdu } from '@hs/protocol';
import { composeTimelineAppendWrites, timelineAppendValues, timelineAppendWrites } from './apply';
import { sql } from './sql';

function accepted(n: number, options: { local?: boolean; stateKey?: string; softFailed?: boolean } = {}): RoomEventAccepted {
  const pdu = {
    auth_events: ['$create', '$power', `$member${n}`],
    prev_events: [`$prev${n}`, '$other'],
    content: { msgtype: 'm.text', body: `message ${n} with "quotes" and \u00e9` },
    depth: 10 + n,
    hashes: { sha256: 'a'.repeat(43) },
    origin_server_ts: 1_700_000_000_000 + n,
    room_id: '!room:example.org',
    sender: '@alice:example.org',
    type: options.stateKey === undefined ? 'm.room.message' : 'org.example.state',
    ...(options.stateKey === undefined ? {} : { state_key: options.stateKey }),
    signatures: { 'example.org': { 'ed25519:a': 'b'.repeat(86) } },
  } as unknown as Pdu;
  const eventId = `$event${n}`;
  return {
    v: 1,
    room_id: '!room:example.org',
    room_version: '10',
    event_id: eventId,
    pdu,
    soft_failed: options.softFailed ?? false,
    outlier: false,
    state_delta: { added: [], removed: [] },
    forward_extremities: [eventId],
    ...(options.local ? { local: { user_id: '@alice:example.org', device_id: 'DEVICE', txn_id: `txn${n}` } } : {}),
  };
}

function eventOf(fact: RoomEventAccepted) {
  return { ...toRoomEvent(fact.pdu, '10'), event_id: fact.event_id };
}

describe('timelineAppendWrites', () => {
  const facts = [
    accepted(1, { local: true }),
    accepted(2),
    accepted(3, { stateKey: '', softFailed: true }),
    accepted(4, { local: true, stateKey: '@bob:example.org' }),
  ];

  it('gathers the values slonik binds, in its order', () => {
    const cte = (name: string) => sql.identifier([`t_${name}`]);
    for (const fact of facts) {
      expect(timelineAppendValues(eventOf(fact), fact)).toEqual(composeTimelineAppendWrites(eventOf(fact), fact, cte).values);
    }
  });

  it('gives the composed fragment for every event once its naming is known, text kept per naming', () => {
    const names = new Map<string, ReturnType<typeof sql.identifier>>();
    const cte = (name: string) => names.get(name) ?? (names.set(name, sql.identifier([`m7_${name}`])), names.get(name)!);
    const other = (name: string) => sql.identifier([`m8_${name}`]);
    for (const fact of facts) {
      const event = eventOf(fact);
      for (const naming of [cte, other]) {
        const fast = timelineAppendWrites(event, fact)(naming);
        const composed = composeTimelineAppendWrites(event, fact, naming);
        expect(fast.sql).toBe(composed.sql);
        expect(fast.values).toEqual(composed.values);
      }
    }
    expect(timelineAppendWrites(eventOf(facts[0]), facts[0])(cte).sql).toContain('"m7_stored" AS (');
    expect(timelineAppendWrites(eventOf(facts[0]), facts[0])(other).sql).toContain('"m8_stream_revision" AS (UPDATE room.rooms');
  });
});
