/**
 * POST /createRoom: the events of a new room in the order the client-server API gives
 * (create, creator's join, power levels, canonical alias, preset events, initial_state,
 * name and topic, invites).
 */
import {
  isKnownRoomVersion,
  parseRoomAlias,
  initialPowerLevelsContent,
  roomVersion,
  type JsonObject,
  type RoomVersionRules,
} from '@hs/protocol';
import { RoomCommandError, badJson, invalidParam } from '../../errors';
import type { EventTemplate } from '../../room-writer';
import { isJsonObject, optionalString, requireObject, requireUserId } from '../../validation';
import { memberEvent, profileContent } from '../membership';
import type { CreateRoomRequest, MemberProfile } from './command';

export type Preset = 'private_chat' | 'trusted_private_chat' | 'public_chat';

const PRESETS: Readonly<Record<Preset, { join_rule: string; history_visibility: string; guest_access: string }>> = {
  private_chat: { join_rule: 'invite', history_visibility: 'shared', guest_access: 'can_join' },
  trusted_private_chat: { join_rule: 'invite', history_visibility: 'shared', guest_access: 'can_join' },
  public_chat: { join_rule: 'public', history_visibility: 'shared', guest_access: 'forbidden' },
};

export interface CreateRoomDecision {
  rules: RoomVersionRules;
  /** Content of m.room.create besides what the event builder sets (creator, room_version). */
  createContent: JsonObject;
  /** Every event after m.room.create, in order. */
  events: EventTemplate[];
  /** The full alias to point at the room, when room_alias_name was given. */
  alias: string | undefined;
  visibility: 'public' | 'private';
}

export interface CreateRoomContext {
  serverName: string;
  defaultRoomVersion: string;
}

interface InitialStateEvent {
  type: string;
  stateKey: string;
  content: JsonObject;
}

export function decideCreateRoom(
  creator: string,
  request: CreateRoomRequest,
  profile: MemberProfile | undefined,
  context: CreateRoomContext,
): CreateRoomDecision {
  if (!isJsonObject(request)) throw badJson('the request body must be a JSON object');
  const rules = chooseRoomVersion(request.room_version, context.defaultRoomVersion);
  const visibility = parseVisibility(request.visibility);
  const preset = parsePreset(request.preset, visibility);
  // The creator is joined already; inviting them too would be refused.
  const invites = parseInvites(request.invite).filter((user) => user !== creator);
  const isDirect = request.is_direct === undefined ? false : request.is_direct;
  if (typeof isDirect !== 'boolean') throw badJson('is_direct must be a boolean');
  const name = optionalString(request.name, 'name');
  const topic = optionalString(request.topic, 'topic');
  const alias = parseAliasName(request.room_alias_name, context.serverName);
  let initialState = parseInitialState(request.initial_state);

  const createContent: JsonObject = { ...(request.creation_content === undefined ? {} : requireObject(request.creation_content, 'creation_content')) };
  if (preset === 'trusted_private_chat' && rules.privilegedCreators) {
    const listed = Array.isArray(createContent.additional_creators) ? createContent.additional_creators : [];
    createContent.additional_creators = [...new Set([...listed.filter((u): u is string => typeof u === 'string'), ...invites])].filter(
      (u) => u !== creator,
    );
  }

  const events: EventTemplate[] = [memberEvent(creator, creator, 'join', { content: profileContent(profile) })];

  // 3. Power levels: the default (or an m.room.power_levels of initial_state), then the override.
  const statePowerLevels = initialState.find((e) => e.type === 'm.room.power_levels' && e.stateKey === '');
  initialState = initialState.filter((e) => e !== statePowerLevels);
  let powerLevels: JsonObject = statePowerLevels?.content ?? initialPowerLevelsContent(rules, creator);
  if (preset === 'trusted_private_chat' && !rules.privilegedCreators) {
    const users = isJsonObject(powerLevels.users) ? { ...powerLevels.users } : {};
    for (const invitee of invites) users[invitee] = users[creator] ?? 100;
    powerLevels = { ...powerLevels, users };
  }
  if (request.power_level_content_override !== undefined) {
    powerLevels = { ...powerLevels, ...requireObject(request.power_level_content_override, 'power_level_content_override') };
  }
  events.push({ sender: creator, type: 'm.room.power_levels', stateKey: '', content: powerLevels });

  // 4. Canonical alias.
  if (alias !== undefined) events.push({ sender: creator, type: 'm.room.canonical_alias', stateKey: '', content: { alias } });

  // 5. Preset events, unless initial_state sets the same state.
  const inInitialState = (type: string): boolean => initialState.some((e) => e.type === type && e.stateKey === '');
  // Guest access `forbidden` is what a room without m.room.guest_access has: a preset that
  // forbids guests (public_chat) sends no event for it, as Synapse and Dendrite do.
  const presetState: [string, JsonObject][] = [
    ['m.room.join_rules', { join_rule: PRESETS[preset].join_rule }],
    ['m.room.history_visibility', { history_visibility: PRESETS[preset].history_visibility }],
    ...(PRESETS[preset].guest_access === 'forbidden' ? [] : [['m.room.guest_access', { guest_access: PRESETS[preset].guest_access }] as [string, JsonObject]]),
  ];
  for (const [type, content] of presetState) {
    if (!inInitialState(type)) events.push({ sender: creator, type, stateKey: '', content });
  }

  // 6. initial_state, in order; name and topic below take precedence over theirs.
  for (const e of initialState) {
    if ((e.type === 'm.room.name' && name !== undefined) || (e.type === 'm.room.topic' && topic !== undefined)) {
      if (e.stateKey === '') continue;
    }
    events.push({ sender: creator, type: e.type, stateKey: e.stateKey, content: e.content });
  }

  // 7. Name and topic.
  if (name !== undefined) events.push({ sender: creator, type: 'm.room.name', stateKey: '', content: { name } });
  if (topic !== undefined) {
    events.push({
      sender: creator,
      type: 'm.room.topic',
      stateKey: '',
      content: { topic, 'm.topic': { 'm.text': [{ body: topic, mimetype: 'text/plain' }] } },
    });
  }

  // 8. Invites.
  for (const invitee of invites) {
    events.push(memberEvent(creator, invitee, 'invite', { content: isDirect ? { is_direct: true } : {} }));
  }
  return { rules, createContent, events, alias, visibility };
}

function chooseRoomVersion(value: unknown, fallback: string): RoomVersionRules {
  if (value === undefined) return roomVersion(fallback);
  if (typeof value !== 'string') throw badJson('room_version must be a string');
  if (!isKnownRoomVersion(value)) {
    throw new RoomCommandError('M_UNSUPPORTED_ROOM_VERSION', `this server does not support room version ${value}`);
  }
  return roomVersion(value);
}

function parseVisibility(value: unknown): 'public' | 'private' {
  if (value === undefined) return 'private';
  if (value !== 'public' && value !== 'private') throw badJson('visibility must be "public" or "private"');
  return value;
}

function parsePreset(value: unknown, visibility: 'public' | 'private'): Preset {
  if (value === undefined) return visibility === 'public' ? 'public_chat' : 'private_chat';
  if (typeof value !== 'string' || !(value in PRESETS)) throw badJson('preset must be private_chat, trusted_private_chat or public_chat');
  return value as Preset;
}

function parseInvites(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw badJson('invite must be an array of user ids');
  return [...new Set(value.map((u) => requireUserId(u, 'invite')))];
}

function parseAliasName(value: unknown, serverName: string): string | undefined {
  const localpart = optionalString(value, 'room_alias_name');
  if (localpart === undefined) return undefined;
  const alias = `#${localpart}:${serverName}`;
  if (localpart.length === 0 || localpart.includes(':') || /\s/.test(localpart)) throw invalidParam('room_alias_name is not a valid alias localpart');
  try {
    parseRoomAlias(alias);
  } catch {
    throw invalidParam('room_alias_name is not a valid alias localpart');
  }
  return alias;
}

function parseInitialState(value: unknown): InitialStateEvent[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw badJson('initial_state must be an array');
  return value.map((item, i) => {
    if (!isJsonObject(item)) throw badJson(`initial_state[${i}] must be an object`);
    if (typeof item.type !== 'string' || item.type.length === 0) throw badJson(`initial_state[${i}].type must be a string`);
    const stateKey = item.state_key === undefined ? '' : item.state_key;
    if (typeof stateKey !== 'string') throw badJson(`initial_state[${i}].state_key must be a string`);
    const content = requireObject(item.content, `initial_state[${i}].content`);
    if (item.type === 'm.room.create' || item.type === 'm.room.member') {
      throw badJson(`initial_state[${i}] may not set ${item.type}`);
    }
    return { type: item.type, stateKey, content };
  });
}

