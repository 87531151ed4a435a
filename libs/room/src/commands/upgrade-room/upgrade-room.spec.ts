import { ALICE, BOB, useRoomTestBed, refusal, SERVER_NAME } from '../../../test/harness';
import { GetRoomState, GetRoomVersion, GetStateEvent, ResolveRoomAlias } from '../../queries/queries';
import { CreateRoom } from '../create-room/command';
import { JoinRoom } from '../join-room/command';
import { SendRoomEvent } from '../send-room-event/command';
import { UpgradeRoom } from './command';

describe('UpgradeRoom', () => {
  const bed = useRoomTestBed();

  it('creates the replacement room with the transferable state and tombstones the old one', async () => {
    const { roomId } = await bed.run(
      new CreateRoom(
        ALICE,
        {
          preset: 'public_chat',
          room_version: '10',
          room_alias_name: 'upgrade-me',
          name: 'Old name',
          topic: 'Old topic',
          power_level_content_override: { users: { [ALICE]: 100, [BOB]: 50 } },
        },
        { displayname: 'Alice' },
      ),
    );
    await bed.run(new JoinRoom(BOB, roomId));
    const { replacementRoomId } = await bed.run(new UpgradeRoom(ALICE, roomId, '11'));
    expect(replacementRoomId).not.toBe(roomId);
    expect(await bed.ask(new GetRoomVersion(replacementRoomId))).toBe('11');

    const create = await bed.ask(new GetStateEvent(replacementRoomId, 'm.room.create'));
    const tombstoneEvent = (await bed.accepted(roomId)).find((fact) => fact.pdu.type === 'm.room.tombstone');
    expect(create.content.predecessor).toEqual({ room_id: roomId, event_id: tombstoneEvent?.event_id });
    const state = await bed.ask(new GetRoomState(replacementRoomId));
    const byType = new Map(state.map((e) => [`${e.type}|${e.state_key}`, e.content]));
    expect(byType.get('m.room.name|')).toEqual({ name: 'Old name' });
    expect(byType.get('m.room.join_rules|')).toEqual({ join_rule: 'public' });
    expect(byType.get('m.room.canonical_alias|')).toEqual({ alias: `#upgrade-me:${SERVER_NAME}` });
    expect((byType.get('m.room.power_levels|') as { users: unknown }).users).toEqual({ [ALICE]: 100, [BOB]: 50 });
    expect(byType.get(`m.room.member|${ALICE}`)).toEqual({ membership: 'join', displayname: 'Alice' });
    expect(byType.has(`m.room.member|${BOB}`)).toBe(false);

    const tombstone = await bed.ask(new GetStateEvent(roomId, 'm.room.tombstone'));
    expect(tombstone.content.replacement_room).toBe(replacementRoomId);
    const oldLevels = await bed.ask(new GetStateEvent(roomId, 'm.room.power_levels'));
    expect(oldLevels.content.events_default).toBe(50);
    expect(oldLevels.content.invite).toBe(50);
    // Ordinary members can no longer talk in the old room.
    const { eventId } = await bed.run(new SendRoomEvent(BOB, roomId, 'm.room.message', { body: 'mod can' }));
    expect(eventId).toBeDefined();
    await bed.run(new JoinRoom(`@zed:${SERVER_NAME}`, roomId));
    await refusal(bed.run(new SendRoomEvent(`@zed:${SERVER_NAME}`, roomId, 'm.room.message', { body: 'hi' })), 'M_FORBIDDEN');
    // The alias moved.
    expect((await bed.ask(new ResolveRoomAlias(`#upgrade-me:${SERVER_NAME}`))).roomId).toBe(replacementRoomId);
  });

  it('upgrades to version 12: creators leave the users map and the tombstone level rises above state_default', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { room_version: '11' }));
    const { replacementRoomId } = await bed.run(new UpgradeRoom(ALICE, roomId, '12'));
    // The new room's id is its create event's hash, which the tombstone names: no event_id.
    expect((await bed.ask(new GetStateEvent(replacementRoomId, 'm.room.create'))).content.predecessor).toEqual({ room_id: roomId });
    expect((await bed.ask(new GetStateEvent(roomId, 'm.room.tombstone'))).content.replacement_room).toBe(replacementRoomId);
    const levels = await bed.ask(new GetStateEvent(replacementRoomId, 'm.room.power_levels'));
    expect(levels.content.users).toEqual({});
    // Already above state_default (50): kept.
    expect((levels.content.events as Record<string, number>)['m.room.tombstone']).toBe(100);

    const low = await bed.run(new CreateRoom(ALICE, { power_level_content_override: { state_default: 50, events: { 'm.room.tombstone': 50 } } }));
    const upgraded = await bed.run(new UpgradeRoom(ALICE, low.roomId, '12'));
    const raised = await bed.ask(new GetStateEvent(upgraded.replacementRoomId, 'm.room.power_levels'));
    expect((raised.content.events as Record<string, number>)['m.room.tombstone']).toBe(150);
  });

  it('raises the sender temporarily when the old levels would not let them set up the new room', async () => {
    const { roomId } = await bed.run(
      new CreateRoom(ALICE, {
        preset: 'public_chat',
        power_level_content_override: { users: { [ALICE]: 100, [BOB]: 60 }, events: { 'm.room.tombstone': 60, 'm.room.power_levels': 100 } },
      }),
    );
    await bed.run(new JoinRoom(BOB, roomId));
    const { replacementRoomId } = await bed.run(new UpgradeRoom(BOB, roomId, '11'));
    const levels = await bed.ask(new GetStateEvent(replacementRoomId, 'm.room.power_levels'));
    expect(levels.content.users).toEqual({ [ALICE]: 100, [BOB]: 60 });
    expect((await bed.accepted(replacementRoomId)).filter((f) => f.pdu.type === 'm.room.power_levels')).toHaveLength(2);
  });

  it('refuses users without the tombstone level, unknown versions and rooms, appending nothing', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    await bed.run(new JoinRoom(BOB, roomId));
    const head = await bed.store.headPosition();
    await refusal(bed.run(new UpgradeRoom(BOB, roomId, '11')), 'M_FORBIDDEN');
    await refusal(bed.run(new UpgradeRoom(ALICE, roomId, '99')), 'M_UNSUPPORTED_ROOM_VERSION');
    await refusal(bed.run(new UpgradeRoom(ALICE, roomId, 11)), 'M_BAD_JSON');
    await refusal(bed.run(new UpgradeRoom(ALICE, `!unknown:${SERVER_NAME}`, '11')), 'M_NOT_FOUND');
    expect(await bed.store.headPosition()).toBe(head);
  });
});
