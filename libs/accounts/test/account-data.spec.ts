import { AccountDataChange, Accounts } from './imports';
import { caught, useTestAccounts } from './harness';

describe('AccountDataService', () => {
  let accounts: Accounts;
  let alice: string;
  let bob: string;
  const room = '!room:test.example.org';

  useTestAccounts({}, (opened) => ({ accounts } = opened));
  beforeAll(async () => {
    alice = (await accounts.users.register({ localpart: 'alice', password: 'pw' })).userId;
    bob = (await accounts.users.register({ localpart: 'bob', password: 'pw' })).userId;
  });

  it('stores global and per-room account data separately', async () => {
    await accounts.accountData.setGlobalAccountData(alice, 'org.example.config', { theme: 'dark' });
    await accounts.accountData.setRoomAccountData(alice, room, 'org.example.config', { theme: 'light' });
    expect(await accounts.accountData.getGlobalAccountData(alice, 'org.example.config')).toEqual({ theme: 'dark' });
    expect(await accounts.accountData.getRoomAccountData(alice, room, 'org.example.config')).toEqual({ theme: 'light' });
    expect(await caught(() => accounts.accountData.getGlobalAccountData(bob, 'org.example.config'))).toMatchObject({
      errcode: 'M_NOT_FOUND',
      httpStatus: 404,
    });
    await accounts.accountData.setGlobalAccountData(alice, 'org.example.config', { theme: 'blue' });
    expect(await accounts.accountData.getGlobalAccountData(alice, 'org.example.config')).toEqual({ theme: 'blue' });
  });

  it('refuses server-controlled types from clients with 405 M_BAD_JSON, but lets the server write them', async () => {
    expect(await caught(() => accounts.accountData.setGlobalAccountData(alice, 'm.push_rules', {}))).toMatchObject({
      errcode: 'M_BAD_JSON',
      httpStatus: 405,
    });
    expect(await caught(() => accounts.accountData.setRoomAccountData(alice, room, 'm.fully_read', { event_id: '$e' }))).toMatchObject({
      errcode: 'M_BAD_JSON',
      httpStatus: 405,
    });
    await accounts.accountData.putAccountDataAsServer(alice, room, 'm.fully_read', { event_id: '$e' });
    expect(await accounts.accountData.getRoomAccountData(alice, room, 'm.fully_read')).toEqual({ event_id: '$e' });
  });

  it.each([
    ['an array', []],
    ['a string', 'text'],
    ['null', null],
    ['a value with U+0000', { a: '\u0000' }],
  ])('rejects %s as content with M_BAD_JSON', async (_label, content) => {
    expect(await caught(() => accounts.accountData.setGlobalAccountData(alice, 'org.example.x', content))).toMatchObject({ errcode: 'M_BAD_JSON' });
  });

  it('rejects bad room ids and types with M_INVALID_PARAM, and oversized content with M_TOO_LARGE', async () => {
    expect(await caught(() => accounts.accountData.setRoomAccountData(alice, 'room', 'org.example.x', {}))).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    expect(await caught(() => accounts.accountData.getRoomAccountData(alice, '#alias:x', 'org.example.x'))).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    expect(await caught(() => accounts.accountData.setGlobalAccountData(alice, '', {}))).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    expect(await caught(() => accounts.accountData.setGlobalAccountData(alice, 't'.repeat(256), {}))).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    expect(await caught(() => accounts.accountData.setGlobalAccountData(alice, 'org.example.big', { x: 'x'.repeat(70_000) }))).toMatchObject({
      errcode: 'M_TOO_LARGE',
    });
  });

  it('hands out increasing stream positions and answers "what changed since"', async () => {
    const carol = (await accounts.users.register({ localpart: 'carol', password: 'pw' })).userId;
    const start = await accounts.accountData.currentPosition();
    const p1 = await accounts.accountData.setGlobalAccountData(carol, 'org.example.a', { v: 1 });
    const p2 = await accounts.accountData.setRoomAccountData(carol, room, 'org.example.b', { v: 2 });
    const p3 = await accounts.accountData.setGlobalAccountData(carol, 'org.example.c', { v: 3 });
    expect(p1).toBeGreaterThan(start);
    expect(p2).toBeGreaterThan(p1);
    expect(p3).toBeGreaterThan(p2);
    expect(await accounts.accountData.currentPosition()).toBe(p3);

    expect(await accounts.accountData.accountDataSince(carol, 0)).toEqual({
      global: [
        { type: 'org.example.a', content: { v: 1 } },
        { type: 'org.example.c', content: { v: 3 } },
      ],
      rooms: { [room]: [{ type: 'org.example.b', content: { v: 2 } }] },
      position: p3,
    });
    expect(await accounts.accountData.accountDataSince(carol, p2)).toEqual({
      global: [{ type: 'org.example.c', content: { v: 3 } }],
      rooms: {},
      position: p3,
    });
    // A rewrite moves the entry to the new position, with its latest content only.
    const p4 = await accounts.accountData.setGlobalAccountData(carol, 'org.example.a', { v: 4 });
    expect(await accounts.accountData.accountDataSince(carol, p3)).toEqual({
      global: [{ type: 'org.example.a', content: { v: 4 } }],
      rooms: {},
      position: p4,
    });
    // Other users' changes do not show up, but move the position.
    const p5 = await accounts.accountData.setGlobalAccountData(bob, 'org.example.z', {});
    expect(await accounts.accountData.accountDataSince(carol, p4)).toEqual({ global: [], rooms: {}, position: p5 });
    expect(await caught(() => accounts.accountData.accountDataSince(carol, -1))).toMatchObject({ errcode: 'M_INVALID_PARAM' });
  });

  it('gives concurrent writes distinct positions and loses none', async () => {
    const dave = (await accounts.users.register({ localpart: 'dave', password: 'pw' })).userId;
    const since = await accounts.accountData.currentPosition();
    const positions = await Promise.all(
      Array.from({ length: 12 }, (_, i) => accounts.accountData.setGlobalAccountData(dave, `org.example.k${i}`, { i })),
    );
    expect(new Set(positions).size).toBe(12);
    const delta = await accounts.accountData.accountDataSince(dave, since);
    expect(delta.global).toHaveLength(12);
    expect(delta.position).toBe(Math.max(...positions));
  });

  it('keeps room tags in m.tag room account data', async () => {
    const tagRoom = '!tags:test.example.org';
    expect(await accounts.accountData.getTags(alice, tagRoom)).toEqual({ tags: {} });
    await accounts.accountData.setTag(alice, tagRoom, 'u.work', { order: 0.25 });
    await accounts.accountData.setTag(alice, tagRoom, 'm.favourite', {});
    expect(await accounts.accountData.getTags(alice, tagRoom)).toEqual({ tags: { 'u.work': { order: 0.25 }, 'm.favourite': {} } });
    expect(await accounts.accountData.getRoomAccountData(alice, tagRoom, 'm.tag')).toEqual({ tags: { 'u.work': { order: 0.25 }, 'm.favourite': {} } });
    const before = await accounts.accountData.currentPosition();
    expect(await accounts.accountData.deleteTag(alice, tagRoom, 'u.work')).toBeGreaterThan(before);
    expect(await accounts.accountData.getTags(alice, tagRoom)).toEqual({ tags: { 'm.favourite': {} } });
    // Removing an absent tag changes nothing.
    const after = await accounts.accountData.currentPosition();
    expect(await accounts.accountData.deleteTag(alice, tagRoom, 'u.work')).toBeNull();
    expect(await accounts.accountData.currentPosition()).toBe(after);
  });

  it('carries m.direct entries and tags over to a replacement room', async () => {
    const erin = (await accounts.users.register({ localpart: 'erin', password: 'pw' })).userId;
    const [oldRoom, newRoom, other] = ['!old:test.example.org', '!new:test.example.org', '!other:test.example.org'];
    await accounts.accountData.setGlobalAccountData(erin, 'm.direct', { [alice]: [oldRoom, other], [bob]: [other], '@x:y': 'not a list' });
    await accounts.accountData.setTag(erin, oldRoom, 'u.work', { order: 0.5 });
    await accounts.accountData.setTag(erin, oldRoom, 'm.favourite', {});
    await accounts.accountData.setTag(erin, newRoom, 'm.favourite', { order: 0.1 });
    await accounts.accountData.copyToReplacementRoom(erin, oldRoom, newRoom);
    expect(await accounts.accountData.getGlobalAccountData(erin, 'm.direct')).toEqual({
      [alice]: [oldRoom, other, newRoom],
      [bob]: [other],
      '@x:y': 'not a list',
    });
    // A tag already on the new room keeps its content.
    expect(await accounts.accountData.getTags(erin, newRoom)).toEqual({ tags: { 'u.work': { order: 0.5 }, 'm.favourite': { order: 0.1 } } });
    expect(await accounts.accountData.getTags(erin, oldRoom)).toEqual({ tags: { 'u.work': { order: 0.5 }, 'm.favourite': {} } });

    // Copying again, or for a user with neither, writes nothing.
    const position = await accounts.accountData.currentPosition();
    await accounts.accountData.copyToReplacementRoom(erin, oldRoom, newRoom);
    await accounts.accountData.copyToReplacementRoom(bob, oldRoom, newRoom);
    expect(await accounts.accountData.currentPosition()).toBe(position);
    expect(await caught(() => accounts.accountData.copyToReplacementRoom(erin, oldRoom, 'new'))).toMatchObject({ errcode: 'M_INVALID_PARAM' });
  });

  it('validates tags', async () => {
    for (const order of [-0.1, 1.5, '0.5', Number.NaN]) {
      expect(await caught(() => accounts.accountData.setTag(alice, room, 'u.x', { order }))).toMatchObject({ errcode: expect.stringMatching(/M_INVALID_PARAM|M_BAD_JSON/) });
    }
    expect(await caught(() => accounts.accountData.setTag(alice, room, '', {}))).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    expect(await caught(() => accounts.accountData.setTag(alice, room, 'u.x', 'body'))).toMatchObject({ errcode: 'M_BAD_JSON' });
  });

  it('announces each committed change', async () => {
    const changes: AccountDataChange[] = [];
    const subscription = accounts.accountData.changes.subscribe((change) => changes.push(change));
    const position = await accounts.accountData.setRoomAccountData(bob, room, 'org.example.seen', {});
    subscription.unsubscribe();
    expect(changes).toEqual([{ userId: bob, roomId: room, type: 'org.example.seen', position }]);
  });
});
