/**
 * Events of type m.room.member: rule 5 of rooms v1-5, rule 4 of v6-11, rule 5 of v12. The
 * sub-rule numbers below are those of v8+ (v1-7 have no rule x.2, so their x.3 is our x.4 …;
 * knock, x.7, exists from v7).
 */
import type { JsonObject, JsonValue, RoomEvent } from '../../events/types';
import type { RoomVersionRules } from '../../room-versions';
import type { AuthContext } from '../context';
import { thirdPartyInvitePublicKeys, thirdPartyInviteSignatureMatches } from '../third-party-invite';
import { ALLOW, type AuthResult, deny } from '../types';
import { domainOf } from '../user-id';

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The creator a room's first join may be for: `content.creator` (v1-10), the create event's sender (v11+). */
function originalCreator(create: RoomEvent, rules: RoomVersionRules): string | undefined {
  if (rules.implicitRoomCreator) return create.sender;
  return typeof create.content.creator === 'string' ? create.content.creator : undefined;
}

/**
 * The server whose signature a membership event needs because of
 * `content.join_authorised_via_users_server` (room versions with restricted joins), if any.
 * The signature checks on receipt must verify that server's signature cryptographically;
 * the authorization rules check that it is present.
 */
export function joinAuthorisingServer(event: RoomEvent, rules: RoomVersionRules): string | undefined {
  if (!rules.restrictedJoins || event.type !== 'm.room.member') return undefined;
  const via = event.content.join_authorised_via_users_server;
  return typeof via === 'string' ? domainOf(via) : undefined;
}

export function checkMember(ctx: AuthContext): AuthResult {
  const { event, rules } = ctx;
  const target = event.state_key;
  const membership = event.content.membership;
  // x.1 If there is no state_key property, or no membership property in content, reject.
  if (typeof target !== 'string' || membership === undefined) {
    return deny('member.state_key_or_membership', 'm.room.member needs a state_key and content.membership');
  }

  // x.2 (v8+) join_authorised_via_users_server: the event must be signed by that user's server.
  if (rules.restrictedJoins && 'join_authorised_via_users_server' in event.content) {
    const via = event.content.join_authorised_via_users_server;
    const server = typeof via === 'string' ? domainOf(via) : undefined;
    const sigs = server === undefined ? undefined : event.signatures[server];
    if (!sigs || typeof sigs !== 'object' || Object.keys(sigs).length === 0) {
      return deny(
        'member.join_authorised_via_users_server.signature',
        'the event is not signed by the server of join_authorised_via_users_server',
      );
    }
  }

  switch (membership) {
    case 'join':
      return checkJoin(ctx, target);
    case 'invite':
      return checkInvite(ctx, target);
    case 'leave':
      return checkLeave(ctx, target);
    case 'ban':
      return checkBan(ctx, target);
    case 'knock':
      if (rules.knocking) return checkKnock(ctx, target);
      break;
  }
  // x.8 Otherwise, the membership is unknown. Reject.
  return deny('member.unknown_membership', `unknown membership ${JSON.stringify(membership)}`);
}

/** x.3 membership join. */
function checkJoin(ctx: AuthContext, target: string): AuthResult {
  const { event, rules } = ctx;
  // x.3.1 If the only previous event is an m.room.create and the state_key is the creator, allow.
  const create = ctx.create;
  if (
    create &&
    event.prev_events.length === 1 &&
    event.prev_events[0] === create.event_id &&
    target === originalCreator(create, rules)
  ) {
    return ALLOW;
  }
  // x.3.2 If the sender does not match state_key, reject.
  if (event.sender !== target) return deny('member.join.sender_not_target', 'only the user themself can join');
  const current = ctx.membership(target);
  // x.3.3 If the sender is banned, reject.
  if (current === 'ban') return deny('member.join.banned', 'the sender is banned from the room');

  const joinRule = ctx.joinRule;
  // x.3.4 If the join_rule is invite (or, v7+, knock), allow if membership state is invite or join.
  if (joinRule === 'invite' || (rules.knocking && joinRule === 'knock')) {
    if (current === 'invite' || current === 'join') return ALLOW;
    return deny('member.join.not_invited', `the join rule is ${joinRule} and the sender is not invited`);
  }
  // x.3.5 (v8+) restricted, (v10+) knock_restricted.
  if ((rules.restrictedJoins && joinRule === 'restricted') || (rules.knockRestricted && joinRule === 'knock_restricted')) {
    // x.3.5.1 If membership state is join or invite, allow.
    if (current === 'join' || current === 'invite') return ALLOW;
    // x.3.5.2 The authorising user must be joined and able to invite, else reject.
    const via = event.content.join_authorised_via_users_server;
    if (typeof via !== 'string') {
      return deny('member.join.restricted.no_authoriser', 'a restricted join needs join_authorised_via_users_server');
    }
    if (ctx.membership(via) !== 'join') {
      return deny('member.join.restricted.authoriser_not_joined', 'the authorising user is not joined to the room');
    }
    if (ctx.userLevel(via) < ctx.powerLevels.level('invite')) {
      return deny('member.join.restricted.authoriser_power', 'the authorising user may not invite');
    }
    // x.3.5.3 Otherwise, allow.
    return ALLOW;
  }
  // x.3.6 If the join_rule is public, allow.
  if (joinRule === 'public') return ALLOW;
  // x.3.7 Otherwise, reject.
  return deny('member.join.join_rule', `the join rule ${JSON.stringify(joinRule)} does not allow joining`);
}

/** x.4 membership invite. */
function checkInvite(ctx: AuthContext, target: string): AuthResult {
  const { event } = ctx;
  // x.4.1 If content has a third_party_invite property.
  if ('third_party_invite' in event.content) return checkThirdPartyInvite(ctx, target);
  // x.4.2 If the sender's current membership state is not join, reject.
  if (ctx.membership(event.sender) !== 'join') {
    return deny('member.invite.sender_not_joined', 'the sender is not joined to the room');
  }
  // x.4.3 If target user's current membership state is join or ban, reject.
  const current = ctx.membership(target);
  if (current === 'join' || current === 'ban') {
    return deny('member.invite.target_joined_or_banned', `the target user is ${current === 'ban' ? 'banned' : 'already joined'}`);
  }
  // x.4.4 If the sender's power level is at least the invite level, allow. x.4.5 Otherwise, reject.
  if (ctx.senderLevel >= ctx.powerLevels.level('invite')) return ALLOW;
  return deny('member.invite.power', "the sender's power level is below the invite level");
}

/** x.4.1 invites with content.third_party_invite. */
function checkThirdPartyInvite(ctx: AuthContext, target: string): AuthResult {
  const { event } = ctx;
  // x.4.1.1 If target user is banned, reject.
  if (ctx.membership(target) === 'ban') return deny('member.invite.third_party.banned', 'the target user is banned');
  // x.4.1.2 If content.third_party_invite does not have a signed property, reject.
  const tpi = event.content.third_party_invite;
  const signed = isObject(tpi) ? tpi.signed : undefined;
  if (!isObject(signed)) return deny('member.invite.third_party.signed', 'third_party_invite has no signed object');
  // x.4.1.3 If signed does not have mxid and token properties, reject.
  const { mxid, token } = signed;
  if (typeof mxid !== 'string' || typeof token !== 'string') {
    return deny('member.invite.third_party.mxid_token', 'third_party_invite.signed needs mxid and token');
  }
  // x.4.1.4 If mxid does not match state_key, reject.
  if (mxid !== target) return deny('member.invite.third_party.mxid', 'signed.mxid does not match the state_key');
  // x.4.1.5 If there is no m.room.third_party_invite event with state_key matching token, reject.
  const invite = ctx.lookup('m.room.third_party_invite', token);
  if (!invite) return deny('member.invite.third_party.no_invite_event', 'no m.room.third_party_invite matches the token');
  // x.4.1.6 If sender does not match sender of the m.room.third_party_invite, reject.
  if (invite.sender !== event.sender) {
    return deny('member.invite.third_party.sender', 'the sender did not send the m.room.third_party_invite');
  }
  // x.4.1.7 If any signature in signed matches any public key of the invite event, allow.
  if (thirdPartyInviteSignatureMatches(signed, thirdPartyInvitePublicKeys(invite.content))) return ALLOW;
  // x.4.1.8 Otherwise, reject.
  return deny('member.invite.third_party.signature', 'no signature in signed matches a public key of the invite');
}

/** x.5 membership leave. */
function checkLeave(ctx: AuthContext, target: string): AuthResult {
  const { event, rules } = ctx;
  const current = ctx.membership(target);
  // x.5.1 If the sender matches state_key, allow iff that user's membership is invite, join (or, v7+, knock).
  if (event.sender === target) {
    if (current === 'invite' || current === 'join' || (rules.knocking && current === 'knock')) return ALLOW;
    return deny('member.leave.self', 'the sender is not invited to or joined to the room');
  }
  // x.5.2 If the sender's current membership state is not join, reject.
  if (ctx.membership(event.sender) !== 'join') {
    return deny('member.leave.sender_not_joined', 'the sender is not joined to the room');
  }
  const senderLevel = ctx.senderLevel;
  // x.5.3 If the target is banned and the sender's power level is less than the ban level, reject.
  if (current === 'ban' && senderLevel < ctx.powerLevels.level('ban')) {
    return deny('member.leave.unban_power', "the sender's power level is below the ban level");
  }
  // x.5.4 Allow if the sender's level >= kick level and the target's level < the sender's.
  if (senderLevel >= ctx.powerLevels.level('kick') && ctx.userLevel(target) < senderLevel) return ALLOW;
  // x.5.5 Otherwise, reject.
  return deny('member.leave.kick_power', "the sender's power level does not allow kicking the target");
}

/** x.6 membership ban. */
function checkBan(ctx: AuthContext, target: string): AuthResult {
  // x.6.1 If the sender's current membership state is not join, reject.
  if (ctx.membership(ctx.event.sender) !== 'join') {
    return deny('member.ban.sender_not_joined', 'the sender is not joined to the room');
  }
  // x.6.2 Allow if the sender's level >= ban level and the target's level < the sender's. x.6.3 Otherwise, reject.
  const senderLevel = ctx.senderLevel;
  if (senderLevel >= ctx.powerLevels.level('ban') && ctx.userLevel(target) < senderLevel) return ALLOW;
  return deny('member.ban.power', "the sender's power level does not allow banning the target");
}

/** x.7 (v7+) membership knock. */
function checkKnock(ctx: AuthContext, target: string): AuthResult {
  const { event, rules } = ctx;
  const joinRule = ctx.joinRule;
  // x.7.1 If the join_rule is anything other than knock (or, v10+, knock_restricted), reject.
  if (!(joinRule === 'knock' || (rules.knockRestricted && joinRule === 'knock_restricted'))) {
    return deny('member.knock.join_rule', `the join rule ${JSON.stringify(joinRule)} does not allow knocking`);
  }
  // x.7.2 If sender does not match state_key, reject.
  if (event.sender !== target) return deny('member.knock.sender_not_target', 'only the user themself can knock');
  // x.7.3 If the sender's current membership is not ban, invite or join, allow. x.7.4 Otherwise, reject.
  const current = ctx.membership(event.sender);
  if (current !== 'ban' && current !== 'invite' && current !== 'join') return ALLOW;
  return deny('member.knock.membership', `the sender is already ${current === 'ban' ? 'banned' : current === 'invite' ? 'invited' : 'joined'}`);
}
