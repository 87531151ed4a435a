import {
  EVENT_ID_NAMESPACE,
  comparePositions,
  eventUuid,
  isSystemEvent,
  nameBasedUuid,
  positionOf,
  toEsdbExpectedRevision,
  toReadPosition,
  unwrapMetadata,
  wrapMetadata,
} from './eventstoredb-event-store';

const UUID_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('EventStoreDB adapter: event ids', () => {
  it('derives RFC 4122 name-based (v5) UUIDs', () => {
    // The RFC's DNS namespace and a name whose v5 UUID other implementations agree on.
    expect(nameBasedUuid('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
    expect(() => nameBasedUuid('not-a-uuid', 'x')).toThrow(RangeError);
  });

  it('maps each id to the same valid v5 UUID every time, and different ids to different UUIDs', () => {
    const id = '$Kf3j2yPq9Zb_h8x:example.org';
    expect(eventUuid(id)).toBe(eventUuid(id));
    expect(eventUuid(id)).toMatch(UUID_V5);
    expect(eventUuid(id)).toBe(nameBasedUuid(EVENT_ID_NAMESPACE, id));
    const ids = ['$a', '$b', '$A', 'a', '', 'é', '$a ', `$${'x'.repeat(10_000)}`];
    const uuids = new Set(ids.map(eventUuid));
    expect(uuids.size).toBe(ids.length);
    for (const uuid of uuids) expect(uuid).toMatch(UUID_V5);
  });
});

describe('EventStoreDB adapter: metadata envelope', () => {
  it('round-trips the id and metadata, null when there was none', () => {
    const metadata = { origin: 'x', nested: { list: [1, 'two', null] } };
    const id = '$event:example.org';
    const stored: unknown = JSON.parse(JSON.stringify(wrapMetadata(id, metadata)));
    expect(stored).toEqual({ id, meta: metadata });
    expect(unwrapMetadata(eventUuid(id), stored)).toEqual({ id, metadata });
    const bare: unknown = JSON.parse(JSON.stringify(wrapMetadata(id, undefined)));
    expect(unwrapMetadata(eventUuid(id), bare)).toEqual({ id, metadata: null });
    expect(unwrapMetadata(eventUuid(id).toUpperCase(), bare)).toEqual({ id, metadata: null });
    expect(unwrapMetadata(eventUuid(id), wrapMetadata(id, 0))).toEqual({ id, metadata: 0 });
  });

  it('does not unwrap metadata that is not an envelope of that very event', () => {
    const id = '$event:example.org';
    // Another event's UUID: the envelope does not belong to it.
    expect(unwrapMetadata(eventUuid('$other'), wrapMetadata(id, null))).toBeUndefined();
    expect(unwrapMetadata(eventUuid(id), { id, meta: null, extra: 1 })).toBeUndefined();
    expect(unwrapMetadata(eventUuid(id), { id })).toBeUndefined();
    expect(unwrapMetadata(eventUuid(id), { id: 5, meta: null })).toBeUndefined();
    expect(unwrapMetadata(eventUuid(id), undefined)).toBeUndefined();
    expect(unwrapMetadata(eventUuid(id), [id, null])).toBeUndefined();
    expect(unwrapMetadata(eventUuid(id), new Uint8Array([1, 2]))).toBeUndefined();
  });
});

describe('EventStoreDB adapter: positions', () => {
  it('reads from the start for 0n, else from the checkpoint itself (skipped by the reader)', () => {
    expect(toReadPosition(0n)).toBe('start');
    expect(toReadPosition(-5n)).toBe('start');
    expect(toReadPosition(4321n)).toEqual({ commit: 4321n, prepare: 4321n });
  });

  it('takes the commit position of a self-committed event, and refuses shared or missing ones', () => {
    expect(positionOf({ commit: 987654321987n, prepare: 987654321987n })).toBe(987654321987n);
    expect(() => positionOf({ commit: 500n, prepare: 300n })).toThrow(/explicit transaction/);
    expect(() => positionOf(undefined)).toThrow(/22\.6/);
  });

  it('orders positions by commit, then prepare', () => {
    expect(comparePositions({ commit: 1n, prepare: 9n }, { commit: 2n, prepare: 0n })).toBe(-1);
    expect(comparePositions({ commit: 2n, prepare: 5n }, { commit: 2n, prepare: 3n })).toBe(1);
    expect(comparePositions({ commit: 7n, prepare: 7n }, { commit: 7n, prepare: 7n })).toBe(0);
  });

  it('treats $ types and $ streams as system events', () => {
    expect(isSystemEvent('$stats-127.0.0.1:2113', '$statsCollected')).toBe(true);
    expect(isSystemEvent('$ce-room', '$>')).toBe(true);
    expect(isSystemEvent('room-1', '$metadata')).toBe(true);
    expect(isSystemEvent('room-!a:x', 'm.room.message')).toBe(false);
  });
});

describe('EventStoreDB adapter: expected revisions', () => {
  it('maps each expectation to the client value', () => {
    expect(toEsdbExpectedRevision('any')).toBe('any');
    expect(toEsdbExpectedRevision('no_stream')).toBe('no_stream');
    expect(toEsdbExpectedRevision('stream_exists')).toBe('stream_exists');
    expect(toEsdbExpectedRevision(0n)).toBe(0n);
    expect(toEsdbExpectedRevision(123456789012345678n)).toBe(123456789012345678n);
  });
});

describe('EventStoreDB adapter: loading', () => {
  it('loading the package does not load the client library (connect does)', () => {
    jest.isolateModules(() => {
      jest.doMock('@eventstore/db-client', () => {
        throw new Error('the EventStoreDB client library was loaded');
      });
      const index = jest.requireActual<typeof import('./index')>('./index');
      expect(typeof index.EventStoreDbEventStore.connect).toBe('function');
    });
  });
});
