/**
 * Which servers share a room with each of some users: their joined rooms from the sync read
 * model (one query for all of them), each room's joined servers from the room write model (one
 * query a room, each room read once). Used for what goes to "the servers sharing a room with
 * the user": presence and device list updates.
 */
import type { JoinedServersReader } from '@hs/room';
import type { SyncQueries } from '@hs/sync';
import type { CommonQueryMethods } from 'slonik';

export async function serversSharingRooms(
  rooms: SyncQueries,
  servers: JoinedServersReader,
  db: CommonQueryMethods,
  userIds: readonly string[],
): Promise<Map<string, string[]>> {
  const joined = await rooms.joinedRoomsOf(db, userIds);
  const serversOfRoom = new Map<string, readonly string[]>();
  const result = new Map<string, string[]>();
  for (const userId of userIds) {
    const found = new Set<string>();
    for (const roomId of joined.get(userId) ?? []) {
      let inRoom = serversOfRoom.get(roomId);
      if (!inRoom) {
        inRoom = await servers.joinedServers(roomId);
        serversOfRoom.set(roomId, inRoom);
      }
      for (const server of inRoom) found.add(server);
    }
    result.set(userId, [...found]);
  }
  return result;
}
