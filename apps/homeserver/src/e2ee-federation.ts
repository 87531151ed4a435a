/**
 * Composition of end-to-end encryption over federation: key queries and claims for other
 * servers' users go through the keys layer's HTTPS client, to-device messages for them and our
 * users' device list updates go out as EDUs through the federation sender (to the servers
 * sharing a room with the user), and other servers' e2ee EDUs reach the e2ee services.
 */
import { DeviceKeysService, E2eeFederationInbound, E2eeFederationOutbound, KeysQueryService, ToDeviceService, federationKeysClient } from '@hs/e2ee';
import type { Edu } from '@hs/federation-sender';
import type { FederationKeys } from '@hs/keys';
import { SyncQueries } from '@hs/sync';
import { JoinedServersReader } from '@hs/room';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger } from 'pino';
import type { Backend } from './backend';
import type { FederationOutbox } from './federation-outbox';
import { serversSharingRooms } from './shared-rooms';

/** The e2ee services of the client listener's application (one set per process). */
export function e2eeServices(client: NestFastifyApplication): { keys: DeviceKeysService; keysQuery: KeysQueryService; toDevice: ToDeviceService } {
  return { keys: client.get(DeviceKeysService), keysQuery: client.get(KeysQueryService), toDevice: client.get(ToDeviceService) };
}

/** Where other servers' e2ee EDUs go. */
export function e2eeInbound(client: NestFastifyApplication): E2eeFederationInbound {
  const { keys, toDevice } = e2eeServices(client);
  return new E2eeFederationInbound(keys, toDevice);
}

/** Connects the e2ee services to other servers; returns the function that disconnects them. */
export function connectE2eeFederation(
  client: NestFastifyApplication,
  sender: Pick<FederationOutbox, 'enqueueEdu'>,
  keys: FederationKeys,
  backend: Backend,
  serverName: string,
  logger: Logger,
): () => void {
  const services = e2eeServices(client);
  const rooms = client.get(SyncQueries);
  const servers = new JoinedServersReader(backend.db.pool);
  services.keysQuery.setRemote(federationKeysClient(keys.client));
  // EDU contents are built from JSON the e2ee library parsed or stored: JSON values throughout.
  const asEdu = (eduType: string, content: object): Edu => ({ edu_type: eduType, content: content as Edu['content'] });
  services.toDevice.setRelay({ relay: (destination, edu) => sender.enqueueEdu([destination], asEdu('m.direct_to_device', edu)) });
  const outbound = new E2eeFederationOutbound(services.keys, services.keysQuery, serverName, {
    serversSharingRoomsWith: async (userId) => (await serversSharingRooms(rooms, servers, backend.db.pool, [userId])).get(userId) ?? [],
    enqueue: (destinations, edu) => sender.enqueueEdu(destinations, asEdu(edu.edu_type, edu.content)),
    warn: (message, error) => logger.warn({ err: error }, message),
  });
  outbound.start();
  return () => {
    outbound.stop();
    services.keysQuery.setRemote(undefined);
    services.toDevice.setRelay(undefined);
  };
}
