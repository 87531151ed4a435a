import { ALICE, BOB, CAROL, DAVE, useRoomTestBed, refusal, SERVER_NAME } from '../../../test/harness';
import { GetRoomDirectoryVisibility, GetRoomState, GetRoomVersion, GetStateEvent, ResolveRoomAlias } from '../../queries/queries';
import { BanFromRoom } from '../ban-from-room/command';
import { CreateRoom } from '../create-room/command';
import { JoinRoom } from '../join-room/command';
import { SendRoomEvent } from '../send-room-event/command';
import { SetRoomAlias } from '../set-room-alias/command';
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
    // The old room had no m.room.guest_access (forbidden); the replacement states it.
    expect(byType.get('m.room.guest_access|')).toEqual({ guest_access: 'forbidden' });
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

  it('moves the room directory listing to the replacement room, and leaves an unlisted room unlisted', async () => {
    const listed = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat', visibility: 'public' }));
    const upgraded = await bed.run(new UpgradeRoom(ALICE, listed.roomId, '11'));
    expect(await bed.ask(new GetRoomDirectoryVisibility(upgraded.replacementRoomId))).toBe('public');
    expect(await bed.ask(new GetRoomDirectoryVisibility(listed.roomId))).toBe('private');

    const unlisted = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    const replaced = await bed.run(new UpgradeRoom(ALICE, unlisted.roomId, '12'));
    expect(await bed.ask(new GetRoomDirectoryVisibility(replaced.replacementRoomId))).toBe('private');
  });

  it('copies the bans, with their reason, to the replacement room', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat', room_version: '10' }));
    await bed.run(new BanFromRoom(ALICE, roomId, '@bob:matrix.org'));
    await bed.run(new BanFromRoom(ALICE, roomId, DAVE, 'spam'));
    // Carol is banned, then given the sender's own level: a ban the sender could not issue in
    // the new room is left out rather than failing the upgrade.
    await bed.run(new BanFromRoom(ALICE, roomId, CAROL));
    const levels = (await bed.ask(new GetStateEvent(roomId, 'm.room.power_levels'))).content;
    await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.power_levels', { ...levels, users: { [ALICE]: 100, [CAROL]: 100 } }, { stateKey: '' }));

    const { replacementRoomId } = await bed.run(new UpgradeRoom(ALICE, roomId, '11'));
    const state = await bed.ask(new GetRoomState(replacementRoomId));
    const members = new Map(state.filter((e) => e.type === 'm.room.member').map((e) => [e.state_key, e.content]));
    expect(members.get('@bob:matrix.org')).toEqual({ membership: 'ban' });
    expect(members.get(DAVE)).toEqual({ membership: 'ban', reason: 'spam' });
    expect(members.has(CAROL)).toBe(false);
  });

  it('raises the sender for the bans when the ban level is above the levels of the copied state', async () => {
    const { roomId } = await bed.run(
      new CreateRoom(ALICE, { preset: 'public_chat', power_level_content_override: { users: { [ALICE]: 100, [BOB]: 60 }, ban: 80, events: { 'm.room.tombstone': 60 } } }),
    );
    await bed.run(new JoinRoom(BOB, roomId));
    await bed.run(new BanFromRoom(ALICE, roomId, DAVE));
    const { replacementRoomId } = await bed.run(new UpgradeRoom(BOB, roomId, '11'));
    expect((await bed.ask(new GetStateEvent(replacementRoomId, 'm.room.member', DAVE))).content).toEqual({ membership: 'ban' });
    expect((await bed.ask(new GetStateEvent(replacementRoomId, 'm.room.power_levels'))).content.users).toEqual({ [ALICE]: 100, [BOB]: 60 });
  });

  it('empties the old room\'s canonical alias and gives its content to the replacement room', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat', room_alias_name: 'canon-main' }));
    const alt = `#canon-alt:${SERVER_NAME}`;
    await bed.run(new SetRoomAlias(ALICE, alt, roomId));
    const content = { alias: `#canon-main:${SERVER_NAME}`, alt_aliases: [alt] };
    await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.canonical_alias', content, { stateKey: '' }));
    const { replacementRoomId } = await bed.run(new UpgradeRoom(ALICE, roomId, '11'));
    expect((await bed.ask(new GetStateEvent(roomId, 'm.room.canonical_alias'))).content).toEqual({});
    expect((await bed.ask(new GetStateEvent(replacementRoomId, 'm.room.canonical_alias'))).content).toEqual(content);
    expect((await bed.ask(new ResolveRoomAlias(alt))).roomId).toBe(replacementRoomId);

    // A sender who may tombstone but not change the canonical alias still upgrades the room.
    const guarded = await bed.run(
      new CreateRoom(ALICE, {
        preset: 'public_chat',
        room_alias_name: 'canon-guarded',
        power_level_content_override: { users: { [ALICE]: 100, [BOB]: 60 }, events: { 'm.room.tombstone': 60, 'm.room.canonical_alias': 100 } },
      }),
    );
    await bed.run(new JoinRoom(BOB, guarded.roomId));
    const bobs = await bed.run(new UpgradeRoom(BOB, guarded.roomId, '11'));
    expect((await bed.ask(new GetStateEvent(guarded.roomId, 'm.room.canonical_alias'))).content).toEqual({ alias: `#canon-guarded:${SERVER_NAME}` });
    expect((await bed.ask(new GetStateEvent(bobs.replacementRoomId, 'm.room.canonical_alias'))).content).toEqual({ alias: `#canon-guarded:${SERVER_NAME}` });
  });

  it('names the local users joined to the old room', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    await bed.run(new JoinRoom(BOB, roomId));
    await bed.run(new BanFromRoom(ALICE, roomId, CAROL));
    const { localMembers } = await bed.run(new UpgradeRoom(ALICE, roomId, '11'));
    expect(localMembers).toEqual([ALICE, BOB]);
  });

  it('refuses users without the tombstone level, unknown versions and rooms, appending nothing', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    await bed.run(new JoinRoom(BOB, roomId));
    const head = await bed.store.committedHead();
    await refusal(bed.run(new UpgradeRoom(BOB, roomId, '11')), 'M_FORBIDDEN');
    await refusal(bed.run(new UpgradeRoom(ALICE, roomId, '99')), 'M_UNSUPPORTED_ROOM_VERSION');
    await refusal(bed.run(new UpgradeRoom(ALICE, roomId, 11)), 'M_BAD_JSON');
    await refusal(bed.run(new UpgradeRoom(ALICE, `!unknown:${SERVER_NAME}`, '11')), 'M_NOT_FOUND');
    expect(await bed.store.committedHead()).toBe(head);
  });
});
