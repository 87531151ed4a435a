/**
 * End-to-end encryption keys between two federating servers, each way round: a user of one
 * server queries the device keys of a user of the other and claims one of its one-time keys
 * (over /_matrix/federation/v1/user/keys/*), sends it a to-device message (an
 * m.direct_to_device EDU), and hears in /sync that its device list changed when it uploads new
 * keys (an m.device_list_update EDU). The server only routes keys: random bytes in unpadded
 * base64 (which Dendrite decodes) stand for them.
 */
import { randomBytes } from 'node:crypto';
import type { FlowServer } from './room-flows';

const FLOW_TIMEOUT = 180_000;

/** `bytes` random bytes in unpadded base64. */
function base64(bytes: number): string {
  return randomBytes(bytes).toString('base64').replace(/=+$/, '');
}

function deviceKeys(userId: string, deviceId: string, curve: string, ed25519: string, signature: string): Record<string, unknown> {
  return {
    user_id: userId,
    device_id: deviceId,
    algorithms: ['m.olm.v1.curve25519-aes-sha2', 'm.megolm.v1.aes-sha2'],
    keys: { [`curve25519:${deviceId}`]: curve, [`ed25519:${deviceId}`]: ed25519 },
    signatures: { [userId]: { [`ed25519:${deviceId}`]: signature } },
  };
}

/** Calls `ask` until `done` holds for its answer (every 500 ms, at most 30 s). */
async function until<T>(ask: () => Promise<T>, done: (answer: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const answer = await ask();
    if (done(answer)) return answer;
    if (Date.now() > deadline) throw new Error(`${what} not answered within 30 s; last answer ${JSON.stringify(answer).slice(0, 1000)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Declares the cases (as `it`s) between servers labelled `labels.a` and `labels.b`; `servers` is called when a case runs. */
export function e2eeFlowCases(labels: { a: string; b: string }, servers: () => { a: FlowServer; b: FlowServer }): void {
  for (const flip of [false, true]) {
    const [homeLabel, remoteLabel] = flip ? [labels.b, labels.a] : [labels.a, labels.b];
    it(`a user of ${homeLabel} queries and claims the keys of a user of ${remoteLabel}, sends it a to-device message and hears of its new keys`, async () => {
      const { a, b } = servers();
      const [home, remote] = flip ? [b, a] : [a, b];
      const [asker, owner] = await Promise.all([home.newUser(), remote.newUser()]);
      const roomId = await owner.createRoom({ preset: 'public_chat', name: `keys on ${remote.label}` });
      expect(await asker.join(roomId, [remote.serverName])).toBe(roomId);
      const ownerDevice = await owner.deviceId();
      const [firstCurve, secondCurve, ed25519] = [base64(32), base64(32), base64(32)];
      const oneTimeKey = { key: base64(32), signatures: { [owner.userId]: { [`ed25519:${ownerDevice}`]: base64(64) } } };
      const first = deviceKeys(owner.userId, ownerDevice, firstCurve, ed25519, base64(64));
      await owner.uploadKeys({ device_keys: first, one_time_keys: { 'signed_curve25519:AAAAAQ': oneTimeKey } });

      // A server that keeps other servers' device lists (Dendrite) learns of the keys from the
      // owner's server's device list update, which may land after the upload's answer.
      const query = await until(() => asker.queryKeys([owner.userId]), (answer) => answer.device_keys[owner.userId]?.[ownerDevice] !== undefined, 'the device keys');
      expect(query.device_keys[owner.userId][ownerDevice]).toMatchObject(first);
      const claim = await asker.claimKey(owner.userId, ownerDevice, 'signed_curve25519');
      expect(claim.one_time_keys[owner.userId][ownerDevice]).toEqual({ 'signed_curve25519:AAAAAQ': oneTimeKey });

      await asker.sendToDevice('org.example.interop', { [owner.userId]: { [ownerDevice]: { from: home.label } } });
      await owner.syncUntil(() => owner.toDevice.some((m) => m.sender === asker.userId && m.type === 'org.example.interop' && m.content.from === home.label), 'the to-device message');

      // The asker's sync position is past the join before the owner's keys change again.
      await asker.syncUntil(() => true, 'a first answer');
      asker.deviceListsChanged.clear();
      await owner.uploadKeys({ device_keys: deviceKeys(owner.userId, ownerDevice, secondCurve, ed25519, base64(64)) });
      await asker.syncUntil(() => asker.deviceListsChanged.has(owner.userId), `${owner.userId} in device_lists.changed`);
      const again = await until(
        () => asker.queryKeys([owner.userId]),
        (answer) => (answer.device_keys[owner.userId]?.[ownerDevice]?.keys as Record<string, string> | undefined)?.[`curve25519:${ownerDevice}`] === secondCurve,
        'the new device keys',
      );
      expect(again.device_keys[owner.userId][ownerDevice]).toMatchObject({ keys: { [`curve25519:${ownerDevice}`]: secondCurve } });
    }, FLOW_TIMEOUT);
  }
}
