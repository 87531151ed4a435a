/**
 * Composition of presence over federation: the process's presence store, the sync read model
 * (who is joined where) and the room write model (which servers are in a room), with the
 * federation sender for what goes out. See `PresenceFederation` in libs/sync.
 */
import type { FederationSender } from '@hs/federation-sender';
import { JoinedServersReader } from '@hs/room';
import { PresenceFederation, PresenceStore, SyncQueries } from '@hs/sync';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger } from 'pino';
import type { Backend } from './backend';
import { serversSharingRooms } from './shared-rooms';

export interface PresenceFederationLink {
  /** Where other servers' presence EDUs go. */
  readonly inbound: PresenceFederation;
  /** Starts sending our users' presence through the sender; returns the function that stops it. */
  connect(sender: FederationSender): () => void;
}

export function presenceFederation(client: NestFastifyApplication, backend: Backend, serverName: string, logger: Logger): PresenceFederationLink {
  const rooms = client.get(SyncQueries);
  const servers = new JoinedServersReader(backend.db.pool);
  const pool = backend.db.pool;
  let sender: FederationSender | undefined;
  const federation = new PresenceFederation(client.get(PresenceStore), serverName, {
    serversSharingRoomsWith: (userIds) => serversSharingRooms(rooms, servers, pool, userIds),
    roomServers: (roomId) => servers.joinedServers(roomId),
    joinedMembers: async (roomId) => Object.keys(await rooms.joinedMembers(pool, roomId)),
    async joinedSomewhere(userIds) {
      const joined = await rooms.joinedRoomsOf(pool, userIds);
      return new Set(userIds.filter((userId) => (joined.get(userId)?.length ?? 0) > 0));
    },
    enqueue: (destinations, edu, key) => sender?.enqueueEdu(destinations, { edu_type: edu.edu_type, content: { push: edu.content.push.map((push) => ({ ...push })) } }, key),
    warn: (message, error) => logger.warn({ err: error }, message),
  });
  return {
    inbound: federation,
    connect(started) {
      sender = started;
      federation.start();
      const stopJoins = started.onJoin((roomId, userId) => void federation.joined(roomId, userId));
      return () => {
        stopJoins();
        federation.stop();
        sender = undefined;
      };
    },
  };
}
