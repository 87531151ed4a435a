/** What a deactivated account gives up in rooms. */
import type { Logger } from '@nestjs/common';
import type { CommandBus, QueryBus } from '@nestjs/cqrs';
import { GetRoomsOfUser, LeaveRoom } from '@hs/room';

/** Memberships a deactivated account gives up: joined rooms are left, invites rejected, knocks withdrawn. */
const MEMBERSHIPS_TO_LEAVE = ['join', 'invite', 'knock'];

/** Leaves every room of a deactivated account; a room that refuses is logged and skipped. */
export async function leaveAllRooms(buses: { commandBus: CommandBus; queryBus: QueryBus }, logger: Logger, userId: string): Promise<void> {
  const rooms = await buses.queryBus.execute(new GetRoomsOfUser(userId, MEMBERSHIPS_TO_LEAVE));
  for (const { roomId } of rooms) {
    try {
      await buses.commandBus.execute(new LeaveRoom(userId, roomId, 'Account deactivated'));
    } catch (error) {
      logger.warn(`could not leave ${roomId} for deactivated ${userId}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
