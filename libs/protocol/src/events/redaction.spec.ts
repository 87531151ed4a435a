import { ROOM_VERSIONS } from '../room-versions';
import { redactedContent, redactEvent } from './redaction';

function ev(type: string, content: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event_id: '$e:a',
    type,
    room_id: '!r:a',
    sender: '@u:a',
    state_key: '',
    content,
    hashes: { sha256: 'h' },
    signatures: { a: { 'ed25519:1': 's' } },
    depth: 4,
    prev_events: [],
    prev_state: [],
    auth_events: [],
    origin: 'a',
    origin_server_ts: 7,
    membership: 'join',
    unsigned: { age: 1 },
    age_ts: 5,
    redacts: '$x',
    custom: true,
    ...extra,
  };
}

const ALL = [...ROOM_VERSIONS.keys()];
const v1to10 = ALL.filter((v) => Number(v) <= 10);
const v11plus = ALL.filter((v) => Number(v) >= 11);

describe('redaction algorithm', () => {
  it.each(v1to10)('room version %s keeps the v1 top-level keys', (v) => {
    const r = redactEvent(ev('m.room.message', { body: 'x' }), v);
    expect(Object.keys(r).sort()).toEqual(
      ['auth_events', 'content', 'depth', 'event_id', 'hashes', 'membership', 'origin', 'origin_server_ts', 'prev_events', 'prev_state', 'room_id', 'sender', 'signatures', 'state_key', 'type'].sort(),
    );
    expect(r.content).toEqual({});
  });

  it.each(v11plus)('room version %s drops origin, membership and prev_state', (v) => {
    const r = redactEvent(ev('m.room.message', { body: 'x' }), v);
    expect(Object.keys(r).sort()).toEqual(
      ['auth_events', 'content', 'depth', 'event_id', 'hashes', 'origin_server_ts', 'prev_events', 'room_id', 'sender', 'signatures', 'state_key', 'type'].sort(),
    );
  });

  it('never keeps unsigned, redacts at top level or unknown keys', () => {
    for (const v of ALL) {
      const r = redactEvent(ev('m.room.redaction', { redacts: '$x', reason: 'r' }), v);
      expect(r).not.toHaveProperty('unsigned');
      expect(r).not.toHaveProperty('redacts');
      expect(r).not.toHaveProperty('custom');
      expect(r).not.toHaveProperty('age_ts');
    }
  });

  const member = { membership: 'join', displayname: 'U', join_authorised_via_users_server: '@x:a', third_party_invite: { display_name: 'D', signed: { mxid: '@u:a', token: 't', signatures: {} } } };
  const joinRules = { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: '!o:a' }], other: 1 };
  const create = { creator: '@u:a', room_version: '5', 'm.federate': false };
  const power = { ban: 50, events: {}, events_default: 0, invite: 0, kick: 50, redact: 50, state_default: 50, users: {}, users_default: 0, notifications: { room: 50 } };
  const powerBase = { ban: 50, events: {}, events_default: 0, kick: 50, redact: 50, state_default: 50, users: {}, users_default: 0 };

  const table: Array<[string, string, Record<string, unknown>, Record<string, unknown>]> = [
    // m.room.aliases: kept in v1-5 only
    ['1', 'm.room.aliases', { aliases: ['#a:a'], x: 1 }, { aliases: ['#a:a'] }],
    ['5', 'm.room.aliases', { aliases: ['#a:a'] }, { aliases: ['#a:a'] }],
    ['6', 'm.room.aliases', { aliases: ['#a:a'] }, {}],
    ['11', 'm.room.aliases', { aliases: ['#a:a'] }, {}],
    // join_rules: allow from v8
    ['7', 'm.room.join_rules', joinRules, { join_rule: 'restricted' }],
    ['8', 'm.room.join_rules', joinRules, { join_rule: 'restricted', allow: joinRules.allow }],
    ['12', 'm.room.join_rules', joinRules, { join_rule: 'restricted', allow: joinRules.allow }],
    // member: join_authorised_via_users_server from v9, third_party_invite.signed from v11
    ['8', 'm.room.member', member, { membership: 'join' }],
    ['9', 'm.room.member', member, { membership: 'join', join_authorised_via_users_server: '@x:a' }],
    ['10', 'm.room.member', member, { membership: 'join', join_authorised_via_users_server: '@x:a' }],
    ['11', 'm.room.member', member, { membership: 'join', join_authorised_via_users_server: '@x:a', third_party_invite: { signed: member.third_party_invite.signed } }],
    ['12', 'm.room.member', { membership: 'invite', third_party_invite: { display_name: 'D' } }, { membership: 'invite' }],
    // create: creator only before v11, everything from v11
    ['10', 'm.room.create', create, { creator: '@u:a' }],
    ['11', 'm.room.create', create, create],
    ['12', 'm.room.create', { room_version: '12', additional_creators: ['@b:b'] }, { room_version: '12', additional_creators: ['@b:b'] }],
    // power levels: invite from v11
    ['10', 'm.room.power_levels', power, powerBase],
    ['11', 'm.room.power_levels', power, { ...powerBase, invite: 0 }],
    // redaction: content.redacts from v11
    ['10', 'm.room.redaction', { redacts: '$x', reason: 'r' }, {}],
    ['11', 'm.room.redaction', { redacts: '$x', reason: 'r' }, { redacts: '$x' }],
    // history visibility in every version
    ['1', 'm.room.history_visibility', { history_visibility: 'shared', x: 1 }, { history_visibility: 'shared' }],
    ['12', 'm.room.history_visibility', { history_visibility: 'shared', x: 1 }, { history_visibility: 'shared' }],
    // anything else loses its content
    ['12', 'm.room.topic', { topic: 't' }, {}],
  ];

  it.each(table)('room version %s, %s content', (v, type, content, expected) => {
    expect(redactEvent(ev(type, content), v).content).toEqual(expected);
    expect(redactedContent(type, content, v)).toEqual(expected);
  });

  it('does not change its input and copes with missing content', () => {
    const input = ev('m.room.member', { membership: 'join', displayname: 'x' });
    const copy = JSON.parse(JSON.stringify(input)) as unknown;
    redactEvent(input, '11');
    expect(input).toEqual(copy);
    expect(redactEvent({ type: 'm.room.message' }, '1')).toEqual({ type: 'm.room.message', content: {} });
  });

  it('does not treat inherited object keys as event types', () => {
    expect(redactEvent({ type: 'constructor', content: { a: 1 } }, '1').content).toEqual({});
  });
});
