/**
 * Account data, room tags, filters, capabilities and push rules over real HTTP against the
 * homeserver.
 */
import { ROOM_VERSIONS } from '@hs/protocol';
import { assertMatchesSpec } from '@hs/testing';
import { call, registerUser, useTestServer, TestUser } from './accounts-harness';

const ROOM = '!room:localhost';

describe('account data, tags, filters, capabilities and push rules', () => {
  const s = useTestServer();
  let alice: TestUser;
  let bob: TestUser;
  beforeAll(async () => {
    alice = await registerUser(s.url, 'alice');
    bob = await registerUser(s.url, 'bob');
  });

  const user = (u: TestUser) => `user/${encodeURIComponent(u.userId)}`;
  const room = (roomId = ROOM) => `rooms/${encodeURIComponent(roomId)}`;

  it('stores and returns global account data', async () => {
    const put = await call(s.url, 'PUT', `${user(alice)}/account_data/org.example.settings`, { token: alice.token, body: { theme: 'dark', n: 1 } });
    expect(put.status).toBe(200);
    assertMatchesSpec(put.body, { api: 'client-server', file: 'account-data.yaml', path: '/user/{userId}/account_data/{type}', method: 'put', status: 200 });
    const get = await call(s.url, 'GET', `${user(alice)}/account_data/org.example.settings`, { token: alice.token });
    expect(get.status).toBe(200);
    assertMatchesSpec(get.body, { api: 'client-server', file: 'account-data.yaml', path: '/user/{userId}/account_data/{type}', method: 'get', status: 200 });
    expect(get.body).toEqual({ theme: 'dark', n: 1 });
    await call(s.url, 'PUT', `${user(alice)}/account_data/org.example.settings`, { token: alice.token, body: { theme: 'light' } });
    expect((await call(s.url, 'GET', `${user(alice)}/account_data/org.example.settings`, { token: alice.token })).body).toEqual({ theme: 'light' });
    const unset = await call(s.url, 'GET', `${user(alice)}/account_data/org.example.unset`, { token: alice.token });
    expect(unset.status).toBe(404);
    expect(unset.body).toMatchObject({ errcode: 'M_NOT_FOUND' });
  });

  it('stores per-room account data separately from global data', async () => {
    const path = `${user(alice)}/${room()}/account_data/org.example.draft`;
    const put = await call(s.url, 'PUT', path, { token: alice.token, body: { text: 'hi' } });
    expect(put.status).toBe(200);
    const get = await call(s.url, 'GET', path, { token: alice.token });
    assertMatchesSpec(get.body, {
      api: 'client-server',
      file: 'account-data.yaml',
      path: '/user/{userId}/rooms/{roomId}/account_data/{type}',
      method: 'get',
      status: 200,
    });
    expect(get.body).toEqual({ text: 'hi' });
    expect((await call(s.url, 'GET', `${user(alice)}/account_data/org.example.draft`, { token: alice.token })).status).toBe(404);
    expect((await call(s.url, 'GET', `${user(alice)}/${room('!other:localhost')}/account_data/org.example.draft`, { token: alice.token })).status).toBe(404);
  });

  it('keeps account data to its owner', async () => {
    for (const [method, path] of [
      ['GET', `${user(alice)}/account_data/org.example.settings`],
      ['PUT', `${user(alice)}/account_data/org.example.settings`],
      ['GET', `${user(alice)}/${room()}/account_data/org.example.draft`],
      ['PUT', `${user(alice)}/${room()}/account_data/org.example.draft`],
      ['GET', `${user(alice)}/${room()}/tags`],
      ['PUT', `${user(alice)}/${room()}/tags/u.work`],
      ['DELETE', `${user(alice)}/${room()}/tags/u.work`],
      ['POST', `${user(alice)}/filter`],
      ['GET', `${user(alice)}/filter/0`],
    ] as const) {
      const reply = await call(s.url, method, path, { token: bob.token, body: method === 'PUT' || method === 'POST' ? {} : undefined });
      expect({ method, path, status: reply.status, errcode: (reply.body as { errcode?: string }).errcode }).toEqual({ method, path, status: 403, errcode: 'M_FORBIDDEN' });
    }
    expect((await call(s.url, 'GET', `${user(alice)}/account_data/org.example.settings`)).status).toBe(401);
  });

  it('refuses bad account data', async () => {
    const path = `${user(alice)}/account_data/org.example.bad`;
    const notJson = await call(s.url, 'PUT', path, { token: alice.token, raw: '{' });
    expect(notJson.status).toBe(400);
    expect(notJson.body).toMatchObject({ errcode: 'M_NOT_JSON' });
    const array = await call(s.url, 'PUT', path, { token: alice.token, body: [1, 2] });
    expect(array.status).toBe(400);
    expect(array.body).toMatchObject({ errcode: 'M_BAD_JSON' });
    const noBody = await call(s.url, 'PUT', path, { token: alice.token });
    expect(noBody.status).toBe(400);
    expect(noBody.body).toMatchObject({ errcode: 'M_NOT_JSON' });
    const pushRules = await call(s.url, 'PUT', `${user(alice)}/account_data/m.push_rules`, { token: alice.token, body: {} });
    expect(pushRules.status).toBe(405);
    expect(pushRules.body).toMatchObject({ errcode: 'M_BAD_JSON' });
    const fullyRead = await call(s.url, 'PUT', `${user(alice)}/${room()}/account_data/m.fully_read`, { token: alice.token, body: { event_id: '$x' } });
    expect(fullyRead.status).toBe(405);
    const badRoom = await call(s.url, 'PUT', `${user(alice)}/rooms/not-a-room/account_data/org.example.x`, { token: alice.token, body: {} });
    expect(badRoom.status).toBe(400);
    expect(badRoom.body).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    const tooLarge = await call(s.url, 'PUT', path, { token: alice.token, body: { blob: 'x'.repeat(70 * 1024) } });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body).toMatchObject({ errcode: 'M_TOO_LARGE' });
  });

  it('tags rooms', async () => {
    const tags = `${user(alice)}/${room()}/tags`;
    const empty = await call(s.url, 'GET', tags, { token: alice.token });
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({ tags: {} });
    const put = await call(s.url, 'PUT', `${tags}/m.favourite`, { token: alice.token, body: { order: 0.25 } });
    expect(put.status).toBe(200);
    assertMatchesSpec(put.body, { api: 'client-server', file: 'tags.yaml', path: '/user/{userId}/rooms/{roomId}/tags/{tag}', method: 'put', status: 200 });
    await call(s.url, 'PUT', `${tags}/u.work`, { token: alice.token, body: {} });
    const listed = await call(s.url, 'GET', tags, { token: alice.token });
    assertMatchesSpec(listed.body, { api: 'client-server', file: 'tags.yaml', path: '/user/{userId}/rooms/{roomId}/tags', method: 'get', status: 200 });
    expect(listed.body).toEqual({ tags: { 'm.favourite': { order: 0.25 }, 'u.work': {} } });
    // Tags are the room's m.tag account data.
    expect((await call(s.url, 'GET', `${user(alice)}/${room()}/account_data/m.tag`, { token: alice.token })).body).toEqual(listed.body);

    const removed = await call(s.url, 'DELETE', `${tags}/m.favourite`, { token: alice.token });
    expect(removed.status).toBe(200);
    assertMatchesSpec(removed.body, { api: 'client-server', file: 'tags.yaml', path: '/user/{userId}/rooms/{roomId}/tags/{tag}', method: 'delete', status: 200 });
    expect((await call(s.url, 'DELETE', `${tags}/never.set`, { token: alice.token })).status).toBe(200);
    expect((await call(s.url, 'GET', tags, { token: alice.token })).body).toEqual({ tags: { 'u.work': {} } });

    const badOrder = await call(s.url, 'PUT', `${tags}/u.x`, { token: alice.token, body: { order: 'first' } });
    expect(badOrder.status).toBe(400);
    expect(badOrder.body).toMatchObject({ errcode: 'M_INVALID_PARAM' });
  });

  it('creates and returns filters', async () => {
    const filter = { room: { timeline: { limit: 10, types: ['m.room.message'] } }, event_fields: ['type', 'content'] };
    const created = await call<{ filter_id: string }>(s.url, 'POST', `${user(alice)}/filter`, { token: alice.token, body: filter });
    expect(created.status).toBe(200);
    assertMatchesSpec(created.body, { api: 'client-server', file: 'filter.yaml', path: '/user/{userId}/filter', method: 'post', status: 200 });
    const fetched = await call(s.url, 'GET', `${user(alice)}/filter/${created.body.filter_id}`, { token: alice.token });
    expect(fetched.status).toBe(200);
    assertMatchesSpec(fetched.body, { api: 'client-server', file: 'filter.yaml', path: '/user/{userId}/filter/{filterId}', method: 'get', status: 200 });
    expect(fetched.body).toMatchObject(filter);

    const unknown = await call(s.url, 'GET', `${user(alice)}/filter/99999`, { token: alice.token });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ errcode: 'M_NOT_FOUND' });
    // Bob cannot read Alice's filter through his own user id either.
    expect((await call(s.url, 'GET', `${user(bob)}/filter/${created.body.filter_id}`, { token: bob.token })).status).toBe(404);
    const bad = await call(s.url, 'POST', `${user(alice)}/filter`, { token: alice.token, body: { room: { timeline: { limit: 'ten' } } } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ errcode: 'M_BAD_JSON' });
    const notObject = await call(s.url, 'POST', `${user(alice)}/filter`, { token: alice.token, body: 'filter' });
    expect(notObject.status).toBe(400);
  });

  it('GET /capabilities lists the room versions and what accounts may change', async () => {
    const reply = await call<{ capabilities: Record<string, unknown> }>(s.url, 'GET', 'capabilities', { token: alice.token });
    expect(reply.status).toBe(200);
    assertMatchesSpec(reply.body, { api: 'client-server', file: 'capabilities.yaml', path: '/capabilities', method: 'get', status: 200 });
    const available: Record<string, string> = {};
    for (const [id, rules] of ROOM_VERSIONS) available[id] = rules.stable ? 'stable' : 'unstable';
    expect(reply.body.capabilities).toMatchObject({
      'm.change_password': { enabled: true },
      'm.room_versions': { default: s.config.default_room_version, available },
      'm.set_displayname': { enabled: true },
      'm.set_avatar_url': { enabled: true },
      'm.3pid_changes': { enabled: false },
    });
    expect((await call(s.url, 'GET', 'capabilities')).status).toBe(401);
  });

  it('GET /pushrules/ returns the predefined rules for the user', async () => {
    const reply = await call<{ global: Record<string, { rule_id: string; pattern?: string; conditions?: { pattern?: string; value?: unknown }[] }[]> }>(
      s.url,
      'GET',
      'pushrules/',
      { token: alice.token },
    );
    expect(reply.status).toBe(200);
    assertMatchesSpec(reply.body, { api: 'client-server', file: 'pushrules.yaml', path: '/pushrules/', method: 'get', status: 200 });
    const ids = (kind: string) => reply.body.global[kind].map((rule) => rule.rule_id);
    expect(ids('override')).toEqual([
      '.m.rule.master',
      '.m.rule.suppress_notices',
      '.m.rule.invite_for_me',
      '.m.rule.member_event',
      '.m.rule.is_user_mention',
      '.m.rule.contains_display_name',
      '.m.rule.is_room_mention',
      '.m.rule.roomnotif',
      '.m.rule.tombstone',
      '.m.rule.reaction',
      '.m.rule.room.server_acl',
      '.m.rule.suppress_edits',
    ]);
    expect(ids('underride')).toEqual(['.m.rule.call', '.m.rule.encrypted_room_one_to_one', '.m.rule.room_one_to_one', '.m.rule.message', '.m.rule.encrypted']);
    expect(reply.body.global.room).toEqual([]);
    expect(reply.body.global.sender).toEqual([]);
    expect(reply.body.global.content).toEqual([expect.objectContaining({ rule_id: '.m.rule.contains_user_name', pattern: alice.username })]);
    const invite = reply.body.global.override.find((rule) => rule.rule_id === '.m.rule.invite_for_me');
    expect(invite?.conditions?.[2]).toMatchObject({ key: 'state_key', pattern: alice.userId });
    const mention = reply.body.global.override.find((rule) => rule.rule_id === '.m.rule.is_user_mention');
    expect(mention?.conditions?.[0]).toMatchObject({ value: alice.userId });
    // Served under r0 as well; the listings end in a slash, as the spec names them.
    expect((await call(s.url, 'GET', '/_matrix/client/r0/pushrules/', { token: alice.token })).body).toEqual(reply.body);
    expect(await call(s.url, 'GET', 'pushrules', { token: alice.token })).toMatchObject({ status: 404, body: { errcode: 'M_UNRECOGNIZED' } });
    for (const path of ['pushrules/global', 'pushrules/global/room', 'pushrules/not_a_scope/', 'pushrules/global/override/.m.rule.master/not_an_attr']) {
      expect({ path, ...(await call(s.url, 'GET', path, { token: alice.token })) }).toMatchObject({ path, status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    }
    const puts: [string, unknown][] = [
      ['pushrules/', {}],
      ['pushrules/not_a_scope/room/%23spam:example.com', {}],
      ['pushrules/global', {}],
      ['pushrules/global/room', {}],
      ['pushrules/global/room/', {}],
      ['pushrules/global/override/.m.rule.master/not_an_attr', { enabled: true }],
    ];
    for (const [path, body] of puts) {
      expect({ path, ...(await call(s.url, 'PUT', path, { token: alice.token, body })) }).toMatchObject({ path, status: 400, body: { errcode: 'M_INVALID_PARAM' } });
    }

    const global = await call(s.url, 'GET', 'pushrules/global/', { token: alice.token });
    assertMatchesSpec(global.body, { api: 'client-server', file: 'pushrules.yaml', path: '/pushrules/global/', method: 'get', status: 200 });
    expect(global.body).toEqual(reply.body.global);
    // One kind's rules, in order.
    const underride = await call(s.url, 'GET', 'pushrules/global/underride/', { token: alice.token });
    expect(underride).toEqual({ status: 200, body: (reply.body.global as Record<string, unknown>).underride });
    expect((await call(s.url, 'GET', 'pushrules/global/nonsense/', { token: alice.token })).status).toBe(400);
  });

  it('reads single push rules, their enabled flag and actions', async () => {
    const one = await call(s.url, 'GET', 'pushrules/global/override/.m.rule.master', { token: alice.token });
    expect(one.status).toBe(200);
    assertMatchesSpec(one.body, { api: 'client-server', file: 'pushrules.yaml', path: '/pushrules/global/{kind}/{ruleId}', method: 'get', status: 200 });
    expect(one.body).toEqual({ rule_id: '.m.rule.master', default: true, enabled: false, conditions: [], actions: [] });
    const enabled = await call(s.url, 'GET', 'pushrules/global/underride/.m.rule.message/enabled', { token: alice.token });
    assertMatchesSpec(enabled.body, { api: 'client-server', file: 'pushrules.yaml', path: '/pushrules/global/{kind}/{ruleId}/enabled', method: 'get', status: 200 });
    expect(enabled.body).toEqual({ enabled: true });
    const actions = await call(s.url, 'GET', 'pushrules/global/underride/.m.rule.call/actions', { token: alice.token });
    assertMatchesSpec(actions.body, { api: 'client-server', file: 'pushrules.yaml', path: '/pushrules/global/{kind}/{ruleId}/actions', method: 'get', status: 200 });
    expect(actions.body).toEqual({ actions: ['notify', { set_tweak: 'sound', value: 'ring' }] });

    const unknownRule = await call(s.url, 'GET', 'pushrules/global/override/.m.rule.nope', { token: alice.token });
    expect(unknownRule.status).toBe(404);
    expect(unknownRule.body).toMatchObject({ errcode: 'M_NOT_FOUND' });
    const badKind = await call(s.url, 'GET', 'pushrules/global/sideways/.m.rule.master', { token: alice.token });
    expect(badKind.status).toBe(400);
    expect(badKind.body).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    expect((await call(s.url, 'GET', 'pushrules/')).status).toBe(401);
  });

  it('changes push rules: user rules, enabled flags and actions, kept as m.push_rules account data', async () => {
    const carol = await registerUser(s.url, 'carol');
    const roomRule = `pushrules/global/room/${encodeURIComponent('!quiet:localhost')}`;
    const put = await call(s.url, 'PUT', roomRule, { token: carol.token, body: { actions: [] } });
    expect(put.status).toBe(200);
    assertMatchesSpec(put.body, { api: 'client-server', file: 'pushrules.yaml', path: '/pushrules/global/{kind}/{ruleId}', method: 'put', status: 200 });
    const cake = await call(s.url, 'PUT', 'pushrules/global/content/cake', { token: carol.token, body: { pattern: 'cake*', actions: ['notify'] } });
    expect(cake.status).toBe(200);
    const lie = await call(s.url, 'PUT', 'pushrules/global/content/lie', { token: carol.token, query: { after: 'cake' }, body: { pattern: 'lie', actions: ['notify'] } });
    expect(lie.status).toBe(200);

    const disabled = await call(s.url, 'PUT', 'pushrules/global/override/.m.rule.master/enabled', { token: carol.token, body: { enabled: true } });
    expect(disabled.status).toBe(200);
    assertMatchesSpec(disabled.body, { api: 'client-server', file: 'pushrules.yaml', path: '/pushrules/global/{kind}/{ruleId}/enabled', method: 'put', status: 200 });
    const actions = await call(s.url, 'PUT', 'pushrules/global/underride/.m.rule.message/actions', { token: carol.token, body: { actions: ['notify', { set_tweak: 'sound', value: 'bell' }] } });
    expect(actions.status).toBe(200);
    assertMatchesSpec(actions.body, { api: 'client-server', file: 'pushrules.yaml', path: '/pushrules/global/{kind}/{ruleId}/actions', method: 'put', status: 200 });

    const all = await call<{ global: Record<string, { rule_id: string; enabled: boolean; default: boolean; actions: unknown[] }[]> }>(s.url, 'GET', 'pushrules/', { token: carol.token });
    assertMatchesSpec(all.body, { api: 'client-server', file: 'pushrules.yaml', path: '/pushrules/', method: 'get', status: 200 });
    expect(all.body.global.room).toEqual([{ rule_id: '!quiet:localhost', default: false, enabled: true, actions: [] }]);
    expect(all.body.global.content.map((rule) => rule.rule_id)).toEqual(['cake', 'lie', '.m.rule.contains_user_name']);
    expect(all.body.global.override[0]).toMatchObject({ rule_id: '.m.rule.master', enabled: true });
    expect((await call(s.url, 'GET', 'pushrules/global/underride/.m.rule.message/actions', { token: carol.token })).body).toEqual({
      actions: ['notify', { set_tweak: 'sound', value: 'bell' }],
    });
    // Clients learn the rules from the m.push_rules account data (in /sync); another user is unaffected.
    const accountData = await call(s.url, 'GET', `user/${encodeURIComponent(carol.userId)}/account_data/m.push_rules`, { token: carol.token });
    expect(accountData.body).toEqual(all.body);
    expect((await call(s.url, 'GET', 'pushrules/global/override/.m.rule.master/enabled', { token: alice.token })).body).toEqual({ enabled: false });

    const deleted = await call(s.url, 'DELETE', roomRule, { token: carol.token });
    expect(deleted.status).toBe(200);
    expect((await call(s.url, 'GET', roomRule, { token: carol.token })).status).toBe(404);
    expect((await call(s.url, 'DELETE', roomRule, { token: carol.token })).status).toBe(404);
  });

  it('refuses bad push rule changes', async () => {
    const cases: [string, string, Record<string, unknown> | undefined, number, string][] = [
      ['PUT', 'pushrules/global/override/.m.rule.mine', { actions: [] }, 400, 'M_INVALID_PARAM'],
      ['PUT', 'pushrules/global/sideways/x', { actions: [] }, 400, 'M_INVALID_PARAM'],
      ['PUT', 'pushrules/global/override/x', {}, 400, 'M_MISSING_PARAM'],
      ['PUT', 'pushrules/global/override/x', { actions: 'notify' }, 400, 'M_BAD_JSON'],
      ['PUT', 'pushrules/global/content/x', { actions: ['notify'] }, 400, 'M_MISSING_PARAM'],
      ['DELETE', 'pushrules/global/override/.m.rule.master', undefined, 400, 'M_INVALID_PARAM'],
      ['PUT', 'pushrules/global/override/.m.rule.master/enabled', { enabled: 'yes' }, 400, 'M_BAD_JSON'],
      ['PUT', 'pushrules/global/override/.m.rule.master/enabled', {}, 400, 'M_MISSING_PARAM'],
      ['PUT', 'pushrules/global/override/.m.rule.nope/enabled', { enabled: true }, 404, 'M_NOT_FOUND'],
      ['PUT', 'pushrules/global/override/.m.rule.master/actions', { actions: ['shout'] }, 400, 'M_INVALID_PARAM'],
    ];
    for (const [method, path, body, status, errcode] of cases) {
      const reply = await call(s.url, method, path, { token: alice.token, body });
      expect({ method, path, status: reply.status, errcode: (reply.body as { errcode?: string }).errcode }).toEqual({ method, path, status, errcode });
    }
    const placement = await call(s.url, 'PUT', 'pushrules/global/override/y', { token: alice.token, query: { before: 'missing' }, body: { actions: [] } });
    expect(placement.status).toBe(400);
    expect(placement.body).toMatchObject({ errcode: 'M_UNKNOWN' });
  });
});
