import {
  SyncTokenError,
  ZERO_SYNC_TOKEN,
  encodePaginationPoint,
  encodePaginationToken,
  encodeSyncToken,
  encodeTopologicalToken,
  parsePaginationPoint,
  parsePaginationToken,
  parseSyncToken,
} from './sync-token';

describe('sync tokens', () => {
  it('round-trips every component, including positions beyond 2^53', () => {
    const token = { events: 9_007_199_254_740_993n, accountData: 42, typing: 7, receipts: 123n, presence: 1_765_000_000_000, e2ee: 17 };
    const text = encodeSyncToken(token);
    expect(text).toBe('s9007199254740993_42_7_123_1765000000000_17');
    expect(parseSyncToken(text)).toEqual(token);
    expect(parseSyncToken(encodeSyncToken(ZERO_SYNC_TOKEN))).toEqual(ZERO_SYNC_TOKEN);
  });

  it('reads a token issued before presence existed (four parts) with presence 0', () => {
    expect(parseSyncToken('s5_4_3_2')).toEqual({ events: 5n, accountData: 4, typing: 3, receipts: 2n, presence: 0, e2ee: 0 });
  });

  it('reads a token issued before the e2ee stream existed (five parts) with e2ee 0', () => {
    expect(parseSyncToken('s5_4_3_2_1')).toEqual({ events: 5n, accountData: 4, typing: 3, receipts: 2n, presence: 1, e2ee: 0 });
  });

  it.each(['', 's', 's1_2_3', 's1_2_3_4_5_6_7', 's1_2_3_4_5_', 's1_2_3_4_5_06', 's1_2_3_4_', 's1_2_3_4_05', 's1_2_3_4_99999999999999999', 'S1_2_3_4', 's01_2_3_4', 's-1_2_3_4', 's1_2_3_4 ', 's1.5_2_3_4', 's9223372036854775808_0_0_0', 's1_99999999999999999_0_0'])(
    'rejects %j with M_INVALID_PARAM',
    (bad) => {
      expect(() => parseSyncToken(bad)).toThrow(SyncTokenError);
      try {
        parseSyncToken(bad);
      } catch (error) {
        expect((error as SyncTokenError).toJSON()).toEqual({ errcode: 'M_INVALID_PARAM', error: expect.stringContaining('Invalid token') });
        expect((error as SyncTokenError).httpStatus).toBe(400);
      }
    },
  );

  it('pagination tokens: their own form, or the room-event position of a sync token', () => {
    expect(encodePaginationToken(55n)).toBe('t55');
    expect(parsePaginationToken('t55')).toBe(55n);
    expect(parsePaginationToken('s77_1_2_3')).toBe(77n);
    // History fetched from other servers is held below position 0.
    expect(encodePaginationToken(-12n)).toBe('t-12');
    expect(parsePaginationToken('t-12')).toBe(-12n);
    expect(() => parsePaginationToken('t-0')).toThrow(SyncTokenError);
    expect(() => parsePaginationToken('t--1')).toThrow(SyncTokenError);
    expect(() => parsePaginationToken('t')).toThrow(SyncTokenError);
    expect(() => encodePaginationToken(-(2n ** 63n))).toThrow(RangeError);
  });

  it('topological tokens: depth and position, the position possibly below 0; stream tokens stay stream points', () => {
    expect(encodeTopologicalToken(7n, 55n)).toBe('t7-55');
    expect(encodeTopologicalToken(3n, -12n)).toBe('t3--12');
    expect(parsePaginationPoint('t7-55')).toEqual({ kind: 'topological', depth: 7n, stream: 55n });
    expect(parsePaginationPoint('t3--12')).toEqual({ kind: 'topological', depth: 3n, stream: -12n });
    expect(parsePaginationPoint('t0-0')).toEqual({ kind: 'topological', depth: 0n, stream: 0n });
    expect(parsePaginationPoint('t55')).toEqual({ kind: 'stream', stream: 55n });
    expect(parsePaginationPoint('t-12')).toEqual({ kind: 'stream', stream: -12n });
    expect(parsePaginationPoint('s77_1_2_3')).toEqual({ kind: 'stream', stream: 77n });
    for (const point of [
      { kind: 'topological', depth: 9_007_199_254_740_993n, stream: -9n },
      { kind: 'stream', stream: -4n },
    ] as const) {
      expect(parsePaginationPoint(encodePaginationPoint(point))).toEqual(point);
    }
    // /members `at`: the store position of either form.
    expect(parsePaginationToken('t7-55')).toBe(55n);
    expect(() => encodeTopologicalToken(-1n, 5n)).toThrow(RangeError);
  });

  it.each(['t-1-5', 't01-5', 't1-05', 't1--0', 't1-', 't-', 't1-5-6', 't1_5', 't9223372036854775808-1', 't1-9223372036854775808', 'T1-5'])(
    'rejects the pagination token %j with M_INVALID_PARAM',
    (bad) => {
      expect(() => parsePaginationPoint(bad)).toThrow(SyncTokenError);
    },
  );
});
