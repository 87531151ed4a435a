import { generateSigningKey, type SigningKey } from '../crypto/ed25519';
import { signEvent } from '../events/signing';
import { checkIncomingPdu, type VerifyKey, type VerifyKeyLookup } from './pdu-checks';
import { checkIncomingPdus } from './pdu-checks-batch';

const keyA = generateSigningKey('a1');
const keyA2 = generateSigningKey('a2');
const keyB = generateSigningKey('b1');
const other = generateSigningKey('a1');

const keys = new Map<string, VerifyKey>([
  ['a.example ed25519:a1', { publicKey: keyA.publicKeyBase64, validUntilTs: 9_999_999_999_999 }],
  ['a.example ed25519:a2', { publicKey: keyA2.publicKeyBase64, validUntilTs: 9_999_999_999_999 }],
  ['b.example ed25519:b1', { publicKey: keyB.publicKeyBase64, validUntilTs: 9_999_999_999_999 }],
]);
const lookupKey: VerifyKeyLookup = (server, keyId) => keys.get(`${server} ${keyId}`);

function event(n: number, sender = '@alice:a.example'): Record<string, unknown> {
  return {
    room_id: '!room:a.example',
    sender,
    type: 'm.room.message',
    content: { body: `message ${n}`, msgtype: 'm.text' },
    origin_server_ts: 1_000_000 + n,
    depth: 5 + n,
    prev_events: [`$${'A'.repeat(43)}`],
    auth_events: [`$${'B'.repeat(43)}`],
    hashes: {},
    signatures: {},
  };
}

const sign = (pdu: Record<string, unknown>, key: SigningKey, server = 'a.example') => signEvent(pdu, '10', server, key) as Record<string, unknown>;

describe('the receipt checks of a batch of PDUs', () => {
  it('give what the checks one by one give, with the signatures verified in the thread pool', async () => {
    const raws: unknown[] = [];
    for (let n = 0; n < 1200; n++) {
      switch (n % 9) {
        case 0: // signed by a key that is not the one published under its id
          raws.push(sign(event(n), other));
          break;
        case 1: // one good and one bad signature of the same server
          raws.push(sign(sign(event(n), keyA2), other));
          break;
        case 2: // a signature that is not Base64
          raws.push({ ...sign(event(n), keyA), signatures: { 'a.example': { 'ed25519:a1': '!!!' } } });
          break;
        case 3: // content changed after signing: the hash fails, the signature (of the redacted form) holds
          raws.push({ ...sign(event(n), keyA), content: { body: 'changed' } });
          break;
        case 4: // another server's user, signed by its own server
          raws.push(sign(event(n, '@bob:b.example'), keyB, 'b.example'));
          break;
        case 5: // not an event
          raws.push(n % 2 === 0 ? 'not an object' : { type: 'm.room.message' });
          break;
        case 6: // an unknown key only
          raws.push(sign(event(n), generateSigningKey('zz')));
          break;
        default:
          raws.push(sign(sign(event(n), keyA), keyA2));
      }
    }
    const one = raws.map((raw) => checkIncomingPdu(raw, '10', { lookupKey, roomId: '!room:a.example' }));
    const batch = await checkIncomingPdus(raws, '10', { lookupKey, roomId: '!room:a.example' });
    expect(batch).toEqual(one);
    const reasons = new Set(one.map((r) => (r.ok ? (r.redacted ? 'redacted' : 'ok') : r.reason)));
    expect(reasons.size).toBeGreaterThanOrEqual(5);
  });

  it('of none is none', async () => {
    expect(await checkIncomingPdus([], '10', { lookupKey })).toEqual([]);
  });
});
