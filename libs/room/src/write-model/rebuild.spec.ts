import { sql } from 'slonik';
import { z } from 'zod';
import { ALICE, BOB, CAROL, createJoinedRoom, dumpWriteModel as dump, useRoomTestBed, SERVER_NAME } from '../../test/harness';
import { BanFromRoom } from '../commands/ban-from-room/command';
import { CreateRoom } from '../commands/create-room/command';
import { ForgetRoom } from '../commands/forget-room/command';
import { JoinRoom } from '../commands/join-room/command';
import { LeaveRoom } from '../commands/leave-room/command';
import { RedactEvent } from '../commands/redact-event/command';
import { SendRoomEvent } from '../commands/send-room-event/command';
import { SetRoomAlias } from '../commands/set-room-alias/command';
import { UpgradeRoom } from '../commands/upgrade-room/command';
import { GetRoomState } from '../queries/queries';
import { rebuildWriteModel } from './rebuild';
import { MAX_STATE_GROUP_CHAIN } from './sql';

describe('the write model', () => {
  const bed = useRoomTestBed();
  let busy: string;
  const stateNames: { eventId: string; name: string }[] = [];

  beforeAll(async () => {
    busy = await createJoinedRoom(bed, ALICE, [BOB, CAROL], { room_alias_name: 'busy', visibility: 'public' });
    // More state changes than one state group chain holds, with messages between them.
    for (let i = 0; i < MAX_STATE_GROUP_CHAIN + 10; i++) {
      const { eventId } = await bed.run(new SendRoomEvent(ALICE, busy, 'm.room.name', { name: `name ${i}` }, { stateKey: '' }));
      stateNames.push({ eventId, name: `name ${i}` });
      await bed.run(new SendRoomEvent(BOB, busy, 'm.room.message', { body: `after ${i}` }, { txn: { deviceId: 'B', txnId: `t${i}` } }));
    }
    const { eventId: spam } = await bed.run(new SendRoomEvent(CAROL, busy, 'm.room.message', { body: 'spam' }));
    await bed.run(new RedactEvent(ALICE, busy, spam));
    await bed.run(new BanFromRoom(ALICE, busy, CAROL));
    await bed.run(new LeaveRoom(BOB, busy));
    await bed.run(new ForgetRoom(BOB, busy));
    const v1 = await bed.run(new CreateRoom(BOB, { room_version: '1', invite: [ALICE] }));
    await bed.run(new JoinRoom(ALICE, v1.roomId));
    await bed.run(new SetRoomAlias(BOB, `#old:${SERVER_NAME}`, v1.roomId));
    await bed.run(new UpgradeRoom(BOB, v1.roomId, '12'));
  });

  it('keeps the state after every event, deduplicated into state groups', async () => {
    const groups = await bed.db.pool.oneFirst(
      sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM room.state_groups WHERE room_id = ${busy}`,
    );
    const events = await bed.db.pool.oneFirst(sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM room.events WHERE room_id = ${busy}`);
    const stateEvents = await bed.db.pool.oneFirst(
      sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM room.events WHERE room_id = ${busy} AND state_key IS NOT NULL`,
    );
    // Messages share the group of the state before them: one group per state event.
    expect(groups).toBe(stateEvents);
    expect(events).toBeGreaterThan(stateEvents);
    for (const { eventId, name } of [stateNames[0], stateNames[MAX_STATE_GROUP_CHAIN - 1], stateNames[stateNames.length - 1]]) {
      const state = await bed.ask(new GetRoomState(busy, eventId));
      expect(state.find((e) => e.type === 'm.room.name')?.content).toEqual({ name });
      expect(state.filter((e) => e.type === 'm.room.member').map((e) => e.state_key)).toEqual([ALICE, BOB, CAROL]);
    }
    const current = await bed.ask(new GetRoomState(busy));
    expect(current.find((e) => e.type === 'm.room.member' && e.state_key === CAROL)?.content.membership).toBe('ban');
  });

  it('is rebuilt from the room streams into identical tables', async () => {
    const before = await dump(bed);
    expect(before.events.length).toBeGreaterThan(2 * (MAX_STATE_GROUP_CHAIN + 10));
    expect(before.client_transactions.length).toBe(MAX_STATE_GROUP_CHAIN + 10);
    expect(before.forgotten.length).toBe(1);
    expect(before.aliases.length).toBe(2);
    const { records } = await rebuildWriteModel(bed.db.pool, bed.store);
    expect(records).toBeGreaterThanOrEqual(before.events.length);
    bed.writer.clearCache();
    expect(await dump(bed)).toEqual(before);
    // The rebuilt model serves commands.
    await bed.run(new SendRoomEvent(ALICE, busy, 'm.room.message', { body: 'after rebuild' }));
  });
});
