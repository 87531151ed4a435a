import { Command } from '@nestjs/cqrs';

/**
 * The room-side part of DELETE /_synapse/admin/v2/rooms/{roomId} (the members have left
 * before): the room's local aliases are deleted, it leaves the published room directory and,
 * with `purge`, the read models forget it.
 */
export class ShutDownRoom extends Command<{ aliases: string[] }> {
  constructor(
    readonly adminUserId: string,
    readonly roomId: string,
    readonly purge: boolean,
  ) {
    super();
  }
}
