import { generateSigningKey, signJson } from '../crypto';
import type { JsonObject } from '../events/types';
import { encodeBase64Url } from '../json/base64';
import { ALICE, ALL_VERSIONS, BOB, CAROL, standardRoom } from './testing/test-room';
import type { TestRoom } from './testing/test-room';
import { thirdPartyInvitePublicKeys } from './third-party-invite';

const idServerKey = generateSigningKey('0');
const otherKey = generateSigningKey('1');
const TOKEN = 'tok123';

function signedBlock(mxid: string, token = TOKEN, key = idServerKey): JsonObject {
  return signJson({ mxid, token, sender: ALICE }, 'id.test', key) as unknown as JsonObject;
}

/** A room where ALICE sent an m.room.third_party_invite with the identity server's key. */
function roomWithInvite(v: string, inviteContent: JsonObject = { public_key: idServerKey.publicKeyBase64 }): TestRoom {
  return standardRoom(v).state(ALICE, 'm.room.third_party_invite', TOKEN, { display_name: 'b…', key_validity_url: 'https://id.test/v', ...inviteContent });
}

function invite(r: TestRoom, sender: string, target: string, thirdPartyInvite: JsonObject) {
  return r.check(r.member(sender, target, 'invite', { third_party_invite: { display_name: 'b…', ...thirdPartyInvite } }));
}

describe('third-party invites (rule x.4.1)', () => {
  describe.each(ALL_VERSIONS)('room version %s', (v) => {
    it('x.4.1.7 allows an invite whose signed block is signed with the public_key', () => {
      const r = roomWithInvite(v);
      expect(invite(r, ALICE, BOB, { signed: signedBlock(BOB) })).toEqual({ allowed: true });
    });
    it('x.4.1.7 allows a key listed in public_keys (standard or URL-safe Base64)', () => {
      const r = roomWithInvite(v, {
        public_key: otherKey.publicKeyBase64,
        public_keys: [{ public_key: encodeBase64Url(idServerKey.publicKey), key_validity_url: 'https://id.test/v' }],
      });
      expect(invite(r, ALICE, BOB, { signed: signedBlock(BOB) })).toEqual({ allowed: true });
    });
    it('x.4.1.8 rejects a signature by another key, a tampered block, and no signatures', () => {
      const r = roomWithInvite(v);
      expect(invite(r, ALICE, BOB, { signed: signedBlock(BOB, TOKEN, otherKey) })).toMatchObject({
        allowed: false,
        rule: 'member.invite.third_party.signature',
      });
      const tampered = { ...signedBlock(BOB), sender: CAROL };
      expect(invite(r, ALICE, BOB, { signed: tampered })).toMatchObject({ rule: 'member.invite.third_party.signature' });
      expect(invite(r, ALICE, BOB, { signed: { mxid: BOB, token: TOKEN } })).toMatchObject({
        rule: 'member.invite.third_party.signature',
      });
    });
    it('x.4.1.1 rejects a banned target', () => {
      const r = roomWithInvite(v).join(BOB).ban(ALICE, BOB);
      expect(invite(r, ALICE, BOB, { signed: signedBlock(BOB) })).toMatchObject({ rule: 'member.invite.third_party.banned' });
    });
    it('x.4.1.2 rejects a third_party_invite without signed', () => {
      const r = roomWithInvite(v);
      expect(invite(r, ALICE, BOB, {})).toMatchObject({ rule: 'member.invite.third_party.signed' });
      expect(r.check(r.member(ALICE, BOB, 'invite', { third_party_invite: 'x' }))).toMatchObject({
        rule: 'member.invite.third_party.signed',
      });
    });
    it('x.4.1.3 rejects a signed block without mxid or token', () => {
      const r = roomWithInvite(v);
      const { token: _t, ...noToken } = signedBlock(BOB);
      const { mxid: _m, ...noMxid } = signedBlock(BOB);
      expect(invite(r, ALICE, BOB, { signed: noToken })).toMatchObject({ rule: 'member.invite.third_party.mxid_token' });
      expect(invite(r, ALICE, BOB, { signed: noMxid })).toMatchObject({ rule: 'member.invite.third_party.mxid_token' });
    });
    it('x.4.1.4 rejects an mxid other than the state_key', () => {
      const r = roomWithInvite(v);
      expect(invite(r, ALICE, BOB, { signed: signedBlock(CAROL) })).toMatchObject({ rule: 'member.invite.third_party.mxid' });
    });
    it('x.4.1.5 rejects a token with no m.room.third_party_invite', () => {
      const r = roomWithInvite(v);
      expect(invite(r, ALICE, BOB, { signed: signedBlock(BOB, 'other') })).toMatchObject({
        rule: 'member.invite.third_party.no_invite_event',
      });
    });
    it('x.4.1.6 rejects a sender other than the sender of the m.room.third_party_invite', () => {
      const r = roomWithInvite(v).join(CAROL);
      expect(invite(r, CAROL, BOB, { signed: signedBlock(BOB) })).toMatchObject({ rule: 'member.invite.third_party.sender' });
    });
  });
});

describe('thirdPartyInvitePublicKeys', () => {
  it('skips keys that are not Base64 and entries without public_key', () => {
    const keys = thirdPartyInvitePublicKeys({ public_key: '!!!', public_keys: [{ x: 1 }, 'y', { public_key: idServerKey.publicKeyBase64 }] });
    expect(keys).toHaveLength(1);
    expect(Buffer.from(keys[0]).equals(Buffer.from(idServerKey.publicKey))).toBe(true);
  });
});
