/**
 * Room upgrades (client-server API, "Room Upgrades", server behaviour): the sender must be able
 * to send m.room.tombstone; the replacement room names its predecessor, gets the transferable
 * state, the power levels and the bans; the old room gets the tombstone, an emptied
 * m.room.canonical_alias and power levels that stop ordinary users from sending and inviting.
 */
import {
  isKnownRoomVersion,
  parsePowerLevelsContent,
  roomVersion,
  V12_TOMBSTONE_LEVEL,
  initialPowerLevelsContent,
  type JsonObject,
  type RoomVersionRules,
} from '@hs/protocol';
import { RoomCommandError, badJson, forbidden } from '../../errors';
import type { EventTemplate, RoomPlan } from '../../room-writer';
import type { RoomState } from '../../room-state';
import { isJsonObject } from '../../validation';
import { memberEvent, profileContent } from '../membership';
import type { UpgradeRoom } from './command';

/** The state the replacement room gets (besides power levels, which are adjusted). */
export const TRANSFERABLE_STATE_TYPES = [
  'm.room.server_acl',
  'm.room.encryption',
  'm.room.name',
  'm.room.avatar',
  'm.room.topic',
  'm.room.guest_access',
  'm.room.history_visibility',
  'm.room.join_rules',
  'm.room.canonical_alias',
];

/**
 * The state the replacement room gets from the old one, by type. Guest access is always
 * stated: a room without m.room.guest_access forbids guests, and the replacement says so
 * explicitly rather than leaving it to its own defaults.
 */
function transferredState(old: RoomState): [string, JsonObject][] {
  const out: [string, JsonObject][] = [];
  for (const type of TRANSFERABLE_STATE_TYPES) {
    const content = old.content(type) ?? (type === 'm.room.guest_access' ? { guest_access: 'forbidden' } : undefined);
    if (content !== undefined) out.push([type, content]);
  }
  return out;
}

export interface ReplacementRoom {
  rules: RoomVersionRules;
  /** The m.room.create content without `predecessor` (see {@link withPredecessor}). */
  createContent: JsonObject;
  events: EventTemplate[];
}

/**
 * The replacement room's m.room.create content naming its predecessor: the old room and the
 * id of the tombstone sent there. From room version 12 on, the new room's id is the hash of
 * this very event and the tombstone names that id, so the tombstone cannot exist yet: its
 * `event_id` is left out, as the spec allows when upgrading to version 12 or later ("Room
 * Upgrades", server behaviour; the m.room.create schema).
 */
export function withPredecessor(createContent: JsonObject, oldRoomId: string, tombstoneEventId: string | undefined): JsonObject {
  const predecessor: JsonObject = { room_id: oldRoomId };
  if (tombstoneEventId !== undefined) predecessor.event_id = tombstoneEventId;
  return { ...createContent, predecessor };
}

export function decideReplacementRoom(old: RoomState, command: UpgradeRoom): ReplacementRoom {
  if (typeof command.newVersion !== 'string') throw badJson('new_version must be a string');
  if (!isKnownRoomVersion(command.newVersion)) {
    throw new RoomCommandError('M_UNSUPPORTED_ROOM_VERSION', `this server does not support room version ${command.newVersion}`);
  }
  checkMayTombstone(old, command.sender);
  const rules = roomVersion(command.newVersion);
  const oldCreate = old.content('m.room.create') ?? {};
  const createContent: JsonObject = {};
  if (typeof oldCreate.type === 'string') createContent.type = oldCreate.type;
  if (oldCreate['m.federate'] === false) createContent['m.federate'] = false;

  const sender = command.sender;
  const oldMember = old.content('m.room.member', sender);
  const events: EventTemplate[] = [memberEvent(sender, sender, 'join', { content: profileContent(memberProfile(oldMember)) })];

  const finalLevels = replacementPowerLevels(old, rules, sender);
  const banned = old.members('ban');
  const needed = neededLevel(finalLevels, old, banned.length > 0);
  const users = isJsonObject(finalLevels.users) ? finalLevels.users : {};
  const senderLevel = rules.privilegedCreators ? Number.POSITIVE_INFINITY : typeof users[sender] === 'number' ? users[sender] : 0;
  const raise = senderLevel < needed;
  events.push({
    sender,
    type: 'm.room.power_levels',
    stateKey: '',
    content: raise ? { ...finalLevels, users: { ...users, [sender]: needed } } : finalLevels,
  });
  for (const [type, content] of transferredState(old)) events.push({ sender, type, stateKey: '', content });
  events.push(...bans(old, banned, sender, Math.max(senderLevel, needed), finalLevels, rules));
  if (raise) events.push({ sender, type: 'm.room.power_levels', stateKey: '', content: finalLevels });
  return { rules, createContent, events };
}

/**
 * The old room's bans, copied to the replacement room with their reason. A ban the sender could
 * not issue there (the banned user's level in the new room is not below the sender's) is left
 * out rather than failing the upgrade.
 */
function bans(old: RoomState, banned: string[], sender: string, senderLevel: number, levels: JsonObject, rules: RoomVersionRules): EventTemplate[] {
  const parsed = parsePowerLevelsContent(levels, rules);
  const usersDefault = parsed.named.get('users_default') ?? 0;
  return banned
    .filter((user) => (parsed.users.get(user) ?? usersDefault) < senderLevel)
    .map((user) => {
      const reason = old.content('m.room.member', user)?.reason;
      return memberEvent(sender, user, 'ban', typeof reason === 'string' ? { reason } : {});
    });
}

/**
 * The tombstone in the old room, then, where the sender may send them: an empty
 * m.room.canonical_alias (the aliases now belong to the replacement room) and power levels that
 * stop sending and inviting.
 */
export function decideTombstone(old: RoomState, command: UpgradeRoom, replacementRoomId: string): RoomPlan {
  checkMayTombstone(old, command.sender);
  const events: EventTemplate[] = [
    {
      sender: command.sender,
      type: 'm.room.tombstone',
      stateKey: '',
      content: { body: 'This room has been replaced', replacement_room: replacementRoomId },
    },
  ];
  const powerLevels = old.powerLevels();
  const canonicalAlias = old.content('m.room.canonical_alias');
  if (
    canonicalAlias !== undefined &&
    Object.keys(canonicalAlias).length > 0 &&
    powerLevels.userLevel(command.sender) >= powerLevels.requiredLevel('m.room.canonical_alias', true)
  ) {
    events.push({ sender: command.sender, type: 'm.room.canonical_alias', stateKey: '', content: {} });
  }
  const current = old.content('m.room.power_levels');
  if (current) {
    const restricted = Math.max(50, powerLevels.level('users_default') + 1);
    const senderLevel = powerLevels.userLevel(command.sender);
    const canChange =
      senderLevel >= powerLevels.requiredLevel('m.room.power_levels', true) &&
      senderLevel >= restricted &&
      senderLevel >= powerLevels.level('events_default') &&
      senderLevel >= powerLevels.level('invite');
    if (canChange) {
      events.push({
        sender: command.sender,
        type: 'm.room.power_levels',
        stateKey: '',
        content: { ...current, events_default: restricted, invite: restricted },
      });
    }
  }
  return { events };
}

function checkMayTombstone(old: RoomState, sender: string): void {
  if (!old.isJoined(sender)) throw forbidden(`${sender} is not in the room`);
  const powerLevels = old.powerLevels();
  const required = powerLevels.requiredLevel('m.room.tombstone', true);
  if (powerLevels.userLevel(sender) < required) throw forbidden(`upgrading the room needs power level ${required}`);
}

function memberProfile(content: JsonObject | undefined): { displayname?: string; avatar_url?: string } {
  const profile: { displayname?: string; avatar_url?: string } = {};
  if (typeof content?.displayname === 'string') profile.displayname = content.displayname;
  if (typeof content?.avatar_url === 'string') profile.avatar_url = content.avatar_url;
  return profile;
}

/**
 * The old power levels adapted to the new version: from 12 on, creators are not listed in
 * `users` and m.room.tombstone is above state_default; below 12, the old room's creators (who
 * had infinite power in a v12 room) get 100.
 */
function replacementPowerLevels(old: RoomState, rules: RoomVersionRules, sender: string): JsonObject {
  const current = old.content('m.room.power_levels');
  if (!current) return initialPowerLevelsContent(rules, sender);
  const users: JsonObject = isJsonObject(current.users) ? { ...current.users } : {};
  const content: JsonObject = { ...current, users };
  if (rules.privilegedCreators) {
    delete users[sender];
    const events: JsonObject = isJsonObject(current.events) ? { ...current.events } : {};
    const stateDefault = typeof current.state_default === 'number' ? current.state_default : 50;
    const tombstone = events['m.room.tombstone'];
    if (typeof tombstone !== 'number' || tombstone <= stateDefault) events['m.room.tombstone'] = Math.max(V12_TOMBSTONE_LEVEL, stateDefault + 1);
    content.events = events;
  } else if (old.rules.privilegedCreators) {
    for (const creator of old.creators()) users[creator] = 100;
  }
  return content;
}

/** The level the sender needs to send the replacement room's state (and its bans, when it has any). */
function neededLevel(levels: JsonObject, old: RoomState, withBans: boolean): number {
  const events = isJsonObject(levels.events) ? levels.events : {};
  const stateDefault = typeof levels.state_default === 'number' ? levels.state_default : 50;
  let needed = withBans ? (typeof levels.ban === 'number' ? levels.ban : 50) : 0;
  for (const type of [...transferredState(old).map(([t]) => t), 'm.room.power_levels']) {
    const level = events[type];
    needed = Math.max(needed, typeof level === 'number' ? level : stateDefault);
  }
  return needed;
}
