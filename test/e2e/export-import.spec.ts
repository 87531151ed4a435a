/**
 * Export and import with the admin CLI over real servers: a server with accounts, rooms,
 * messages, receipts, a published room, device keys and account data is exported (gzip),
 * imported into a new database, and the imported server answers /sync, /messages,
 * /publicRooms, /search, /keys/query and /profile as the original did, with the original
 * access tokens and sync tokens. Damaged and cut-short files, and a target that is not
 * empty, are refused with a clear error and leave the target as it was. A room export holds
 * that room's streams alone.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { loadConfig } from '@hs/config';
import { PostgresEventStore } from '@hs/eventstore';
import { createTemporaryDatabase, migrate, openDatabase, type TemporaryDatabase } from '@hs/persistence';
import { call, registerUser, type TestUser } from '@hs/testing';
import { sql } from 'slonik';
import { runAdminCaptured as admin } from '../support/admin-cli';
import { startInProcess, type InProcessServer } from '../support/in-process-server';

type Json = Record<string, unknown>;

/** A copy of a response without what depends on the time of the request (`age`). */
function timeless(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(timeless);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value as Json).filter(([key]) => key !== 'age').map(([key, inner]) => [key, timeless(inner)]));
  }
  return value;
}

/** A server's folder without its database: the configuration and keys, as an operator moves them. */
function copyWithoutData(from: string): string {
  const to = mkdtempSync(join(tmpdir(), 'hs-import-'));
  for (const name of readdirSync(from)) {
    if (statSync(join(from, name)).isFile()) copyFileSync(join(from, name), join(to, name));
  }
  return to;
}

describe('export and import with the admin CLI', () => {
  const dirs: string[] = [];
  let source: InProcessServer | undefined;
  let target: InProcessServer | undefined;
  afterAll(async () => {
    await source?.close();
    await target?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('an imported server answers as the exported one did, and refuses damaged files and a target that is not empty', async () => {
    const sourceDir = mkdtempSync(join(tmpdir(), 'hs-export-'));
    dirs.push(sourceDir);
    source = await startInProcess({ dir: sourceDir });
    const url = source.url;
    const as = (user: TestUser, method: string, path: string, body?: unknown, query?: Record<string, string>) =>
      call<Json>(url, method, path, { token: user.token, ...(body !== undefined ? { body } : {}), ...(query ? { query } : {}) });

    const alice = await registerUser(url, 'alice');
    const bob = await registerUser(url, 'bob');
    expect((await as(alice, 'PUT', `profile/${encodeURIComponent(alice.userId)}/displayname`, { displayname: 'Alice Kumquatson' })).status).toBe(200);
    const created = await as(alice, 'POST', 'createRoom', { name: 'Kumquat club', topic: 'citrus only', preset: 'public_chat', visibility: 'public', room_alias_name: 'kumquats' });
    expect(created.status).toBe(200);
    const roomId = created.body.room_id as string;
    const room = encodeURIComponent(roomId);
    expect((await as(bob, 'POST', `join/${room}`, {})).status).toBe(200);
    const sent: string[] = [];
    for (let i = 0; i < 12; i++) {
      const sender = i % 2 === 0 ? alice : bob;
      const reply = await as(sender, 'PUT', `rooms/${room}/send/m.room.message/t${i}`, { msgtype: 'm.text', body: i % 3 === 0 ? `kumquat number ${i}` : `small talk ${i}` });
      expect(reply.status).toBe(200);
      sent.push(reply.body.event_id as string);
    }
    expect((await as(bob, 'POST', `rooms/${room}/receipt/m.read/${encodeURIComponent(sent[7])}`, {})).status).toBe(200);
    const privateRoom = (await as(bob, 'POST', 'createRoom', { preset: 'private_chat', invite: [alice.userId] })).body.room_id as string;
    expect((await as(bob, 'PUT', `user/${encodeURIComponent(bob.userId)}/account_data/m.direct`, { [alice.userId]: [privateRoom] })).status).toBe(200);
    expect((await as(alice, 'PUT', `rooms/${room}/state/m.room.topic`, { topic: 'citrus, mostly' })).status).toBe(200);
    const deviceKeys = {
      user_id: alice.userId,
      device_id: alice.deviceId,
      algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
      keys: { [`curve25519:${alice.deviceId}`]: 'curveKeyOfAlice', [`ed25519:${alice.deviceId}`]: 'edKeyOfAlice' },
      signatures: { [alice.userId]: { [`ed25519:${alice.deviceId}`]: 'signatureOfAlice' } },
    };
    expect((await as(alice, 'POST', 'keys/upload', { device_keys: deviceKeys, one_time_keys: { 'signed_curve25519:AAAAAQ': { key: 'otk', signatures: {} } } })).status).toBe(200);

    /** What the exported server must answer the same after the import. */
    const answers = async (base: string) => {
      const on = (user: TestUser, method: string, path: string, body?: unknown, query?: Record<string, string>) =>
        call<Json>(base, method, path, { token: user.token, ...(body !== undefined ? { body } : {}), ...(query ? { query } : {}) });
      const replies = {
        aliceSync: await on(alice, 'GET', 'sync', undefined, { timeout: '0' }),
        bobSync: await on(bob, 'GET', 'sync', undefined, { timeout: '0' }),
        messages: await on(bob, 'GET', `rooms/${room}/messages`, undefined, { dir: 'b', limit: '50' }),
        publicRooms: await on(bob, 'GET', 'publicRooms'),
        search: await on(bob, 'POST', 'search', { search_categories: { room_events: { search_term: 'kumquat', event_context: { before_limit: 1, after_limit: 1 } } } }),
        keys: await on(bob, 'POST', 'keys/query', { device_keys: { [alice.userId]: [] } }),
        profile: await on(bob, 'GET', `profile/${encodeURIComponent(alice.userId)}`),
        alias: await on(bob, 'GET', `directory/room/${encodeURIComponent(`#kumquats:localhost`)}`),
        joined: await on(alice, 'GET', 'joined_rooms'),
      };
      for (const [name, reply] of Object.entries(replies)) expect({ name, status: reply.status }).toEqual({ name, status: 200 });
      // Presence depends on when each user was last active, not on what was stored; the
      // tokens of the newest position moved on with the import's audit entry (checked below).
      for (const sync of [replies.aliceSync, replies.bobSync]) delete sync.body.presence;
      const tokens = { alice: replies.aliceSync.body.next_batch, bob: replies.bobSync.body.next_batch };
      delete replies.aliceSync.body.next_batch;
      delete replies.bobSync.body.next_batch;
      delete replies.messages.body.start;
      return { tokens, ...(Object.fromEntries(Object.entries(replies).map(([name, reply]) => [name, timeless(reply.body)])) as Record<keyof typeof replies, Json>) };
    };
    const before = await answers(url);
    // Four messages and the room name match.
    expect((before.search.search_categories as { room_events: { count: number } }).room_events.count).toBe(5);
    expect((before.publicRooms.chunk as Json[]).map((r) => r.room_id)).toEqual([roomId]);
    await source.close();
    source = undefined;

    // Export: the whole server (gzip) and the room alone (plain).
    const exportDir = mkdtempSync(join(tmpdir(), 'hs-export-files-'));
    dirs.push(exportDir);
    const serverFile = join(exportDir, 'server.ndjson.gz');
    const exported = await admin(['export', '--config', join(sourceDir, 'homeserver.yaml'), '--out', serverFile]);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toMatch(/^Exported \d+ event\(s\) and \d+ row\(s\) to /);
    expect(exported.stderr).toContain('export [');
    const lines = gunzipSync(readFileSync(serverFile)).toString('utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as Json);
    expect(lines[0]).toMatchObject({ format: 'hs-export', version: 1, scope: 'server', server_name: 'localhost' });
    expect(lines[lines.length - 1]).toMatchObject({ kind: 'end', lines: lines.length - 1 });
    const tables = new Set(lines.filter((line) => line.kind === 'rows').map((line) => line.table));
    expect([...tables]).toEqual(expect.arrayContaining(['accounts.users', 'accounts.devices', 'accounts.access_tokens', 'accounts.account_data', 'e2ee.device_keys', 'e2ee.one_time_keys']));
    expect(lines.filter((line) => line.kind === 'event').map((line) => line.id)).toEqual(expect.arrayContaining(sent));

    const roomFile = join(exportDir, 'room.ndjson');
    const roomExport = await admin(['export', '--config', join(sourceDir, 'homeserver.yaml'), '--out', roomFile, '--room', roomId]);
    expect(roomExport.code).toBe(0);
    const roomLines = readFileSync(roomFile, 'utf8').trimEnd().split('\n').map((line) => JSON.parse(line) as Json);
    expect(roomLines[0]).toMatchObject({ scope: 'room', room_id: roomId });
    const bodyLines = roomLines.slice(1, -1);
    expect(new Set(bodyLines.map((line) => line.kind))).toEqual(new Set(['event']));
    expect(new Set(bodyLines.map((line) => line.stream))).toEqual(new Set([`room-${roomId}`, `receipts-${roomId}`]));
    expect(bodyLines.map((line) => line.id)).toEqual(expect.arrayContaining(sent));

    // The target: the same configuration and keys, a new database.
    const targetDir = copyWithoutData(sourceDir);
    dirs.push(targetDir);
    const targetConfig = join(targetDir, 'homeserver.yaml');

    // Refused files leave the target empty: the good file imports afterwards.
    const cut = join(exportDir, 'cut.ndjson.gz');
    const whole = readFileSync(serverFile);
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length * 0.8)));
    const cutRun = await admin(['import', cut, '--config', targetConfig]);
    expect(cutRun.code).toBe(1);
    expect(cutRun.stderr).toMatch(/error: .*(cut short|damaged)/);

    const plain = gunzipSync(whole).toString('utf8');
    const changed = join(exportDir, 'changed.ndjson');
    writeFileSync(changed, plain.replace('kumquat number 3', 'kumquat number 4'));
    const changedRun = await admin(['import', changed, '--config', targetConfig]);
    expect(changedRun.code).toBe(1);
    expect(changedRun.stderr).toContain('error: the checksum of the end line does not match the file');

    const truncated = join(exportDir, 'truncated.ndjson');
    writeFileSync(truncated, plain.split('\n').slice(0, 12).join('\n'));
    const truncatedRun = await admin(['import', truncated, '--config', targetConfig]);
    expect(truncatedRun.code).toBe(1);
    expect(truncatedRun.stderr).toMatch(/error: .* the export was cut short/);

    const otherName = join(exportDir, 'other.ndjson');
    writeFileSync(otherName, plain.replace('"server_name":"localhost"', '"server_name":"elsewhere.example"'));
    const otherRun = await admin(['import', otherName, '--config', targetConfig]);
    expect(otherRun.code).toBe(1);
    expect(otherRun.stderr).toContain('the export is of server elsewhere.example; this server is localhost');

    const imported = await admin(['import', serverFile, '--config', targetConfig]);
    expect(imported.stderr).not.toContain('error');
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/^Imported \d+ event\(s\) and \d+ row\(s\) \(server export\); rebuilt the room write model and \d+ projection\(s\): .*sync/);
    expect(imported.stderr).toContain('import [');
    expect(imported.stderr).toContain('rebuild room write model [');
    expect(imported.stderr).toContain('rebuild sync [');

    const again = await admin(['import', serverFile, '--config', targetConfig]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('error: the target server is not empty (rows in eventstore.events, accounts.users');

    target = await startInProcess({ dir: targetDir });
    const { tokens: beforeTokens, ...beforeAnswers } = before;
    const { tokens: afterTokens, ...afterAnswers } = await answers(target.url);
    expect(afterAnswers).toEqual(beforeAnswers);
    expect(afterTokens.bob).not.toEqual(beforeTokens.bob);

    // Sync tokens of the exported server stay valid: nothing new since the last one.
    const since = beforeTokens.bob as string;
    const incremental = await call<Json>(target.url, 'GET', 'sync', { token: bob.token, query: { since, timeout: '0' } });
    expect(incremental.status).toBe(200);
    expect(Object.keys(((incremental.body.rooms ?? {}) as { join?: Json }).join ?? {})).toEqual([]);

    // And the imported server goes on: a new message reaches the other member.
    const next = await call<Json>(target.url, 'PUT', `rooms/${room}/send/m.room.message/after-import`, { token: alice.token, body: { msgtype: 'm.text', body: 'after the move' } });
    expect(next.status).toBe(200);
    const tail = await call<{ chunk: Json[] }>(target.url, 'GET', `rooms/${room}/messages`, { token: bob.token, query: { dir: 'b', limit: '1' } });
    expect(tail.body.chunk.map((event) => event.event_id)).toEqual([next.body.event_id]);
    await target.close();
    target = undefined;

    // The room export imports into another empty server: that room's events alone.
    const roomTargetDir = copyWithoutData(sourceDir);
    dirs.push(roomTargetDir);
    const roomImport = await admin(['import', roomFile, '--config', join(roomTargetDir, 'homeserver.yaml')]);
    expect(roomImport.stderr).not.toContain('error');
    expect(roomImport.code).toBe(0);
    const config = loadConfig(join(roomTargetDir, 'homeserver.yaml'), {});
    mkdirSync(config.database.data_dir!, { recursive: true });
    const db = await openDatabase({ dataDir: config.database.data_dir, maxConnections: 2 });
    try {
      await migrate(db);
      const store = await PostgresEventStore.open(db);
      const stored = await store.readStream(`room-${roomId}`);
      expect(stored.map((record) => record.id)).toEqual(bodyLines.filter((line) => line.stream === `room-${roomId}`).map((line) => line.id));
      const users = await db.pool.oneFirst(sql.unsafe`SELECT count(*)::int AS n FROM accounts.users`);
      expect(users).toBe(0);
      await store.close();
    } finally {
      await db.close();
    }
  }, 300_000);

  const onPostgres = process.env.TEST_DATABASE_URL ? it : it.skip;
  onPostgres('exports a running server on PostgreSQL in one snapshot while messages are sent, and imports it into another database', async () => {
    const running = await startInProcess({ postgresFromEnv: true });
    let moved: InProcessServer | undefined;
    let targetDb: TemporaryDatabase | undefined;
    try {
      const alice = await registerUser(running.url, 'alice');
      const created = await call<Json>(running.url, 'POST', 'createRoom', { token: alice.token, body: { name: 'busy room' } });
      const room = encodeURIComponent(created.body.room_id as string);
      let sending = true;
      let count = 0;
      const sender = (async () => {
        while (sending) {
          const reply = await call<Json>(running.url, 'PUT', `rooms/${room}/send/m.room.message/busy${count}`, { token: alice.token, body: { msgtype: 'm.text', body: `busy ${count}` } });
          expect(reply.status).toBe(200);
          count += 1;
        }
      })();
      while (count < 5) await new Promise((resolve) => setTimeout(resolve, 20));
      const configDir = dirname(running.config.signing_key_path);
      const exportDir = mkdtempSync(join(tmpdir(), 'hs-export-files-'));
      dirs.push(exportDir);
      const file = join(exportDir, 'live.ndjson');
      const exported = await admin(['export', '--config', join(configDir, 'homeserver.yaml'), '--out', file], { HS_DATABASE__URL: running.config.database.url! });
      const sentDuringExport = count;
      sending = false;
      await sender;
      expect(exported.code).toBe(0);
      expect(sentDuringExport).toBeGreaterThan(5);

      targetDb = await createTemporaryDatabase(process.env.TEST_DATABASE_URL!, 'hs_import');
      const targetDir = copyWithoutData(configDir);
      dirs.push(targetDir);
      const imported = await admin(['import', file, '--config', join(targetDir, 'homeserver.yaml')], { HS_DATABASE__URL: targetDb.url });
      expect(imported.stderr).not.toContain('error');
      expect(imported.code).toBe(0);

      // The imported room holds a prefix of what the running server holds: the snapshot.
      moved = await startInProcess({ dir: targetDir, env: { HS_DATABASE__URL: targetDb.url } });
      const history = async (base: string) =>
        (await call<{ chunk: Json[] }>(base, 'GET', `rooms/${room}/messages`, { token: alice.token, query: { dir: 'f', limit: '1000' } })).body.chunk.map((event) => event.event_id);
      const all = await history(running.url);
      const copied = await history(moved.url);
      expect(copied.length).toBeGreaterThan(5);
      expect(copied).toEqual(all.slice(0, copied.length));
    } finally {
      await moved?.close();
      await targetDb?.drop();
      await running.close();
    }
  }, 300_000);
});
