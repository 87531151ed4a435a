/**
 * Reads wait for the read models, bounded: with the projections running a read right after a
 * write sees it; with them stopped, a read waits `read_consistency.max_wait_ms`, answers from
 * what the read models hold, and GET /health says which read model lags (degraded), the
 * warning names it and the wait is counted in /metrics. Later reads do not wait for the
 * lagging read model again.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { call, registerUser, type TestUser } from '@hs/testing';
import { generateConfigFiles, loadConfig } from '@hs/config';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHomeserver, type RunningHomeserver } from '../../apps/homeserver/src/homeserver';

const MAX_WAIT_MS = 400;
const enc = encodeURIComponent;

describe('bounded read-your-writes wait', () => {
  let dir: string;
  let hs: RunningHomeserver;
  let url: string;
  let alice: TestUser;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hs-read-consistency-'));
    const file = join(dir, 'homeserver.yaml');
    await generateConfigFiles({ serverName: 'localhost', out: file, clientPort: 0 });
    const config = loadConfig(file, {
      HS_CLIENT_LISTENER__BIND_ADDRESS: '127.0.0.1',
      HS_FEDERATION_LISTENER__ENABLED: 'false',
      HS_REGISTRATION__ENABLED: 'true',
      HS_RATE_LIMITS__ENABLED: 'false',
      HS_READ_CONSISTENCY__MAX_WAIT_MS: String(MAX_WAIT_MS),
    });
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    hs = await startHomeserver(config, pino({ level: 'warn' }, sink), { accounts: { passwordHashing: { memoryCost: 1024, timeCost: 1, parallelism: 1 } } });
    url = hs.clientUrl!;
    alice = await registerUser(url, 'alice');
  }, 120_000);

  afterAll(async () => {
    await hs?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('sees the write at once while the projections run, and waits out a stopped projector', async () => {
    const created = await call<{ room_id: string }>(url, 'POST', 'createRoom', { token: alice.token, body: { name: 'lag' } });
    expect(created.status).toBe(200);
    const roomId = created.body.room_id;
    const sent = await call<{ event_id: string }>(url, 'PUT', `rooms/${enc(roomId)}/send/m.room.message/t1`, { token: alice.token, body: { msgtype: 'm.text', body: 'one' } });
    const seen = await call<{ content: { body: string } }>(url, 'GET', `rooms/${enc(roomId)}/event/${enc(sent.body.event_id)}`, { token: alice.token });
    expect(seen).toEqual({ status: 200, body: expect.objectContaining({ content: expect.objectContaining({ body: 'one' }) }) });
    const healthy = await call(url, 'GET', '/health');
    expect(healthy).toEqual({ status: 200, body: { status: 'ok', checks: { database: 'ok', read_models: 'ok' } } });

    // The projectors stop: writes are still acknowledged, the read models no longer move.
    await hs.projections?.stop();
    const lost = await call<{ event_id: string }>(url, 'PUT', `rooms/${enc(roomId)}/send/m.room.message/t2`, { token: alice.token, body: { msgtype: 'm.text', body: 'two' } });
    expect(lost.status).toBe(200);

    const started = performance.now();
    const stale = await call(url, 'GET', `rooms/${enc(roomId)}/event/${enc(lost.body.event_id)}`, { token: alice.token });
    const waited = performance.now() - started;
    // The answer comes from what the read model holds, after the bounded wait.
    expect(stale.status).toBe(404);
    expect(waited).toBeGreaterThanOrEqual(MAX_WAIT_MS - 20);
    expect(waited).toBeLessThan(MAX_WAIT_MS + 5_000);

    const degraded = await call<{ status: string; checks: Record<string, string> }>(url, 'GET', '/health');
    expect(degraded.status).toBe(200);
    expect(degraded.body.status).toBe('degraded');
    expect(degraded.body.checks.database).toBe('ok');
    expect(degraded.body.checks.read_models).toMatch(/^degraded: .*\bsync\b/);

    // A lagging read model holds no later read back: /sync answers without another full wait.
    const again = performance.now();
    const sync = await call(url, 'GET', 'sync?timeout=0', { token: alice.token });
    expect(sync.status).toBe(200);
    const messages = await call(url, 'GET', `rooms/${enc(roomId)}/messages?dir=b&limit=1`, { token: alice.token });
    expect(messages.status).toBe(200);
    expect(performance.now() - again).toBeLessThan(2 * MAX_WAIT_MS + 1_000);

    // The warning names the read model and its lag; /metrics counts the waits that ran out.
    await waitFor(() => lines.some((line) => line.read_model === 'sync'));
    expect(lines.find((line) => line.read_model === 'sync')).toEqual(
      expect.objectContaining({ level: 40, read_model: 'sync', lag_events: expect.any(Number), max_wait_ms: MAX_WAIT_MS }),
    );
    const metrics = await fetch(`${url}/metrics`).then((response) => response.text());
    expect(metrics).toMatch(/read_wait_seconds_count\{read_model="sync",outcome="timed_out"\} [1-9]/);
    expect(metrics).toMatch(/read_wait_seconds_count\{read_model="sync",outcome="ready"\} [1-9]/);
  }, 60_000);
});

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
