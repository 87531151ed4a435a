import { generateSigningKey, type SigningKey } from '../crypto/ed25519';
import { computeEventId, roomIdFromCreateEvent } from '../events/hashes';
import { signEvent } from '../events/signing';
import { checkIncomingPdu, PDU_MAX_BYTES, PduRejectionReason, requiredSignatureServers, type VerifyKey, type VerifyKeyLookup } from './pdu-checks';

const keyA = generateSigningKey('a1');
const keyB = generateSigningKey('b1');
const keyC = generateSigningKey('c1');
const FAR_FUTURE = 9_999_999_999_999;

function ring(entries: Array<[string, SigningKey, number?]>): VerifyKeyLookup {
  const map = new Map<string, VerifyKey>(entries.map(([server, k, until]) => [`${server} ${k.keyId}`, { publicKey: k.publicKeyBase64, validUntilTs: until ?? FAR_FUTURE }]));
  return (server, keyId) => map.get(`${server} ${keyId}`);
}

const lookupKey = ring([
  ['a.example', keyA],
  ['b.example', keyB],
  ['c.example', keyC],
]);

const HASH_ID = `$${'A'.repeat(43)}`;

function message(version: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const legacy = version === '1' || version === '2';
  return {
    room_id: '!room:a.example',
    sender: '@alice:a.example',
    type: 'm.room.message',
    content: { body: 'hello', msgtype: 'm.text' },
    origin_server_ts: 1_000_000,
    depth: 5,
    prev_events: legacy ? [['$prev:a.example', { sha256: 'x' }]] : [HASH_ID],
    auth_events: legacy ? [['$create:a.example', { sha256: 'y' }]] : [HASH_ID],
    hashes: {},
    signatures: {},
    ...(legacy ? { event_id: '$ev1:a.example' } : {}),
    ...extra,
  };
}

function signed(version: string, extra: Record<string, unknown> = {}, server = 'a.example', key = keyA): Record<string, unknown> {
  return signEvent(message(version, extra), version, server, key);
}

function expectRejected(result: ReturnType<typeof checkIncomingPdu>, reason: PduRejectionReason): void {
  expect(result).toMatchObject({ ok: false, reason });
}

describe('checks on receipt of a PDU', () => {
  it.each(['1', '3', '4', '6', '9', '10', '11'])('accepts a well-signed event in room version %s', (version) => {
    const pdu = signed(version);
    const result = checkIncomingPdu(pdu, version, { lookupKey, roomId: '!room:a.example' });
    expect(result).toMatchObject({ ok: true, redacted: false });
    if (!result.ok) return;
    expect(result.event.event_id).toBe(version === '1' ? '$ev1:a.example' : computeEventId(pdu, version));
    expect(result.event.content).toEqual({ body: 'hello', msgtype: 'm.text' });
    expect(result.pdu).toBe(pdu);
  });

  it('accepts a room version 12 create event without room_id and derives the room id', () => {
    const create = signEvent(
      { sender: '@alice:a.example', type: 'm.room.create', state_key: '', content: { room_version: '12' }, origin_server_ts: 1, depth: 1, prev_events: [], auth_events: [], hashes: {}, signatures: {} },
      '12',
      'a.example',
      keyA,
    );
    const result = checkIncomingPdu(create, '12', { lookupKey });
    expect(result.ok && result.event.room_id).toBe(roomIdFromCreateEvent(create));
    const roomId = roomIdFromCreateEvent(create);
    const msg = signed('12', { room_id: roomId });
    expect(checkIncomingPdu(msg, '12', { lookupKey, roomId }).ok).toBe(true);
    // v12 rooms have no server-name room ids, and create events must not carry one
    expectRejected(checkIncomingPdu(signed('12'), '12', { lookupKey }), PduRejectionReason.InvalidIdentifier);
    expectRejected(checkIncomingPdu({ ...create, room_id: roomId }, '12', { lookupKey }), PduRejectionReason.MalformedEvent);
  });

  it('redacts (does not reject) an event whose content hash fails', () => {
    const pdu = { ...signed('10'), content: { body: 'tampered', msgtype: 'm.text' } };
    const result = checkIncomingPdu(pdu, '10', { lookupKey });
    expect(result).toMatchObject({ ok: true, redacted: true });
    if (!result.ok) return;
    expect(result.event.content).toEqual({});
    expect(result.pdu.content).toEqual({});
    expect(result.event.event_id).toBe(computeEventId(pdu, '10'));
  });

  it('rejects a bad signature', () => {
    const pdu = { ...signed('10'), type: 'm.room.other' };
    expectRejected(checkIncomingPdu(pdu, '10', { lookupKey }), PduRejectionReason.BadSignature);
    const forged = signed('10', {}, 'a.example', generateSigningKey('a1'));
    expectRejected(checkIncomingPdu(forged, '10', { lookupKey }), PduRejectionReason.BadSignature);
  });

  it('requires the sender server signature, and reports unknown keys apart', () => {
    expectRejected(checkIncomingPdu({ ...signed('10'), signatures: {} }, '10', { lookupKey }), PduRejectionReason.MissingSignature);
    const byOther = signed('10', {}, 'b.example', keyB);
    expectRejected(checkIncomingPdu(byOther, '10', { lookupKey }), PduRejectionReason.MissingSignature);
    expectRejected(checkIncomingPdu(signed('10'), '10', { lookupKey: () => undefined }), PduRejectionReason.NoUsableKey);
  });

  it('ignores signatures by unknown keys beside a valid one', () => {
    const pdu = signEvent(signed('10'), '10', 'a.example', generateSigningKey('unknown'));
    expect(checkIncomingPdu(pdu, '10', { lookupKey }).ok).toBe(true);
  });

  it('enforces key validity from room version 5 on', () => {
    const expiredRing = ring([['a.example', keyA, 999_999]]);
    expectRejected(checkIncomingPdu(signed('5'), '5', { lookupKey: expiredRing }), PduRejectionReason.NoUsableKey);
    expectRejected(checkIncomingPdu(signed('10'), '10', { lookupKey: expiredRing }), PduRejectionReason.NoUsableKey);
    expect(checkIncomingPdu(signed('4'), '4', { lookupKey: expiredRing }).ok).toBe(true);
    const exact = ring([['a.example', keyA, 1_000_000]]);
    expect(checkIncomingPdu(signed('10'), '10', { lookupKey: exact }).ok).toBe(true);
  });

  it('requires the event id server to sign in room versions 1-2', () => {
    const pdu = signed('1', { event_id: '$ev:b.example' });
    expect(requiredSignatureServers(pdu, '1').sort()).toEqual(['a.example', 'b.example']);
    expectRejected(checkIncomingPdu(pdu, '1', { lookupKey }), PduRejectionReason.MissingSignature);
    const both = signEvent(pdu, '1', 'b.example', keyB);
    expect(checkIncomingPdu(both, '1', { lookupKey }).ok).toBe(true);
    expect(requiredSignatureServers({ ...pdu }, '3')).toEqual(['a.example']);
  });

  it('requires the authorising server of a restricted join (v8+)', () => {
    const join = { type: 'm.room.member', state_key: '@alice:a.example', content: { membership: 'join', join_authorised_via_users_server: '@mod:c.example' } };
    const onlySender = signed('9', join);
    expect(requiredSignatureServers(onlySender, '9').sort()).toEqual(['a.example', 'c.example']);
    expect(requiredSignatureServers(onlySender, '7')).toEqual(['a.example']);
    expectRejected(checkIncomingPdu(onlySender, '9', { lookupKey }), PduRejectionReason.MissingSignature);
    expect(checkIncomingPdu(signEvent(onlySender, '9', 'c.example', keyC), '9', { lookupKey }).ok).toBe(true);
  });

  it('does not require the sender server for an invite made from a third-party invite', () => {
    const invite = {
      sender: '@alice:a.example',
      type: 'm.room.member',
      state_key: '@bob:b.example',
      content: { membership: 'invite', third_party_invite: { display_name: 'b', signed: { mxid: '@bob:b.example', token: 't', signatures: {} } } },
    };
    const pdu = signed('10', invite, 'b.example', keyB);
    expect(requiredSignatureServers(pdu, '10')).toEqual([]);
    expect(checkIncomingPdu(pdu, '10', { lookupKey }).ok).toBe(true);
    const plain = signed('10', { ...invite, content: { membership: 'invite' } }, 'b.example', keyB);
    expectRejected(checkIncomingPdu(plain, '10', { lookupKey }), PduRejectionReason.MissingSignature);
  });

  it('drops events that do not follow the format of their room version', () => {
    const cases: Array<[string, Record<string, unknown>]> = [
      ['10', { sender: 5 }],
      ['10', { content: 'x' }],
      ['10', { depth: -1 }],
      ['5', { origin_server_ts: 1.5 }],
      ['10', { prev_events: 'x' }],
      ['10', { prev_events: [['$a:b', {}]] }],
      ['10', { redacts: 1 }],
      ['10', { room_id: undefined }],
      ['10', { state_key: 1 }],
      ['10', { unsigned: [] }],
      ['1', { event_id: undefined }],
      ['1', { prev_events: ['$prev:a.example'] }],
      ['10', { prev_events: Array.from({ length: 21 }, () => HASH_ID) }],
      ['10', { auth_events: Array.from({ length: 11 }, () => HASH_ID) }],
    ];
    for (const [version, change] of cases) {
      const pdu = signed(version, change);
      expectRejected(checkIncomingPdu(pdu, version, { lookupKey }), PduRejectionReason.MalformedEvent);
    }
    expectRejected(checkIncomingPdu({ ...signed('10'), hashes: {} }, '10', { lookupKey }), PduRejectionReason.MalformedEvent);
    expectRejected(checkIncomingPdu({ ...signed('10'), signatures: { 'a.example': 'x' } }, '10', { lookupKey }), PduRejectionReason.MalformedEvent);
    expectRejected(checkIncomingPdu([], '10', { lookupKey }), PduRejectionReason.MalformedEvent);
    expectRejected(checkIncomingPdu(null, '10', { lookupKey }), PduRejectionReason.MalformedEvent);
  });

  it('checks identifiers against the room version', () => {
    expectRejected(checkIncomingPdu(signed('10', { sender: 'alice' }), '10', { lookupKey }), PduRejectionReason.InvalidIdentifier);
    expectRejected(checkIncomingPdu(signed('10', { room_id: 'room' }), '10', { lookupKey }), PduRejectionReason.InvalidIdentifier);
    expectRejected(checkIncomingPdu(signed('10', { prev_events: ['$x:a.example'] }), '10', { lookupKey }), PduRejectionReason.InvalidIdentifier);
    expectRejected(checkIncomingPdu(signed('3', { prev_events: [`$${'-'.repeat(43)}`] }), '3', { lookupKey }), PduRejectionReason.InvalidIdentifier);
    expectRejected(checkIncomingPdu(signed('1', { event_id: '$nocolon' }), '1', { lookupKey }), PduRejectionReason.InvalidIdentifier);
  });

  it('enforces the size limits', () => {
    const big = signed('10', { content: { body: 'x'.repeat(PDU_MAX_BYTES) } });
    expectRejected(checkIncomingPdu(big, '10', { lookupKey }), PduRejectionReason.TooLarge);
    const longType = signed('10', { type: 't'.repeat(256) });
    expectRejected(checkIncomingPdu(longType, '10', { lookupKey }), PduRejectionReason.FieldTooLong);
    const longKey = signed('10', { state_key: 'é'.repeat(128) });
    expectRejected(checkIncomingPdu(longKey, '10', { lookupKey }), PduRejectionReason.FieldTooLong);
    expect(checkIncomingPdu(signed('10', { state_key: 'k'.repeat(255) }), '10', { lookupKey }).ok).toBe(true);
  });

  it('enforces strict canonical JSON from room version 6 on', () => {
    const float = signed('5', { content: { n: 1.5 } });
    expect(checkIncomingPdu(float, '5', { lookupKey }).ok).toBe(true);
    expectRejected(checkIncomingPdu({ ...signed('6'), content: { n: 1.5 } }, '6', { lookupKey }), PduRejectionReason.InvalidCanonicalJson);
    expectRejected(checkIncomingPdu({ ...signed('11'), depth: 2 ** 53 }, '11', { lookupKey }), PduRejectionReason.InvalidCanonicalJson);
  });

  it('refuses events of another room and unknown room versions', () => {
    expectRejected(checkIncomingPdu(signed('10'), '10', { lookupKey, roomId: '!other:a.example' }), PduRejectionReason.WrongRoom);
    expectRejected(checkIncomingPdu(signed('10'), '99', { lookupKey }), PduRejectionReason.UnsupportedRoomVersion);
  });
});
