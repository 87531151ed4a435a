/**
 * Event content a room version cannot sign: from room version 6, canonical JSON refuses floats
 * and integers outside [-(2^53)+1, 2^53-1], so events carrying them are 400 M_BAD_JSON (never a
 * 500) and nothing is sent; rooms of earlier versions still take them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { call, registerUser, useTestServer, type TestUser } from './accounts-harness';

const enc = encodeURIComponent;
const badJson = { status: 400, body: { errcode: 'M_BAD_JSON', error: expect.any(String) } };

describe('event content outside canonical JSON', () => {
  const s = useTestServer();
  let alice: TestUser;
  let roomId: string;

  beforeAll(async () => {
    alice = await registerUser(s.url, 'alice');
    roomId = (await call<{ room_id: string }>(s.url, 'POST', 'createRoom', { token: alice.token, body: { preset: 'private_chat' } })).body.room_id;
  });

  const messages = async (): Promise<{ type: string; content: Record<string, unknown> }[]> => {
    const reply = await call<{ chunk: { type: string; content: Record<string, unknown> }[] }>(s.url, 'GET', `rooms/${enc(roomId)}/messages`, {
      token: alice.token,
      query: { dir: 'b', limit: '100' },
    });
    expect(reply.status).toBe(200);
    return reply.body.chunk;
  };

  it('PUT /send: floats and out-of-range integers anywhere in the content are 400 M_BAD_JSON; nothing is sent', async () => {
    const contents = [{ x: 1.5 }, { x: 2 ** 60 }, { x: -(2 ** 53) }, { nested: [{ y: -0.25 }] }];
    for (const [i, content] of contents.entries()) {
      expect(await call(s.url, 'PUT', `rooms/${enc(roomId)}/send/org.example.number/n${i}`, { token: alice.token, body: content })).toEqual(badJson);
    }
    const ok = await call<{ event_id: string }>(s.url, 'PUT', `rooms/${enc(roomId)}/send/org.example.number/fine`, {
      token: alice.token,
      body: { x: 2 ** 53 - 1 },
    });
    expect(ok.status).toBe(200);
    let chunk = await messages();
    for (let i = 0; i < 100 && !chunk.some((e) => e.type === 'org.example.number'); i++) {
      await sleep(50);
      chunk = await messages();
    }
    expect(chunk.filter((e) => e.type === 'org.example.number').map((e) => e.content)).toEqual([{ x: 2 ** 53 - 1 }]);
  });

  it('PUT /state: 400 M_BAD_JSON', async () => {
    expect(await call(s.url, 'PUT', `rooms/${enc(roomId)}/state/m.room.power_levels`, { token: alice.token, body: { users_default: 1.5 } })).toEqual(badJson);
    expect(await call(s.url, 'PUT', `rooms/${enc(roomId)}/state/org.example.state/key`, { token: alice.token, body: { x: 1e20 } })).toEqual(badJson);
  });

  it('POST /createRoom: 400 M_BAD_JSON for such numbers in initial_state, power_level_content_override or creation_content', async () => {
    const bodies = [
      { initial_state: [{ type: 'org.example.state', state_key: '', content: { x: 0.5 } }] },
      { power_level_content_override: { ban: 1.5 } },
      { creation_content: { x: 2 ** 60 } },
    ];
    for (const body of bodies) expect(await call(s.url, 'POST', 'createRoom', { token: alice.token, body })).toEqual(badJson);
  });

  it('rooms of versions before 6 take them', async () => {
    const old = await call<{ room_id: string }>(s.url, 'POST', 'createRoom', { token: alice.token, body: { room_version: '5', creation_content: { x: 1.5 } } });
    expect(old.status).toBe(200);
    const sent = await call(s.url, 'PUT', `rooms/${enc(old.body.room_id)}/send/org.example.number/old`, { token: alice.token, body: { x: 0.25 } });
    expect(sent.status).toBe(200);
  });
});
