import { checkAuthAgainstAuthEvents, roomVersion, type RoomEvent } from '@hs/protocol';
import { ALICE, BOB, CAROL, useRoomTestBed, refusal, SERVER_NAME } from '../../../test/harness';
import { GetRoomState, GetRoomVersion, ResolveRoomAlias } from '../../queries/queries';
import { CreateRoom } from './command';

describe('CreateRoom', () => {
  const bed = useRoomTestBed();

  /** Every event of the room passes the authorization rules against its own auth_events. */
  async function expectAuthPasses(roomId: string): Promise<RoomEvent[]> {
    const facts = await bed.accepted(roomId);
    const version = roomVersion(facts[0].room_version);
    const events = (await bed.ask(new GetRoomState(roomId))).concat();
    const byId = new Map<string, RoomEvent>();
    const timeline: RoomEvent[] = [];
    for (const fact of facts) {
      const stored = (await bed.writer.reader.event(fact.event_id))!.event;
      const auth = stored.auth_events.map((id) => byId.get(id)!);
      const create = [...byId.values()].find((e) => e.type === 'm.room.create');
      expect(checkAuthAgainstAuthEvents(stored, auth, version, create)).toEqual({ allowed: true });
      byId.set(stored.event_id, stored);
      timeline.push(stored);
    }
    expect(events.length).toBeGreaterThan(0);
    return timeline;
  }

  const typesOf = (events: RoomEvent[]) => events.map((e) => (e.state_key ? `${e.type}|${e.state_key}` : e.type));

  it('private_chat (the default): create, join, power levels, then the preset events', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, {}));
    const timeline = await expectAuthPasses(roomId);
    expect(typesOf(timeline)).toEqual([
      'm.room.create',
      `m.room.member|${ALICE}`,
      'm.room.power_levels',
      'm.room.join_rules',
      'm.room.history_visibility',
      'm.room.guest_access',
    ]);
    expect(timeline[3].content).toEqual({ join_rule: 'invite' });
    expect(timeline[4].content).toEqual({ history_visibility: 'shared' });
    expect(timeline[5].content).toEqual({ guest_access: 'can_join' });
    expect(timeline[2].content.users).toEqual({ [ALICE]: 100 });
    expect(await bed.ask(new GetRoomVersion(roomId))).toBe('11');
    // A linear DAG: each event's prev_events is the event before it.
    for (let i = 1; i < timeline.length; i++) expect(timeline[i].prev_events).toEqual([timeline[i - 1].event_id]);
  });

  it('public_chat with every option, in the order the spec gives', async () => {
    const { roomId } = await bed.run(
      new CreateRoom(
        ALICE,
        {
          preset: 'public_chat',
          visibility: 'public',
          room_alias_name: 'pub',
          name: 'The Pub',
          topic: 'Happy hour',
          invite: [BOB, CAROL],
          is_direct: true,
          initial_state: [
            { type: 'm.room.encryption', content: { algorithm: 'm.megolm.v1.aes-sha2' } },
            { type: 'm.room.name', content: { name: 'overridden by name' } },
          ],
          power_level_content_override: { events_default: 10 },
          creation_content: { 'm.federate': false },
        },
        { displayname: 'Alice' },
      ),
    );
    const timeline = await expectAuthPasses(roomId);
    expect(typesOf(timeline)).toEqual([
      'm.room.create',
      `m.room.member|${ALICE}`,
      'm.room.power_levels',
      'm.room.canonical_alias',
      'm.room.join_rules',
      'm.room.history_visibility',
      'm.room.encryption',
      'm.room.name',
      'm.room.topic',
      `m.room.member|${BOB}`,
      `m.room.member|${CAROL}`,
    ]);
    expect(timeline[0].content['m.federate']).toBe(false);
    expect(timeline[1].content).toEqual({ membership: 'join', displayname: 'Alice' });
    expect(timeline[2].content.events_default).toBe(10);
    expect(timeline[3].content).toEqual({ alias: `#pub:${SERVER_NAME}` });
    expect(timeline[4].content).toEqual({ join_rule: 'public' });
    // public_chat forbids guests: no m.room.guest_access, which means forbidden.
    expect(timeline.some((e) => e.type === 'm.room.guest_access')).toBe(false);
    expect(timeline[7].content).toEqual({ name: 'The Pub' });
    expect(timeline[8].content.topic).toBe('Happy hour');
    expect(timeline[9].content).toEqual({ membership: 'invite', is_direct: true });
    expect(await bed.ask(new ResolveRoomAlias(`#pub:${SERVER_NAME}`))).toEqual({ roomId, servers: [SERVER_NAME] });
    expect((await bed.writer.reader.room(roomId))?.published).toBe(true);
    // The invite carries the stripped state for the invitee.
    const facts = await bed.accepted(roomId);
    const inviteState = facts[10].unsigned?.invite_room_state;
    expect(Array.isArray(inviteState) && inviteState.map((e) => (e as { type: string }).type)).toEqual(
      expect.arrayContaining(['m.room.create', 'm.room.join_rules', 'm.room.name', 'm.room.member']),
    );
  });

  it('initial_state takes precedence over the preset', async () => {
    const { roomId } = await bed.run(
      new CreateRoom(ALICE, { preset: 'private_chat', initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'public' } }] }),
    );
    const timeline = await expectAuthPasses(roomId);
    const joinRules = timeline.filter((e) => e.type === 'm.room.join_rules');
    expect(joinRules.map((e) => e.content)).toEqual([{ join_rule: 'public' }]);
  });

  it('trusted_private_chat gives invitees the creator\'s power (v11) or makes them creators (v12)', async () => {
    const v11 = await bed.run(new CreateRoom(ALICE, { preset: 'trusted_private_chat', invite: [BOB] }));
    const pl = (await bed.ask(new GetRoomState(v11.roomId))).find((e) => e.type === 'm.room.power_levels')!;
    expect(pl.content.users).toEqual({ [ALICE]: 100, [BOB]: 100 });

    const v12 = await bed.run(new CreateRoom(ALICE, { preset: 'trusted_private_chat', invite: [BOB], room_version: '12' }));
    const timeline = await expectAuthPasses(v12.roomId);
    expect(timeline[0].content.additional_creators).toEqual([BOB]);
    expect(timeline[2].content.users).toEqual({});
    expect((timeline[2].content.events as Record<string, number>)['m.room.tombstone']).toBe(150);
  });

  it.each(['1', '2', '3', '5', '6', '9', '10', '12'])('creates rooms of version %s', async (version) => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { room_version: version, name: 'v' + version, invite: [BOB] }));
    expect(await bed.ask(new GetRoomVersion(roomId))).toBe(version);
    const timeline = await expectAuthPasses(roomId);
    expect(timeline).toHaveLength(8);
  });

  it('refuses bad requests and appends nothing', async () => {
    const before = await bed.store.committedHead();
    await refusal(bed.run(new CreateRoom(ALICE, { room_version: '999' })), 'M_UNSUPPORTED_ROOM_VERSION');
    await refusal(bed.run(new CreateRoom(ALICE, { preset: 'party' })), 'M_BAD_JSON');
    await refusal(bed.run(new CreateRoom(ALICE, { invite: ['not-a-user'] })), 'M_INVALID_PARAM');
    await refusal(bed.run(new CreateRoom(ALICE, { initial_state: [{ type: 'm.room.create', content: {} }] })), 'M_BAD_JSON');
    await refusal(bed.run(new CreateRoom(ALICE, { power_level_content_override: 'x' })), 'M_BAD_JSON');
    await refusal(bed.run(new CreateRoom(ALICE, { room_alias_name: 'has space' })), 'M_INVALID_PARAM');
    await refusal(bed.run(new CreateRoom('@mallory:elsewhere.example', {})), 'M_INVALID_PARAM');
    // v12: a creator may not be listed in users; the authorization rules refuse the power levels.
    const forbidden = await refusal(
      bed.run(new CreateRoom(ALICE, { room_version: '12', power_level_content_override: { users: { [ALICE]: 100 } } })),
      'M_FORBIDDEN',
    );
    expect(forbidden.httpStatus).toBe(403);
    expect(await bed.store.committedHead()).toBe(before);
  });

  it('refuses an alias already in use with M_ROOM_IN_USE', async () => {
    await bed.run(new CreateRoom(ALICE, { room_alias_name: 'taken' }));
    const before = await bed.store.committedHead();
    await refusal(bed.run(new CreateRoom(BOB, { room_alias_name: 'taken' })), 'M_ROOM_IN_USE');
    expect(await bed.store.committedHead()).toBe(before);
  });
});
