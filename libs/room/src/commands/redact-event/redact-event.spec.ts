import { ALICE, BOB, CAROL, createJoinedRoom, useRoomTestBed, refusal } from '../../../test/harness';
import { CreateRoom } from '../create-room/command';
import { SendRoomEvent } from '../send-room-event/command';
import { RedactEvent } from './command';

describe('RedactEvent', () => {
  const bed = useRoomTestBed();
  let roomId: string;
  beforeAll(async () => {
    roomId = await createJoinedRoom(bed, ALICE, [BOB, CAROL]);
  });

  const send = (user: string, body: string) => bed.run(new SendRoomEvent(user, roomId, 'm.room.message', { body }));

  it('lets a user redact their own event (v11: redacts in content)', async () => {
    const { eventId: target } = await send(BOB, 'oops');
    const { eventId } = await bed.run(new RedactEvent(BOB, roomId, target, 'typo', { deviceId: 'D', txnId: 'r1' }));
    const redaction = (await bed.writer.reader.event(eventId))!.event;
    expect(redaction.type).toBe('m.room.redaction');
    expect(redaction.redacts).toBe(target);
    expect(redaction.content).toEqual({ redacts: target, reason: 'typo' });
    // A retried transaction gives the same redaction.
    const count = (await bed.stream(roomId)).length;
    expect((await bed.run(new RedactEvent(BOB, roomId, target, 'typo', { deviceId: 'D', txnId: 'r1' }))).eventId).toBe(eventId);
    expect(await bed.stream(roomId)).toHaveLength(count);
  });

  it("refuses to redact someone else's event without the redact level; a moderator may", async () => {
    const { eventId: target } = await send(CAROL, 'spam');
    const count = (await bed.stream(roomId)).length;
    await refusal(bed.run(new RedactEvent(BOB, roomId, target)), 'M_FORBIDDEN');
    expect(await bed.stream(roomId)).toHaveLength(count);
    const { eventId } = await bed.run(new RedactEvent(ALICE, roomId, target, 'spam'));
    expect((await bed.writer.reader.event(eventId))!.event.redacts).toBe(target);
  });

  it('applies the same checks to m.room.redaction sent through /send', async () => {
    const { eventId: target } = await send(CAROL, 'again');
    await refusal(bed.run(new SendRoomEvent(BOB, roomId, 'm.room.redaction', { redacts: target })), 'M_FORBIDDEN');
    const { eventId } = await bed.run(new SendRoomEvent(CAROL, roomId, 'm.room.redaction', { redacts: target }));
    expect((await bed.writer.reader.event(eventId))!.event.redacts).toBe(target);
  });

  it('does not find unknown events; refuses events of other rooms as a bad parameter', async () => {
    await refusal(bed.run(new RedactEvent(ALICE, roomId, '$missing')), 'M_NOT_FOUND');
    const other = await bed.run(new CreateRoom(ALICE, {}));
    const { eventId: elsewhere } = await bed.run(new SendRoomEvent(ALICE, other.roomId, 'm.room.message', { body: 'x' }));
    await refusal(bed.run(new RedactEvent(ALICE, roomId, elsewhere)), 'M_INVALID_PARAM');
  });

  it('uses the top-level redacts of room versions before 11', async () => {
    const { roomId: v10 } = await bed.run(new CreateRoom(ALICE, { room_version: '10' }));
    const { eventId: target } = await bed.run(new SendRoomEvent(ALICE, v10, 'm.room.message', { body: 'x' }));
    const { eventId } = await bed.run(new RedactEvent(ALICE, v10, target));
    const stored = (await bed.writer.reader.event(eventId))!;
    expect(stored.pdu.redacts).toBe(target);
    expect(stored.pdu.content).toEqual({});
  });
});
