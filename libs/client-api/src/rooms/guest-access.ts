/**
 * Guests leave a room that stops letting them in (client-server API, "Guest Access", server
 * behaviour: when `m.room.guest_access` stops being `can_join`, the server sets its guests'
 * membership to `leave`). Read from the room write model, so a change just made is seen.
 */
import { UserService } from '@hs/accounts';
import { GetRoomMembersForAdmin, GetStateEvent, LeaveRoom } from '@hs/room';
import { Injectable, Logger } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';

@Injectable()
export class GuestAccessRevocation {
  private readonly logger = new Logger(GuestAccessRevocation.name);

  constructor(
    private readonly users: UserService,
    private readonly commandBus: CommandBus,
    private readonly queryBus: QueryBus,
  ) {}

  /**
   * When the room's current `m.room.guest_access` does not let guests join, every guest of this
   * server joined to it leaves (each leave its own event, sent as the guest). A leave that
   * fails is logged; the others go on.
   */
  async enforce(roomId: string): Promise<void> {
    const guestAccess = await this.queryBus.execute(new GetStateEvent(roomId, 'm.room.guest_access')).catch(() => undefined);
    if (guestAccess?.content.guest_access === 'can_join') return;
    const members = await this.queryBus.execute(new GetRoomMembersForAdmin(roomId)).catch(() => [] as string[]);
    for (const guest of await this.users.guestsAmong(members)) {
      await this.commandBus.execute(new LeaveRoom(guest, roomId, 'Guest access has been turned off in this room')).catch((error: unknown) => {
        this.logger.warn(`guest ${guest} could not be made to leave ${roomId}: ${error instanceof Error ? error.message : String(error)}`);
      });
    }
  }
}
