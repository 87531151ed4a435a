import { ALICE, ALL_VERSIONS, BOB, CAROL, DAVE, room, standardRoom, versionsWhere } from './testing/test-room';
import type { TestRoom } from './testing/test-room';
import type { AuthResult } from './types';

const join = (r: TestRoom, user: string, extra = {}): AuthResult => r.check(r.member(user, user, 'join', extra));
const denied = (rule: string): Partial<AuthResult> => ({ allowed: false, rule });
const ALLOWED = { allowed: true };

describe('m.room.member (rule 5 in v1-5 and v12, rule 4 in v6-11)', () => {
  describe.each(ALL_VERSIONS)('room version %s', (v) => {
    describe('x.1 state_key and membership', () => {
      it('rejects a member event without state_key or without membership', () => {
        const r = standardRoom(v);
        expect(r.check({ sender: ALICE, type: 'm.room.member', content: { membership: 'join' } })).toMatchObject(
          denied('member.state_key_or_membership'),
        );
        expect(r.check({ sender: ALICE, type: 'm.room.member', state_key: ALICE, content: {} })).toMatchObject(
          denied('member.state_key_or_membership'),
        );
      });
    });

    describe('join', () => {
      it('x.3.1 allows the creator to join right after the create event', () => {
        expect(join(room(v), ALICE)).toEqual(ALLOWED);
      });
      it('x.3.1 does not apply when the prev event is not the create event', () => {
        const r = room(v).force({ sender: ALICE, type: 'm.room.topic', state_key: '', content: { topic: 'x' } });
        expect(join(r, ALICE)).toMatchObject(denied('member.join.not_invited'));
      });
      it('x.3.1 does not apply to someone other than the creator', () => {
        expect(join(room(v), BOB)).toMatchObject(denied('member.join.not_invited'));
      });
      it('x.3.2 rejects a join whose sender is not the state_key', () => {
        const r = standardRoom(v, 'public');
        expect(r.check(r.member(ALICE, BOB, 'join'))).toMatchObject(denied('member.join.sender_not_target'));
      });
      it('x.3.3 rejects a banned user, even in a public room', () => {
        const r = standardRoom(v, 'public').join(BOB).ban(ALICE, BOB);
        expect(join(r, BOB)).toMatchObject(denied('member.join.banned'));
      });
      it('x.3.4 invite rule: allows invited and joined users, rejects others', () => {
        const r = standardRoom(v, 'invite').invite(ALICE, BOB);
        expect(join(r, BOB)).toEqual(ALLOWED);
        expect(join(r, ALICE)).toEqual(ALLOWED);
        expect(join(r, CAROL)).toMatchObject(denied('member.join.not_invited'));
      });
      it('x.3.4 a room without m.room.join_rules behaves as invite', () => {
        const r = room(v).join(ALICE).invite(ALICE, BOB);
        expect(join(r, BOB)).toEqual(ALLOWED);
        expect(join(r, CAROL)).toMatchObject(denied('member.join.not_invited'));
      });
      it('x.3.6 public rule: allows anyone not banned', () => {
        expect(join(standardRoom(v, 'public'), BOB)).toEqual(ALLOWED);
      });
      it('x.3.7 rejects any other join rule', () => {
        expect(join(standardRoom(v, 'private'), BOB)).toMatchObject(denied('member.join.join_rule'));
        expect(join(standardRoom(v, 'something_else'), BOB)).toMatchObject(denied('member.join.join_rule'));
      });
    });

    describe('invite', () => {
      it('x.4.2 rejects an invite from a sender who is not joined', () => {
        const r = standardRoom(v).invite(ALICE, BOB);
        expect(r.check(r.member(BOB, CAROL, 'invite'))).toMatchObject(denied('member.invite.sender_not_joined'));
      });
      it('x.4.3 rejects inviting a joined or banned user', () => {
        const r = standardRoom(v).join(BOB).join(CAROL).ban(ALICE, CAROL);
        expect(r.check(r.member(ALICE, BOB, 'invite'))).toMatchObject(denied('member.invite.target_joined_or_banned'));
        expect(r.check(r.member(ALICE, CAROL, 'invite'))).toMatchObject(denied('member.invite.target_joined_or_banned'));
      });
      it('x.4.4 allows a joined sender at the invite level; x.4.5 rejects one below it', () => {
        const r = standardRoom(v, 'public', { invite: 10, users: { [BOB]: 10, [CAROL]: 9 } }).join(BOB).join(CAROL);
        expect(r.check(r.member(BOB, DAVE, 'invite'))).toEqual(ALLOWED);
        expect(r.check(r.member(CAROL, DAVE, 'invite'))).toMatchObject(denied('member.invite.power'));
      });
      it('x.4.4 the invite level defaults to 0', () => {
        const r = standardRoom(v).join(BOB);
        expect(r.check(r.member(BOB, CAROL, 'invite'))).toEqual(ALLOWED);
      });
    });

    describe('leave', () => {
      it('x.5.1 allows leaving when invited or joined', () => {
        const r = standardRoom(v, 'invite').invite(ALICE, BOB);
        expect(r.check(r.member(BOB, BOB, 'leave'))).toEqual(ALLOWED);
        expect(r.check(r.member(ALICE, ALICE, 'leave'))).toEqual(ALLOWED);
      });
      it('x.5.1 rejects leaving with no membership, or when already left or banned', () => {
        const r = standardRoom(v).join(BOB).leave(BOB).join(CAROL).ban(ALICE, CAROL);
        expect(r.check(r.member(BOB, BOB, 'leave'))).toMatchObject(denied('member.leave.self'));
        expect(r.check(r.member(CAROL, CAROL, 'leave'))).toMatchObject(denied('member.leave.self'));
        expect(r.check(r.member(DAVE, DAVE, 'leave'))).toMatchObject(denied('member.leave.self'));
      });
      it('x.5.2 rejects kicking by a sender who is not joined', () => {
        const r = standardRoom(v, 'public', { users: { [BOB]: 100 } }).join(CAROL);
        expect(r.check(r.member(BOB, CAROL, 'leave'))).toMatchObject(denied('member.leave.sender_not_joined'));
      });
      it('x.5.3 unbanning needs the ban level as well as the kick level', () => {
        const r = standardRoom(v, 'public', { ban: 60, kick: 50, users: { [BOB]: 55, [DAVE]: 60 } })
          .join(BOB)
          .join(DAVE)
          .join(CAROL)
          .ban(ALICE, CAROL);
        expect(r.check(r.member(BOB, CAROL, 'leave'))).toMatchObject(denied('member.leave.unban_power'));
        expect(r.check(r.member(DAVE, CAROL, 'leave'))).toEqual(ALLOWED);
      });
      it('x.5.4 allows a kick at the kick level of a user with lower power; x.5.5 rejects otherwise', () => {
        const r = standardRoom(v, 'public', { kick: 50, users: { [BOB]: 50, [CAROL]: 50, [DAVE]: 49 } })
          .join(BOB)
          .join(CAROL)
          .join(DAVE);
        expect(r.check(r.member(BOB, DAVE, 'leave'))).toEqual(ALLOWED);
        // equal power
        expect(r.check(r.member(BOB, CAROL, 'leave'))).toMatchObject(denied('member.leave.kick_power'));
        // below the kick level
        expect(r.check(r.member(DAVE, BOB, 'leave'))).toMatchObject(denied('member.leave.kick_power'));
      });
    });

    describe('ban', () => {
      it('x.6.1 rejects a ban by a sender who is not joined', () => {
        const r = standardRoom(v, 'public', { users: { [BOB]: 100 } }).join(CAROL);
        expect(r.check(r.member(BOB, CAROL, 'ban'))).toMatchObject(denied('member.ban.sender_not_joined'));
      });
      it('x.6.2 allows a ban at the ban level of a user with lower power; x.6.3 rejects otherwise', () => {
        const r = standardRoom(v, 'public', { ban: 50, users: { [BOB]: 50, [CAROL]: 50 } })
          .join(BOB)
          .join(CAROL);
        expect(r.check(r.member(BOB, DAVE, 'ban'))).toEqual(ALLOWED);
        expect(r.check(r.member(BOB, CAROL, 'ban'))).toMatchObject(denied('member.ban.power'));
        expect(r.check(r.member(DAVE, BOB, 'ban'))).toMatchObject(denied('member.ban.sender_not_joined'));
        const low = standardRoom(v).join(DAVE);
        expect(low.check(low.member(DAVE, CAROL, 'ban'))).toMatchObject(denied('member.ban.power'));
      });
    });

    it('x.8 rejects an unknown membership', () => {
      const r = standardRoom(v);
      expect(r.check(r.member(ALICE, ALICE, 'dance'))).toMatchObject(denied('member.unknown_membership'));
      expect(r.check(r.member(ALICE, ALICE, 5 as unknown as string))).toMatchObject(denied('member.unknown_membership'));
    });
  });

  describe.each(versionsWhere((r) => !r.implicitRoomCreator))('room version %s: the creator is content.creator', (v) => {
    it('x.3.1 allows content.creator (not the sender) to join first', () => {
      const r = room(v, ALICE, { creator: DAVE });
      expect(join(r, DAVE)).toEqual(ALLOWED);
      expect(join(r, ALICE)).toMatchObject(denied('member.join.not_invited'));
    });
  });

  describe.each(versionsWhere((r) => r.implicitRoomCreator))('room version %s: the creator is the sender', (v) => {
    it('x.3.1 ignores content.creator', () => {
      const r = room(v, ALICE, { creator: DAVE });
      expect(join(r, ALICE)).toEqual(ALLOWED);
      expect(join(r, DAVE)).toMatchObject(denied('member.join.not_invited'));
    });
  });

  it('v12 x.3.1 an additional creator may not join first', () => {
    const r = room('12', ALICE, { additional_creators: [BOB] });
    expect(join(r, BOB)).toMatchObject(denied('member.join.not_invited'));
  });

  describe.each(versionsWhere((r) => !r.knocking))('room version %s: no knocking', (v) => {
    it('knock is an unknown membership and the knock join rule lets nobody in', () => {
      const r = standardRoom(v, 'knock');
      expect(r.check(r.member(BOB, BOB, 'knock'))).toMatchObject(denied('member.unknown_membership'));
      expect(join(r, BOB)).toMatchObject(denied('member.join.join_rule'));
    });
  });

  describe.each(versionsWhere((r) => r.knocking))('room version %s: knocking', (v) => {
    it('x.3.4 the knock join rule admits invited users only', () => {
      const r = standardRoom(v, 'knock').invite(ALICE, BOB);
      expect(join(r, BOB)).toEqual(ALLOWED);
      expect(join(r, CAROL)).toMatchObject(denied('member.join.not_invited'));
    });
    it('x.7.1 rejects a knock when the join rule is not knock', () => {
      const r = standardRoom(v, 'invite');
      expect(r.check(r.member(BOB, BOB, 'knock'))).toMatchObject(denied('member.knock.join_rule'));
    });
    it('x.7.2 rejects a knock for someone else', () => {
      const r = standardRoom(v, 'knock');
      expect(r.check(r.member(ALICE, BOB, 'knock'))).toMatchObject(denied('member.knock.sender_not_target'));
    });
    it('x.7.3 allows a knock from a user who left or never was in the room; x.7.4 rejects banned, invited, joined', () => {
      const r = standardRoom(v, 'knock').knock(BOB).leave(BOB).invite(ALICE, CAROL).knock(DAVE).ban(ALICE, DAVE);
      expect(r.check(r.member(BOB, BOB, 'knock'))).toEqual(ALLOWED);
      expect(r.check(r.member('@eve:e.test', '@eve:e.test', 'knock'))).toEqual(ALLOWED);
      expect(r.check(r.member(CAROL, CAROL, 'knock'))).toMatchObject(denied('member.knock.membership'));
      expect(r.check(r.member(DAVE, DAVE, 'knock'))).toMatchObject(denied('member.knock.membership'));
      expect(r.check(r.member(ALICE, ALICE, 'knock'))).toMatchObject(denied('member.knock.membership'));
    });
    it('x.5.1 a knocking user may withdraw their knock', () => {
      const r = standardRoom(v, 'knock').knock(BOB);
      expect(r.check(r.member(BOB, BOB, 'leave'))).toEqual(ALLOWED);
    });
  });

  it('v1-6 x.5.1: a knocking membership cannot be withdrawn by leaving (knock is unknown there)', () => {
    const r = standardRoom('6', 'public').force(
      { sender: BOB, type: 'm.room.member', state_key: BOB, content: { membership: 'knock' } },
    );
    expect(r.check(r.member(BOB, BOB, 'leave'))).toMatchObject(denied('member.leave.self'));
  });

  describe.each(versionsWhere((r) => !r.restrictedJoins))('room version %s: no restricted joins', (v) => {
    it('the restricted join rule lets nobody in without an invite', () => {
      const r = standardRoom(v, 'restricted');
      expect(join(r, BOB, { join_authorised_via_users_server: ALICE })).toMatchObject(denied('member.join.join_rule'));
    });
    it('join_authorised_via_users_server is ignored (no signature needed)', () => {
      const r = standardRoom(v, 'public');
      expect(join(r, BOB, { join_authorised_via_users_server: CAROL })).toEqual(ALLOWED);
    });
  });

  const restrictedRules = (v: string): string[] => (Number(v) >= 10 ? ['restricted', 'knock_restricted'] : ['restricted']);
  describe.each(versionsWhere((r) => r.restrictedJoins))('room version %s: restricted joins', (v) => {
    it.each(restrictedRules(v))('x.3.5.1 join rule %s: allows invited and joined users', (rule) => {
      const r = standardRoom(v, rule).invite(ALICE, BOB);
      expect(join(r, BOB)).toEqual(ALLOWED);
      expect(join(r, ALICE)).toEqual(ALLOWED);
    });
    it.each(restrictedRules(v))('x.3.5.2/3 join rule %s: an authorising user who is joined and may invite', (rule) => {
      const r = standardRoom(v, rule, { invite: 50, users: { [DAVE]: 50 } }).invite(ALICE, DAVE).join(DAVE);
      const signedByBoth = { 'b.test': { 'ed25519:1': 'x' }, 'a.test': { 'ed25519:1': 'y' } };
      const ok = r.event({ ...r.member(BOB, BOB, 'join', { join_authorised_via_users_server: DAVE }), signatures: signedByBoth });
      expect(r.check(ok)).toEqual(ALLOWED);
    });
    it.each(restrictedRules(v))('x.3.5.2 join rule %s: rejects without an authorising user', (rule) => {
      expect(join(standardRoom(v, rule), BOB)).toMatchObject(denied('member.join.restricted.no_authoriser'));
    });
    it.each(restrictedRules(v))('x.3.5.2 join rule %s: rejects an authoriser who is not joined', (rule) => {
      const r = standardRoom(v, rule).invite(ALICE, DAVE);
      const ev = r.event({
        ...r.member(BOB, BOB, 'join', { join_authorised_via_users_server: DAVE }),
        signatures: { 'b.test': { 'ed25519:1': 'x' }, 'a.test': { 'ed25519:1': 'y' } },
      });
      expect(r.check(ev)).toMatchObject(denied('member.join.restricted.authoriser_not_joined'));
    });
    it.each(restrictedRules(v))('x.3.5.2 join rule %s: rejects an authoriser below the invite level', (rule) => {
      const r = standardRoom(v, rule, { invite: 50 }).invite(ALICE, DAVE).join(DAVE);
      const ev = r.event({
        ...r.member(BOB, BOB, 'join', { join_authorised_via_users_server: DAVE }),
        signatures: { 'b.test': { 'ed25519:1': 'x' }, 'a.test': { 'ed25519:1': 'y' } },
      });
      expect(r.check(ev)).toMatchObject(denied('member.join.restricted.authoriser_power'));
    });
    it('x.2.1 rejects join_authorised_via_users_server without a signature of that server', () => {
      const r = standardRoom(v, 'restricted');
      const ev = r.event({
        ...r.member(BOB, BOB, 'join', { join_authorised_via_users_server: CAROL }),
        signatures: { 'b.test': { 'ed25519:1': 'x' } },
      });
      expect(r.check(ev)).toMatchObject(denied('member.join_authorised_via_users_server.signature'));
      const malformed = r.event({
        ...r.member(BOB, BOB, 'join', { join_authorised_via_users_server: 42 }),
        signatures: { 'b.test': { 'ed25519:1': 'x' } },
      });
      expect(r.check(malformed)).toMatchObject(denied('member.join_authorised_via_users_server.signature'));
    });
    it('x.2.1 applies to every membership, and the signature presence is all it needs', () => {
      const r = standardRoom(v, 'public').join(BOB);
      const leave = r.event({
        ...r.member(BOB, BOB, 'leave', { join_authorised_via_users_server: CAROL }),
        signatures: { 'b.test': { 'ed25519:1': 'x' } },
      });
      expect(r.check(leave)).toMatchObject(denied('member.join_authorised_via_users_server.signature'));
      const signed = r.event({
        ...r.member(BOB, BOB, 'leave', { join_authorised_via_users_server: CAROL }),
        signatures: { 'b.test': { 'ed25519:1': 'x' }, 'c.test': { 'ed25519:1': 'y' } },
      });
      expect(r.check(signed)).toEqual(ALLOWED);
    });
  });

  describe.each(versionsWhere((r) => r.knockRestricted))('room version %s: knock_restricted', (v) => {
    it('x.7.1 allows knocking under knock_restricted', () => {
      const r = standardRoom(v, 'knock_restricted');
      expect(r.check(r.member(BOB, BOB, 'knock'))).toEqual(ALLOWED);
    });
  });

  describe.each(['8', '9'])('room version %s: knock_restricted is not yet a join rule', (v) => {
    it('rejects knocks and authorised joins under knock_restricted', () => {
      const r = standardRoom(v, 'knock_restricted');
      expect(r.check(r.member(BOB, BOB, 'knock'))).toMatchObject(denied('member.knock.join_rule'));
      const ev = r.event({
        ...r.member(BOB, BOB, 'join', { join_authorised_via_users_server: ALICE }),
        signatures: { 'b.test': { 'ed25519:1': 'x' }, 'a.test': { 'ed25519:1': 'y' } },
      });
      expect(r.check(ev)).toMatchObject(denied('member.join.join_rule'));
    });
  });

  describe('room version 12: creators have infinite power', () => {
    it('a creator may kick and ban anyone listed in users, and nobody may kick a creator', () => {
      const r = standardRoom('12', 'public', { users: { [BOB]: 1_000_000 } }).join(BOB);
      expect(r.check(r.member(ALICE, BOB, 'leave'))).toEqual(ALLOWED);
      expect(r.check(r.member(ALICE, BOB, 'ban'))).toEqual(ALLOWED);
      expect(r.check(r.member(BOB, ALICE, 'leave'))).toMatchObject(denied('member.leave.kick_power'));
      expect(r.check(r.member(BOB, ALICE, 'ban'))).toMatchObject(denied('member.ban.power'));
    });
    it('additional creators cannot kick each other', () => {
      const r = room('12', ALICE, { additional_creators: [BOB] }).join(ALICE).joinRules(ALICE, 'public').join(BOB);
      expect(r.check(r.member(ALICE, BOB, 'leave'))).toMatchObject(denied('member.leave.kick_power'));
      expect(r.check(r.member(BOB, ALICE, 'ban'))).toMatchObject(denied('member.ban.power'));
      expect(r.check(r.member(BOB, CAROL, 'ban'))).toEqual(ALLOWED);
    });
  });

  it('before v12 a creator is bounded by power levels like anyone else', () => {
    const r = standardRoom('11', 'public', { users: { [BOB]: 100 } }).join(BOB);
    expect(r.check(r.member(ALICE, BOB, 'ban'))).toMatchObject(denied('member.ban.power'));
  });
});
