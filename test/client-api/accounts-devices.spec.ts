/**
 * Devices, password change, deactivation and profiles over real HTTP against the homeserver;
 * room effects (leaving on deactivation, display names in member events) are read back from
 * the room write side.
 */
import { DeviceService, UserService } from '@hs/accounts';
import { GetMembership, GetStateEvent } from '@hs/room';
import { assertMatchesSpec } from '@hs/testing';
import { QueryBus } from '@nestjs/cqrs';
import { call, passwordAuth, registerUser, useTestServer, TestUser } from './accounts-harness';

interface UiaBody {
  flows: { stages: string[] }[];
  session: string;
  errcode?: string;
}

describe('devices, password, deactivation', () => {
  const s = useTestServer();

  async function loginOn(user: TestUser, deviceId: string, password = user.password): Promise<string> {
    const reply = await call<{ access_token: string }>(s.url, 'POST', 'login', {
      body: { type: 'm.login.password', user: user.username, password, device_id: deviceId },
    });
    if (reply.status !== 200) throw new Error(`login ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body.access_token;
  }

  it('lists, reads and renames devices', async () => {
    const user = await registerUser(s.url, 'dev');
    await loginOn(user, 'TABLET');
    const list = await call<{ devices: { device_id: string }[] }>(s.url, 'GET', 'devices', { token: user.token });
    expect(list.status).toBe(200);
    assertMatchesSpec(list.body, { api: 'client-server', file: 'device_management.yaml', path: '/devices', method: 'get', status: 200 });
    expect(list.body.devices.map((device) => device.device_id).sort()).toEqual([user.deviceId, 'TABLET'].sort());

    const rename = await call(s.url, 'PUT', 'devices/TABLET', { token: user.token, body: { display_name: 'Kitchen tablet' } });
    expect(rename.status).toBe(200);
    expect(rename.body).toEqual({});
    const one = await call(s.url, 'GET', 'devices/TABLET', { token: user.token });
    assertMatchesSpec(one.body, { api: 'client-server', file: 'device_management.yaml', path: '/devices/{deviceId}', method: 'get', status: 200 });
    expect(one.body).toMatchObject({ device_id: 'TABLET', display_name: 'Kitchen tablet' });
    expect((await call(s.url, 'PUT', 'devices/TABLET', { token: user.token, body: {} })).status).toBe(200);

    const unknown = await call(s.url, 'GET', 'devices/NOPE', { token: user.token });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ errcode: 'M_NOT_FOUND' });
    expect((await call(s.url, 'PUT', 'devices/NOPE', { token: user.token, body: { display_name: 'x' } })).status).toBe(404);
    const badName = await call(s.url, 'PUT', 'devices/TABLET', { token: user.token, body: { display_name: 7 } });
    expect(badName.status).toBe(400);
    expect(badName.body).toMatchObject({ errcode: 'M_BAD_JSON' });
    const tooLong = await call(s.url, 'PUT', 'devices/TABLET', { token: user.token, body: { display_name: 'x'.repeat(500) } });
    expect(tooLong.body).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    // Another user's device is not found, not revealed.
    const other = await registerUser(s.url, 'other');
    expect((await call(s.url, 'GET', 'devices/TABLET', { token: other.token })).status).toBe(404);
    expect((await call(s.url, 'GET', 'devices')).status).toBe(401);
  });

  it('GET /admin/whois: the devices with the address, time and user agent each was last seen with, for the user and admins only', async () => {
    const user = await registerUser(s.url, 'whois');
    const before = Date.now();
    const seen = await call(s.url, 'GET', 'account/whoami', { token: user.token, headers: { 'user-agent': 'WhoisTest/1.0' } });
    expect(seen.status).toBe(200);
    const whois = await call<{ user_id: string; devices: Record<string, { sessions: { connections: Record<string, unknown>[] }[] }> }>(
      s.url,
      'GET',
      `admin/whois/${encodeURIComponent(user.userId)}`,
      { token: user.token, headers: { 'user-agent': 'WhoisTest/1.0' } },
    );
    expect(whois.status).toBe(200);
    expect(whois.headers.get('content-type')).toBe('application/json');
    assertMatchesSpec(whois.body, { api: 'client-server', file: 'admin.yaml', path: '/v3/admin/whois/{userId}', method: 'get', status: 200 });
    expect(whois.body.user_id).toBe(user.userId);
    expect(Object.keys(whois.body.devices)).toEqual([user.deviceId]);
    const [connection] = whois.body.devices[user.deviceId].sessions[0].connections;
    expect(connection).toEqual({ ip: expect.stringMatching(/127\.0\.0\.1/), last_seen: expect.any(Number), user_agent: 'WhoisTest/1.0' });
    expect(connection.last_seen as number).toBeGreaterThanOrEqual(before);

    // After the buffered sightings are written, the answer comes from the database.
    await s.server.clientApp.get(DeviceService).flushLastSeen();
    const stored = await call<typeof whois.body>(s.url, 'GET', `admin/whois/${encodeURIComponent(user.userId)}`, { token: user.token, headers: { 'user-agent': 'WhoisTest/1.0' } });
    const [written] = stored.body.devices[user.deviceId].sessions[0].connections;
    expect(written).toEqual({ ...connection, last_seen: expect.any(Number) });
    expect(written.last_seen as number).toBeGreaterThanOrEqual(connection.last_seen as number);
    expect((await call(s.url, 'GET', `/_matrix/client/r0/admin/whois/${encodeURIComponent(user.userId)}`, { token: user.token })).status).toBe(200);

    const other = await registerUser(s.url, 'nosy');
    const refused = await call(s.url, 'GET', `admin/whois/${encodeURIComponent(user.userId)}`, { token: other.token });
    expect(refused).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_FORBIDDEN' }) });
    const unknownForUser = await call(s.url, 'GET', `admin/whois/${encodeURIComponent('@nobody-here:localhost')}`, { token: other.token });
    expect(unknownForUser.status).toBe(403);
    expect((await call(s.url, 'GET', `admin/whois/${encodeURIComponent(user.userId)}`)).status).toBe(401);

    await s.server.clientApp.get(UserService).setAdmin(other.userId, true);
    const byAdmin = await call<typeof whois.body>(s.url, 'GET', `admin/whois/${encodeURIComponent(user.userId)}`, { token: other.token });
    expect(byAdmin.status).toBe(200);
    expect(Object.keys(byAdmin.body.devices)).toEqual([user.deviceId]);
    const unknown = await call(s.url, 'GET', `admin/whois/${encodeURIComponent('@nobody-here:localhost')}`, { token: other.token });
    expect(unknown).toEqual({ status: 404, body: expect.objectContaining({ errcode: 'M_NOT_FOUND' }) });
  });

  it('deletes a device after the password stage of user-interactive auth', async () => {
    const user = await registerUser(s.url, 'del');
    const tabletToken = await loginOn(user, 'TABLET');
    const first = await call<UiaBody>(s.url, 'DELETE', 'devices/TABLET', { token: user.token });
    expect(first.status).toBe(401);
    assertMatchesSpec(first.body, { api: 'client-server', file: 'device_management.yaml', path: '/devices/{deviceId}', method: 'delete', status: 401 });
    expect(first.body.flows).toEqual([{ stages: ['m.login.password'] }]);

    const wrong = await call<UiaBody>(s.url, 'DELETE', 'devices/TABLET', { token: user.token, body: { auth: passwordAuth(user, first.body.session, 'wrong') } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.errcode).toBe('M_FORBIDDEN');
    expect((await call(s.url, 'GET', 'account/whoami', { token: tabletToken })).status).toBe(200);

    const done = await call(s.url, 'DELETE', 'devices/TABLET', { token: user.token, body: { auth: passwordAuth(user, first.body.session) } });
    expect(done.status).toBe(200);
    expect(done.body).toEqual({});
    expect((await call(s.url, 'GET', 'account/whoami', { token: tabletToken })).status).toBe(401);
    expect((await call(s.url, 'GET', 'devices/TABLET', { token: user.token })).status).toBe(404);
    expect((await call(s.url, 'DELETE', 'devices/TABLET', { token: user.token })).status).toBe(404);
  });

  it('does not let a session for one device delete another', async () => {
    const user = await registerUser(s.url, 'swap');
    await loginOn(user, 'ONE');
    await loginOn(user, 'TWO');
    const first = await call<UiaBody>(s.url, 'DELETE', 'devices/ONE', { token: user.token });
    const other = await call(s.url, 'DELETE', 'devices/TWO', { token: user.token, body: { auth: passwordAuth(user, first.body.session) } });
    expect(other.status).toBe(403);
    expect((await call(s.url, 'GET', 'devices/TWO', { token: user.token })).status).toBe(200);
  });

  it('refuses (403) another user’s right password in the password stage; the owner’s own then deletes', async () => {
    const alice = await registerUser(s.url, 'owner');
    const eve = await registerUser(s.url, 'eve');
    await loginOn(alice, 'STOLEN');
    const first = await call<UiaBody>(s.url, 'DELETE', 'devices/STOLEN', { token: alice.token });
    const asEve = await call(s.url, 'DELETE', 'devices/STOLEN', { token: alice.token, body: { auth: passwordAuth(eve, first.body.session) } });
    expect(asEve).toEqual({ status: 403, body: expect.objectContaining({ errcode: 'M_FORBIDDEN' }) });
    expect((await call(s.url, 'GET', 'devices/STOLEN', { token: alice.token })).status).toBe(200);
    const asAlice = await call(s.url, 'DELETE', 'devices/STOLEN', { token: alice.token, body: { auth: passwordAuth(alice, first.body.session) } });
    expect(asAlice.status).toBe(200);
    expect((await call(s.url, 'GET', 'devices/STOLEN', { token: alice.token })).status).toBe(404);
  });

  it('POST /delete_devices deletes several devices', async () => {
    const user = await registerUser(s.url, 'bulk');
    const tokens = [await loginOn(user, 'A1'), await loginOn(user, 'A2')];
    await loginOn(user, 'A3');
    const first = await call<UiaBody>(s.url, 'POST', 'delete_devices', { token: user.token, body: { devices: ['A1', 'A2', 'UNKNOWN'] } });
    expect(first.status).toBe(401);
    assertMatchesSpec(first.body, { api: 'client-server', file: 'device_management.yaml', path: '/delete_devices', method: 'post', status: 401 });
    const done = await call(s.url, 'POST', 'delete_devices', {
      token: user.token,
      body: { devices: ['A1', 'A2', 'UNKNOWN'], auth: passwordAuth(user, first.body.session) },
    });
    expect(done.status).toBe(200);
    for (const token of tokens) expect((await call(s.url, 'GET', 'account/whoami', { token })).status).toBe(401);
    const list = await call<{ devices: { device_id: string }[] }>(s.url, 'GET', 'devices', { token: user.token });
    expect(list.body.devices.map((device) => device.device_id).sort()).toEqual(['A3', user.deviceId].sort());

    const missing = await call(s.url, 'POST', 'delete_devices', { token: user.token, body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ errcode: 'M_MISSING_PARAM' });
    const wrongType = await call(s.url, 'POST', 'delete_devices', { token: user.token, body: { devices: [1] } });
    expect(wrongType.body).toMatchObject({ errcode: 'M_BAD_JSON' });
  });

  it('changes the password and logs out the other devices unless asked not to', async () => {
    const user = await registerUser(s.url, 'pw');
    const otherToken = await loginOn(user, 'OTHER');
    const first = await call<UiaBody>(s.url, 'POST', 'account/password', { token: user.token, body: { new_password: 'second' } });
    expect(first.status).toBe(401);
    assertMatchesSpec(first.body, { api: 'client-server', file: 'password_management.yaml', path: '/account/password', method: 'post', status: 401 });
    const done = await call(s.url, 'POST', 'account/password', {
      token: user.token,
      body: { new_password: 'second', auth: passwordAuth(user, first.body.session) },
    });
    expect(done.status).toBe(200);
    assertMatchesSpec(done.body, { api: 'client-server', file: 'password_management.yaml', path: '/account/password', method: 'post', status: 200 });
    expect((await call(s.url, 'GET', 'account/whoami', { token: otherToken })).status).toBe(401);
    expect((await call(s.url, 'GET', 'account/whoami', { token: user.token })).status).toBe(200);
    const oldLogin = await call(s.url, 'POST', 'login', { body: { type: 'm.login.password', user: user.username, password: user.password } });
    expect(oldLogin.status).toBe(403);
    const keptToken = await loginOn(user, 'KEPT', 'second');

    const again = await call<UiaBody>(s.url, 'POST', 'account/password', { token: user.token, body: { new_password: 'third', logout_devices: false } });
    const kept = await call(s.url, 'POST', 'account/password', {
      token: user.token,
      body: { new_password: 'third', logout_devices: false, auth: passwordAuth(user, again.body.session, 'second') },
    });
    expect(kept.status).toBe(200);
    expect((await call(s.url, 'GET', 'account/whoami', { token: keptToken })).status).toBe(200);

    const missing = await call(s.url, 'POST', 'account/password', { token: user.token, body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ errcode: 'M_MISSING_PARAM' });
    const wrongType = await call(s.url, 'POST', 'account/password', { token: user.token, body: { new_password: 'x', logout_devices: 'no' } });
    expect(wrongType.body).toMatchObject({ errcode: 'M_BAD_JSON' });
    expect((await call(s.url, 'POST', 'account/password', { body: { new_password: 'x' } })).status).toBe(401);
  });

  it('deactivates an account: tokens die, login is refused, joined rooms are left and invites rejected', async () => {
    const user = await registerUser(s.url, 'leaving');
    const friend = await registerUser(s.url, 'friend');
    const joined = await call<{ room_id: string }>(s.url, 'POST', 'createRoom', { token: friend.token, body: { preset: 'public_chat' } });
    expect((await call(s.url, 'POST', `join/${encodeURIComponent(joined.body.room_id)}`, { token: user.token, body: {} })).status).toBe(200);
    const invited = await call<{ room_id: string }>(s.url, 'POST', 'createRoom', { token: friend.token, body: { invite: [user.userId] } });
    expect(invited.status).toBe(200);
    const queries = s.server.clientApp.get(QueryBus);
    expect(await queries.execute(new GetMembership(invited.body.room_id, user.userId))).toBe('invite');

    const first = await call<UiaBody>(s.url, 'POST', 'account/deactivate', { token: user.token, body: {} });
    expect(first.status).toBe(401);
    assertMatchesSpec(first.body, { api: 'client-server', file: 'account_deactivation.yaml', path: '/account/deactivate', method: 'post', status: 401 });
    const done = await call(s.url, 'POST', 'account/deactivate', { token: user.token, body: { auth: passwordAuth(user, first.body.session) } });
    expect(done.status).toBe(200);
    assertMatchesSpec(done.body, { api: 'client-server', file: 'account_deactivation.yaml', path: '/account/deactivate', method: 'post', status: 200 });
    expect(done.body).toEqual({ id_server_unbind_result: 'no-support' });

    expect((await call(s.url, 'GET', 'account/whoami', { token: user.token })).status).toBe(401);
    const login = await call(s.url, 'POST', 'login', { body: { type: 'm.login.password', user: user.username, password: user.password } });
    expect(login.status).toBe(403);
    expect(await queries.execute(new GetMembership(joined.body.room_id, user.userId))).toBe('leave');
    expect(await queries.execute(new GetMembership(invited.body.room_id, user.userId))).toBe('leave');
    // The username stays taken.
    const available = await call(s.url, 'GET', 'register/available', { query: { username: user.username } });
    expect(available.body).toMatchObject({ errcode: 'M_USER_IN_USE' });
  });

  it('refuses deactivation with a wrong password', async () => {
    const user = await registerUser(s.url, 'stay');
    const first = await call<UiaBody>(s.url, 'POST', 'account/deactivate', { token: user.token, body: { erase: true } });
    const wrong = await call<UiaBody>(s.url, 'POST', 'account/deactivate', {
      token: user.token,
      body: { erase: true, auth: passwordAuth(user, first.body.session, 'nope') },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.errcode).toBe('M_FORBIDDEN');
    expect((await call(s.url, 'GET', 'account/whoami', { token: user.token })).status).toBe(200);
    const badErase = await call(s.url, 'POST', 'account/deactivate', { token: user.token, body: { erase: 'yes' } });
    expect(badErase.body).toMatchObject({ errcode: 'M_BAD_JSON' });
  });
});

describe('profiles', () => {
  const s = useTestServer();

  const profilePath = (userId: string, key?: string) => `profile/${encodeURIComponent(userId)}${key === undefined ? '' : `/${key}`}`;

  it('sets, reads and deletes display name, avatar and custom fields', async () => {
    const user = await registerUser(s.url, 'prof');
    const set = await call(s.url, 'PUT', profilePath(user.userId, 'displayname'), { token: user.token, body: { displayname: 'Alice Liddell' } });
    expect(set.status).toBe(200);
    assertMatchesSpec(set.body, { api: 'client-server', file: 'profile.yaml', path: '/profile/{userId}/{keyName}', method: 'put', status: 200 });
    expect(
      (await call(s.url, 'PUT', profilePath(user.userId, 'avatar_url'), { token: user.token, body: { avatar_url: 'mxc://localhost/abc' } })).status,
    ).toBe(200);
    expect((await call(s.url, 'PUT', profilePath(user.userId, 'm.tz'), { token: user.token, body: { 'm.tz': 'Europe/London' } })).status).toBe(200);

    const whole = await call(s.url, 'GET', profilePath(user.userId));
    expect(whole.status).toBe(200);
    assertMatchesSpec(whole.body, { api: 'client-server', file: 'profile.yaml', path: '/profile/{userId}', method: 'get', status: 200 });
    expect(whole.body).toEqual({ displayname: 'Alice Liddell', avatar_url: 'mxc://localhost/abc', 'm.tz': 'Europe/London' });
    const one = await call(s.url, 'GET', profilePath(user.userId, 'displayname'));
    assertMatchesSpec(one.body, { api: 'client-server', file: 'profile.yaml', path: '/profile/{userId}/{keyName}', method: 'get', status: 200 });
    expect(one.body).toEqual({ displayname: 'Alice Liddell' });

    const deleted = await call(s.url, 'DELETE', profilePath(user.userId, 'avatar_url'), { token: user.token });
    expect(deleted.status).toBe(200);
    expect((await call(s.url, 'GET', profilePath(user.userId, 'avatar_url'))).status).toBe(404);
    expect((await call(s.url, 'GET', profilePath(user.userId))).body).toEqual({ displayname: 'Alice Liddell', 'm.tz': 'Europe/London' });
  });

  it('propagates display name and avatar changes to every joined room as member events', async () => {
    const user = await registerUser(s.url, 'moving');
    const roomA = await call<{ room_id: string }>(s.url, 'POST', 'createRoom', { token: user.token, body: {} });
    const roomB = await call<{ room_id: string }>(s.url, 'POST', 'createRoom', { token: user.token, body: {} });
    await call(s.url, 'PUT', profilePath(user.userId, 'displayname'), { token: user.token, body: { displayname: 'New Name' } });
    await call(s.url, 'PUT', profilePath(user.userId, 'avatar_url'), { token: user.token, body: { avatar_url: 'mxc://localhost/face' } });
    const queries = s.server.clientApp.get(QueryBus);
    for (const room of [roomA, roomB]) {
      const member = await queries.execute(new GetStateEvent(room.body.room_id, 'm.room.member', user.userId));
      expect(member.content).toMatchObject({ membership: 'join', displayname: 'New Name', avatar_url: 'mxc://localhost/face' });
    }
    await call(s.url, 'DELETE', profilePath(user.userId, 'displayname'), { token: user.token });
    const member = await queries.execute(new GetStateEvent(roomA.body.room_id, 'm.room.member', user.userId));
    expect(member.content).not.toHaveProperty('displayname');
    expect(member.content).toMatchObject({ membership: 'join', avatar_url: 'mxc://localhost/face' });
  });

  it('refuses changes to someone else’s profile and bad values', async () => {
    const user = await registerUser(s.url, 'own');
    const other = await registerUser(s.url, 'nosy');
    const forbidden = await call(s.url, 'PUT', profilePath(user.userId, 'displayname'), { token: other.token, body: { displayname: 'Hacked' } });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toMatchObject({ errcode: 'M_FORBIDDEN' });
    expect((await call(s.url, 'DELETE', profilePath(user.userId, 'displayname'), { token: other.token })).status).toBe(403);
    expect((await call(s.url, 'PUT', profilePath(user.userId, 'displayname'), { body: { displayname: 'x' } })).status).toBe(401);

    const missing = await call(s.url, 'PUT', profilePath(user.userId, 'displayname'), { token: user.token, body: { avatar_url: 'mxc://a/b' } });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ errcode: 'M_MISSING_PARAM' });
    const notJson = await call(s.url, 'PUT', profilePath(user.userId, 'displayname'), { token: user.token, raw: 'name' });
    expect(notJson.body).toMatchObject({ errcode: 'M_NOT_JSON' });
    const wrongType = await call(s.url, 'PUT', profilePath(user.userId, 'displayname'), { token: user.token, body: { displayname: 5 } });
    expect(wrongType.status).toBe(400);
    const badAvatar = await call(s.url, 'PUT', profilePath(user.userId, 'avatar_url'), { token: user.token, body: { avatar_url: 'https://example.org/a.png' } });
    expect(badAvatar.status).toBe(400);
    const tooLarge = await call(s.url, 'PUT', profilePath(user.userId, 'org.example.big'), { token: user.token, body: { 'org.example.big': 'x'.repeat(70000) } });
    expect(tooLarge.status).toBe(400);
    expect(tooLarge.body).toMatchObject({ errcode: 'M_PROFILE_TOO_LARGE' });
    expect((await call(s.url, 'GET', profilePath(user.userId))).body).toEqual({ displayname: user.username });
  });

  it('answers 404 for unknown users', async () => {
    const reply = await call(s.url, 'GET', profilePath('@ghost:localhost'));
    expect(reply.status).toBe(404);
    expect(reply.body).toMatchObject({ errcode: 'M_NOT_FOUND' });
    expect((await call(s.url, 'GET', profilePath('@ghost:localhost', 'displayname'))).status).toBe(404);
  });
});
