/**
 * The rules that apply to every non-create event before the type-specific ones, and the
 * generic power checks after them. Rule numbers: v1-5 / v6-11 / v12.
 */
import { splitStateKey } from '../../events/types';
import type { AuthContext } from '../context';
import { authEventKeys, isCreateEventOfRoom } from '../selection';
import { ALLOW, type AuthResult, deny } from '../types';
import { domainOf } from '../user-id';

/**
 * - (v12 rule 2) If the event's room_id is not the event id of an accepted m.room.create event
 *   with sigil `!` instead of `$`, reject.
 * - (v1-11 rule 2.4) If there is no m.room.create event among the auth events, reject.
 */
export function checkCreateEventPresent(ctx: AuthContext): AuthResult {
  const create = ctx.create;
  if (ctx.rules.roomIdFromCreateEvent) {
    if (!create || !isCreateEventOfRoom(create, ctx.event.room_id)) {
      return deny('room_id.create_event', 'the room id does not name an accepted m.room.create event');
    }
    return ALLOW;
  }
  if (!create) return deny('auth_events.no_create', 'there is no m.room.create event');
  return ALLOW;
}

/** (rule 2.5 / 2.5 / 3.5) If any auth event has a room_id other than the event's, reject. */
export function checkAuthEventsRoom(ctx: AuthContext): AuthResult {
  const { event, rules } = ctx;
  for (const k of authEventKeys(event.type, event.state_key, event.sender, event.content, rules)) {
    const [type, key] = splitStateKey(k);
    const ae = ctx.lookup(type, key);
    if (ae && ae.room_id !== event.room_id) {
      return deny('auth_events.room_id', `auth event ${ae.event_id} belongs to another room`);
    }
  }
  if (rules.roomIdFromCreateEvent) return ALLOW;
  const create = ctx.lookup('m.room.create', '');
  if (create && create.room_id !== event.room_id) {
    return deny('auth_events.room_id', `auth event ${create.event_id} belongs to another room`);
  }
  return ALLOW;
}

/**
 * (rule 3 / 3 / 4) If m.room.create has `m.federate` set to false and the sender's domain differs
 * from the create event sender's domain, reject.
 */
export function checkFederate(ctx: AuthContext): AuthResult {
  const create = ctx.create;
  if (create && create.content['m.federate'] === false && domainOf(ctx.event.sender) !== domainOf(create.sender)) {
    return deny('federate', 'the room does not federate and the sender is from another server');
  }
  return ALLOW;
}

/**
 * (v1-5 rule 4) m.room.aliases: 4.1 no state_key, reject; 4.2 sender's domain does not match
 * state_key, reject; 4.3 otherwise allow.
 */
export function checkAliases(ctx: AuthContext): AuthResult {
  const { event } = ctx;
  if (typeof event.state_key !== 'string') return deny('aliases.state_key', 'm.room.aliases has no state_key');
  if (domainOf(event.sender) !== event.state_key) {
    return deny('aliases.sender_domain', "the sender's domain does not match the state_key");
  }
  return ALLOW;
}

/** (rule 6 / 5 / 6) If the sender's current membership state is not join, reject. */
export function checkSenderJoined(ctx: AuthContext): AuthResult {
  if (ctx.membership(ctx.event.sender) !== 'join') {
    return deny('sender.not_joined', 'the sender is not joined to the room');
  }
  return ALLOW;
}

/** (rule 7 / 6 / 7) m.room.third_party_invite: allow iff the sender's power level >= the invite level. */
export function checkThirdPartyInviteEvent(ctx: AuthContext): AuthResult {
  if (ctx.senderLevel >= ctx.powerLevels.level('invite')) return ALLOW;
  return deny('third_party_invite.power', "the sender's power level is below the invite level");
}

/** (rule 8 / 7 / 8) If the event type's required power level is greater than the sender's power level, reject. */
export function checkRequiredPowerLevel(ctx: AuthContext): AuthResult {
  const { event } = ctx;
  const required = ctx.powerLevels.requiredLevel(event.type, typeof event.state_key === 'string');
  if (required > ctx.senderLevel) {
    return deny('power.required_level', `sending ${event.type} needs power level ${required}`);
  }
  return ALLOW;
}

/** (rule 9 / 8 / 9) If the state_key starts with `@` and does not match the sender, reject. */
export function checkUserStateKey(ctx: AuthContext): AuthResult {
  const key = ctx.event.state_key;
  if (typeof key === 'string' && key.startsWith('@') && key !== ctx.event.sender) {
    return deny('state_key.user_id', 'a state_key that is a user id must be the sender');
  }
  return ALLOW;
}

/**
 * (v1-2 rule 11) m.room.redaction: 11.1 allow if the sender's power level >= the redact level;
 * 11.2 allow if the redacted event id has the domain of the redaction's event id; 11.3 reject.
 */
export function checkRedactionV1(ctx: AuthContext): AuthResult {
  const { event } = ctx;
  if (ctx.senderLevel >= ctx.powerLevels.level('redact')) return ALLOW;
  const target = event.redacts;
  if (typeof target === 'string' && domainOf(target) !== undefined && domainOf(target) === domainOf(event.event_id)) {
    return ALLOW;
  }
  return deny('redaction.domain', 'the sender may not redact events from another server');
}
