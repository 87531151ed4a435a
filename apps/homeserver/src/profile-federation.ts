/**
 * Composition of profiles over federation: the client API's `GET /profile/{userId}` (and its
 * fields) for another server's user asks that server (`GET /_matrix/federation/v1/query/profile`)
 * through the keys layer's HTTPS client.
 */
import { ProfileService } from '@hs/accounts';
import type { FederationKeys } from '@hs/keys';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

/** Most bytes of another server's profile answer (a profile is at most 64 KiB). */
const MAX_PROFILE_ANSWER_BYTES = 64 * 1024;
const PROFILE_TIMEOUT_MS = 10_000;

/** Connects profiles to other servers; returns the function that disconnects them. */
export function connectProfileFederation(client: NestFastifyApplication, keys: FederationKeys, serverName: string): () => void {
  const profiles = client.get(ProfileService);
  profiles.setRemote(serverName, {
    query: async (server, userId, field) => {
      const query = `user_id=${encodeURIComponent(userId)}${field !== undefined ? `&field=${encodeURIComponent(field)}` : ''}`;
      const answer = await keys.client.request(server, {
        method: 'GET',
        path: `/_matrix/federation/v1/query/profile?${query}`,
        maxResponseBytes: MAX_PROFILE_ANSWER_BYTES,
        timeoutMs: PROFILE_TIMEOUT_MS,
      });
      return answer.body;
    },
  });
  return () => profiles.setRemote(serverName, undefined);
}
