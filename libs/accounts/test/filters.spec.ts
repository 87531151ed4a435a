import { Accounts, validateFilter } from './imports';
import { caught, useTestAccounts } from './harness';

const EXAMPLE = {
  room: {
    state: { types: ['m.room.*'], not_rooms: ['!726s6s6q:example.com'] },
    timeline: { limit: 10, types: ['m.room.message'], not_rooms: ['!726s6s6q:example.com'], not_senders: ['@spam:example.com'] },
    ephemeral: { types: ['m.receipt', 'm.typing'], not_rooms: ['!726s6s6q:example.com'], not_senders: ['@spam:example.com'] },
  },
  presence: { types: ['m.presence'], not_senders: ['@alice:example.com'] },
  event_format: 'client',
  event_fields: ['type', 'content', 'sender'],
};

describe('validateFilter', () => {
  it('accepts the spec example, the empty filter and unknown keys', () => {
    expect(validateFilter(EXAMPLE)).toEqual(EXAMPLE);
    expect(validateFilter({})).toEqual({});
    expect(validateFilter({ 'org.example.future': true, room: { timeline: { lazy_load_members: true, unread_thread_notifications: true } } })).toBeDefined();
  });

  it('accepts a limit of 0 in every event filter', () => {
    const zero = { limit: 0 };
    const filter = { presence: zero, account_data: zero, room: { timeline: zero, state: zero, ephemeral: zero, account_data: zero } };
    expect(validateFilter(filter)).toEqual(filter);
  });

  it.each([
    ['a non-object', []],
    ['a bad event_format', { event_format: 'xml' }],
    ['non-string event_fields', { event_fields: [1] }],
    ['a negative limit', { room: { timeline: { limit: -1 } } }],
    ['a fractional limit', { presence: { limit: 1.5 } }],
    ['a string limit', { room: { state: { limit: '10' } } }],
    ['types that are not a list', { account_data: { types: 'm.tag' } }],
    ['senders that are not user ids', { room: { timeline: { senders: ['alice'] } } }],
    ['rooms that are not room ids', { room: { rooms: ['#alias:example.org'] } }],
    ['a non-boolean include_leave', { room: { include_leave: 'yes' } }],
    ['a non-boolean lazy_load_members', { room: { state: { lazy_load_members: 1 } } }],
    ['a non-object room filter', { room: { timeline: [] } }],
  ])('rejects %s with M_BAD_JSON', (_label, filter) => {
    expect(() => validateFilter(filter)).toThrow(expect.objectContaining({ errcode: 'M_BAD_JSON' }));
  });
});

describe('FilterService', () => {
  let accounts: Accounts;
  let alice: string;
  let bob: string;

  useTestAccounts({}, (opened) => ({ accounts } = opened));
  beforeAll(async () => {
    alice = (await accounts.users.register({ localpart: 'alice', password: 'pw' })).userId;
    bob = (await accounts.users.register({ localpart: 'bob', password: 'pw' })).userId;
  });

  it('stores filters and returns them by id; ids never start with {', async () => {
    const id = await accounts.filters.createFilter(alice, EXAMPLE);
    expect(id).toMatch(/^[0-9]+$/);
    expect(await accounts.filters.getFilter(alice, id)).toEqual(EXAMPLE);
    const other = await accounts.filters.createFilter(alice, { room: { timeline: { limit: 1 } } });
    expect(other).not.toBe(id);
  });

  it('returns the same id for an identical filter of the same user', async () => {
    const first = await accounts.filters.createFilter(alice, { presence: { limit: 3 } });
    expect(await accounts.filters.createFilter(alice, { presence: { limit: 3 } })).toBe(first);
    expect(await accounts.filters.createFilter(bob, { presence: { limit: 3 } })).not.toBe(first);
  });

  it('keeps filters private to their user', async () => {
    const id = await accounts.filters.createFilter(alice, { account_data: { limit: 7 } });
    expect(await caught(() => accounts.filters.getFilter(bob, id))).toMatchObject({ errcode: 'M_NOT_FOUND', httpStatus: 404 });
  });

  it('answers M_NOT_FOUND for unknown ids and M_INVALID_PARAM for malformed ones', async () => {
    expect(await caught(() => accounts.filters.getFilter(alice, '999999'))).toMatchObject({ errcode: 'M_NOT_FOUND' });
    for (const id of ['abc', '', '{}', '1'.repeat(30), '-1']) {
      expect(await caught(() => accounts.filters.getFilter(alice, id))).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    }
  });

  it('refuses invalid filters with M_BAD_JSON', async () => {
    expect(await caught(() => accounts.filters.createFilter(alice, { room: { timeline: { limit: -5 } } }))).toMatchObject({ errcode: 'M_BAD_JSON' });
  });

  it('resolves the filter parameter of /sync: inline JSON, an id, or nothing', async () => {
    const id = await accounts.filters.createFilter(alice, { room: { timeline: { limit: 2 } } });
    expect(await accounts.filters.resolveFilter(alice, id)).toEqual({ room: { timeline: { limit: 2 } } });
    expect(await accounts.filters.resolveFilter(alice, '{"room":{"timeline":{"limit":4}}}')).toEqual({ room: { timeline: { limit: 4 } } });
    expect(await accounts.filters.resolveFilter(alice, undefined)).toEqual({});
    expect(await caught(() => accounts.filters.resolveFilter(alice, '{not json'))).toMatchObject({ errcode: 'M_NOT_JSON' });
    expect(await caught(() => accounts.filters.resolveFilter(alice, '{"room":{"timeline":{"limit":-1}}}'))).toMatchObject({ errcode: 'M_BAD_JSON' });
    expect(await accounts.filters.resolveFilter(alice, '{"room":{"timeline":{"limit":0}}}')).toEqual({ room: { timeline: { limit: 0 } } });
  });

  it('resolves a filter id once: later resolutions of it (also spelled with leading zeros) share the frozen filter', async () => {
    const id = await accounts.filters.createFilter(alice, { room: { timeline: { limit: 9, types: ['m.room.message'] } } });
    const first = await accounts.filters.resolveFilter(alice, id);
    expect(await accounts.filters.resolveFilter(alice, id)).toBe(first);
    expect(await accounts.filters.getFilter(alice, `00${id}`)).toBe(first);
    expect(Object.isFrozen(first.room?.timeline?.types)).toBe(true);
    // Another user's id is still looked up (and not found); an unknown id is not remembered.
    expect(await caught(() => accounts.filters.resolveFilter(bob, id))).toMatchObject({ errcode: 'M_NOT_FOUND' });
    expect(await caught(() => accounts.filters.getFilter(alice, '999998'))).toMatchObject({ errcode: 'M_NOT_FOUND' });
    const inline = '{"room":{"timeline":{"limit":5}}}';
    expect(await accounts.filters.resolveFilter(alice, inline)).toBe(await accounts.filters.resolveFilter(bob, inline));
  });
});
