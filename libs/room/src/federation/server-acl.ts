/**
 * The room's server ACL (m.room.server_acl in its current state) applied to a server making a
 * federation request about the room (server-server-api.md "Server Access Control Lists"): a
 * denied server gets 403 M_FORBIDDEN.
 */
import { isServerAllowedByAcl } from '@hs/protocol';
import { forbidden } from '../errors';
import type { WriteModelReader } from '../write-model/repository';

/** Whether the room's current server ACL lets `server` in (a room without one lets every server in). */
export async function serverAllowedInRoom(reader: WriteModelReader, roomId: string, server: string): Promise<boolean> {
  const acl = await reader.stateEvent(roomId, 'm.room.server_acl', '');
  return isServerAllowedByAcl(acl?.content, server);
}

/** M_FORBIDDEN when the room's current server ACL denies `server`. */
export async function assertServerAllowedInRoom(reader: WriteModelReader, roomId: string, server: string): Promise<void> {
  if (!(await serverAllowedInRoom(reader, roomId, server))) throw forbidden(`${server} is denied by the server ACL of room ${roomId}`);
}
