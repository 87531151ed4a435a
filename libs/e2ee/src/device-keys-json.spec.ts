import { openTestDatabase, type TestDatabase } from '@hs/persistence';
import { sql } from './db';
import { DeviceKeysService, type JsonObject } from './device-keys.service';
import { stringifyJson } from './json-text';

/** Device keys as /keys/query answers them: the stored texts with `unsigned` written in, never parsed. */
describe('DeviceKeysService.deviceKeysJson', () => {
  let database: TestDatabase;
  let keys: DeviceKeysService;

  const device = async (userId: string, deviceId: string, displayName: string | null, keysJson?: string) => {
    await database.db.pool.query(sql.unsafe`INSERT INTO accounts.users (user_id, localpart, kind, created_ts)
      VALUES (${userId}, ${userId.slice(1, userId.indexOf(':'))}, 'user', 0) ON CONFLICT DO NOTHING`);
    await database.db.pool.query(sql.unsafe`INSERT INTO accounts.devices (user_id, device_id, display_name, created_ts) VALUES (${userId}, ${deviceId}, ${displayName}, 0)`);
    if (keysJson !== undefined) {
      await database.db.pool.query(sql.unsafe`INSERT INTO e2ee.device_keys (user_id, device_id, keys_json, uploaded_ts) VALUES (${userId}, ${deviceId}, ${keysJson}, 0)`);
    } else {
      await keys.upload(userId, deviceId, {
        device_keys: {
          user_id: userId,
          device_id: deviceId,
          algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
          keys: { [`curve25519:${deviceId}`]: 'Y3VydmU', [`ed25519:${deviceId}`]: 'ZWQyNTUxOQ' },
          signatures: { [userId]: { [`ed25519:${deviceId}`]: 'c2lnbmF0dXJl' } },
        },
      });
    }
  };

  beforeAll(async () => {
    database = await openTestDatabase('hs_e2ee_keys_json_test', 2);
    keys = new DeviceKeysService(database.db.pool);
    await device('@alice:test', 'A1', 'Alice\'s "phone" \u00e9\u{1F600} \\ \n tab\t');
    await device('@alice:test', 'A2', null);
    await device('@bob:test', 'B1', 'laptop');
    // Stored texts not of the usual form: written again with `unsigned` as a member.
    await device('@carol:test', 'C1', 'named', '{"device_id":"C1","unsigned":{"old":1},"user_id":"@carol:test"}');
    await device('@carol:test', 'C2', null, '{}');
    await device('@dave:test', 'D1', null, '{"device_id":"D1","note":"mentions \\"unsigned\\" in a value"}');
  });
  afterAll(async () => {
    keys?.close();
    await database?.close();
  });

  const parsed = async (wanted: Map<string, string[]>) => JSON.parse(stringifyJson(await keys.deviceKeysJson(wanted))) as Record<string, Record<string, JsonObject>>;

  it('gives every device of the users asked for all devices, each with its display name in unsigned, as valid JSON', async () => {
    const all = await parsed(new Map([['@alice:test', []], ['@bob:test', []], ['@nobody:test', []]]));
    expect(Object.keys(all).sort()).toEqual(['@alice:test', '@bob:test', '@nobody:test']);
    expect(all['@nobody:test']).toEqual({});
    expect(Object.keys(all['@alice:test']).sort()).toEqual(['A1', 'A2']);
    expect(all['@alice:test'].A1.unsigned).toEqual({ device_display_name: 'Alice\'s "phone" \u00e9\u{1F600} \\ \n tab\t' });
    expect(all['@alice:test'].A2.unsigned).toEqual({});
    expect(all['@alice:test'].A1.keys).toEqual({ 'curve25519:A1': 'Y3VydmU', 'ed25519:A1': 'ZWQyNTUxOQ' });
    expect(all['@bob:test'].B1.unsigned).toEqual({ device_display_name: 'laptop' });
  });

  it('answers the same whether a user is asked for all devices or for each of them, and writes unusual stored texts again with unsigned as a member', async () => {
    for (const [userId, deviceIds] of [
      ['@alice:test', ['A1', 'A2']],
      ['@carol:test', ['C1', 'C2']],
      ['@dave:test', ['D1']],
    ] as const) {
      const whole = await parsed(new Map([[userId, []]]));
      const each = await parsed(new Map([[userId, [...deviceIds]]]));
      expect(whole).toEqual(each);
    }
    const carol = await parsed(new Map([['@carol:test', []]]));
    expect(carol['@carol:test']).toEqual({
      C1: { device_id: 'C1', user_id: '@carol:test', unsigned: { device_display_name: 'named' } },
      C2: { unsigned: {} },
    });
    expect((await parsed(new Map([['@dave:test', []]])))['@dave:test'].D1).toEqual({ device_id: 'D1', note: 'mentions "unsigned" in a value', unsigned: {} });
  });

  it('gives only the devices named, and nothing for devices without keys', async () => {
    expect(Object.keys((await parsed(new Map([['@alice:test', ['A2', 'ZZ']]])))['@alice:test'])).toEqual(['A2']);
    expect(await parsed(new Map([['@alice:test', ['ZZ']], ['@bob:test', []]]))).toEqual({ '@alice:test': {}, '@bob:test': expect.objectContaining({ B1: expect.any(Object) }) });
  });
});
