/**
 * The room flows between two federating servers, each way round: a user of one server joins a
 * public room made on the other, messages go both ways (each seen in the other's /sync), and it
 * leaves; a user invites a user of the other server to a private room, who accepts and talks.
 * The same cases run between our server and a peer, and between Synapse and Dendrite (which
 * checks the cases themselves against two servers known to federate).
 */
import { MatrixUser, membership, message } from './matrix-client';

export interface FlowServer {
  /** How the test names the server ("ours", "synapse", …). */
  label: string;
  serverName: string;
  /** A new user of this server, logged in. */
  newUser(): Promise<MatrixUser>;
}

const FLOW_TIMEOUT = 180_000;

/**
 * Declares the four cases (as `it`s) between servers labelled `labels.a` and `labels.b`;
 * `servers` is called when a case runs.
 */
export function roomFlowCases(labels: { a: string; b: string }, servers: () => { a: FlowServer; b: FlowServer }): void {
  const pair = (flip: boolean) => {
    const { a, b } = servers();
    return flip ? { home: b, remote: a } : { home: a, remote: b };
  };

  for (const flip of [false, true]) {
    const [homeLabel, remoteLabel] = flip ? [labels.b, labels.a] : [labels.a, labels.b];
    it(`a user of ${homeLabel} joins a public room made on ${remoteLabel} (join with server_name), messages go both ways, and it leaves`, async () => {
      const { home, remote } = pair(flip);
      const [joiner, creator] = await Promise.all([home.newUser(), remote.newUser()]);
      const roomId = await creator.createRoom({ preset: 'public_chat', name: `made on ${remote.label}` });
      expect(await joiner.join(roomId, [remote.serverName])).toBe(roomId);
      await creator.waitForEvent(roomId, membership(joiner.userId, 'join'));
      expect((await creator.joinedMembers(roomId)).sort()).toEqual([joiner.userId, creator.userId].sort());
      expect((await joiner.joinedMembers(roomId)).sort()).toEqual([joiner.userId, creator.userId].sort());

      await creator.sendText(roomId, `hello from ${remote.label}`);
      await joiner.waitForEvent(roomId, message(creator.userId, `hello from ${remote.label}`));
      await joiner.sendText(roomId, `hello from ${home.label}`);
      await creator.waitForEvent(roomId, message(joiner.userId, `hello from ${home.label}`));

      await joiner.leave(roomId);
      await creator.waitForEvent(roomId, membership(joiner.userId, 'leave'));
      expect(await creator.joinedMembers(roomId)).toEqual([creator.userId]);
    }, FLOW_TIMEOUT);

    it(`a user of ${homeLabel} invites a user of ${remoteLabel} to a private room, who accepts, talks and leaves`, async () => {
      const { home, remote } = pair(flip);
      const [inviter, invitee] = await Promise.all([home.newUser(), remote.newUser()]);
      const roomId = await inviter.createRoom({ preset: 'private_chat', name: `invite from ${home.label}` });
      await inviter.invite(roomId, invitee.userId);
      await inviter.waitForEvent(roomId, membership(invitee.userId, 'invite'));
      const stripped = await invitee.waitForInvite(roomId);
      expect(stripped).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ type: 'm.room.member', state_key: invitee.userId, sender: inviter.userId, content: expect.objectContaining({ membership: 'invite' }) }),
        ]),
      );
      expect(await invitee.join(roomId, [home.serverName])).toBe(roomId);
      await inviter.waitForEvent(roomId, membership(invitee.userId, 'join'));

      await invitee.sendText(roomId, 'thanks for the invite');
      await inviter.waitForEvent(roomId, message(invitee.userId, 'thanks for the invite'));
      await inviter.sendText(roomId, 'you are welcome');
      await invitee.waitForEvent(roomId, message(inviter.userId, 'you are welcome'));

      await invitee.leave(roomId);
      await inviter.waitForEvent(roomId, membership(invitee.userId, 'leave'));
      expect(await inviter.joinedMembers(roomId)).toEqual([inviter.userId]);
    }, FLOW_TIMEOUT);
  }
}
