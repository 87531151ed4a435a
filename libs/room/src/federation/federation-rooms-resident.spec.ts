/**
 * FederationRooms on the room test bed, with another server played by the test: its signing
 * key is what the fake RemoteServers hands out, and its requests to us are method calls.
 */
import {
  buildCreateEvent,
  encodeBase64,
  eventTemplate,
  referenceHashOf,
  signEvent,
  signNewEvent,
  signingKeyFromSeed,
  toPdu,
  type BuiltEvent,
  type JsonObject,
  type Pdu,
  type SigningKey,
  type StateKey,
} from '@hs/protocol';
import { ALICE, BOB, SERVER_NAME, refusal, useRoomTestBed } from '../../test/harness';
import { CreateRoom } from '../commands/create-room/command';
import { LeaveRoom } from '../commands/leave-room/command';
import { SendRoomEvent } from '../commands/send-room-event/command';
import { RemoteRefusalError, RoomCommandError } from '../errors';
import { ResolveRoomAliasHandler } from '../queries/handlers';
import { ResolveRoomAlias } from '../queries/queries';
import { FederationRooms } from './federation-rooms';
import type { RemoteRequest, RemoteServers } from './remote';

const REMOTE = 'remote.example.net';
const REMOTE_KEY = signingKeyFromSeed(new Uint8Array(32).fill(5), 'ed25519:rk');
const ZOE = `@zoe:${REMOTE}`;

/** The other server: its verify key, and answers to our requests from `answer`. */
class FakeRemote implements RemoteServers {
  readonly requests: { destination: string; request: RemoteRequest }[] = [];
  answer: (destination: string, request: RemoteRequest) => Record<string, unknown> = () => {
    throw Object.assign(new Error('HTTP 404'), { status: 404 });
  };

  request(destination: string, request: RemoteRequest): Promise<{ status: number; body: Record<string, unknown> }> {
    this.requests.push({ destination, request });
    try {
      return Promise.resolve({ status: 200, body: this.answer(destination, request) });
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /** This server's own key, for events of ours that come back (an invite signed by the invitee's server). */
  ours: SigningKey | undefined;

  verifyKey(serverName: string, keyId: string) {
    if (serverName === SERVER_NAME && this.ours?.keyId === keyId) {
      return Promise.resolve({ serverName, keyId, key: encodeBase64(this.ours.publicKey), validUntilTs: Number.MAX_SAFE_INTEGER, expiredTs: null });
    }
    if (serverName !== REMOTE || keyId !== REMOTE_KEY.keyId) return Promise.resolve(null);
    return Promise.resolve({ serverName, keyId, key: encodeBase64(REMOTE_KEY.publicKey), validUntilTs: Number.MAX_SAFE_INTEGER, expiredTs: null });
  }
}

describe('rooms over federation: what another server asks of this one', () => {
  const bed = useRoomTestBed();
  const remote = new FakeRemote();
  let rooms: FederationRooms;
  let clock = 1_800_000_000_000;

  beforeAll(() => {
    rooms = new FederationRooms(bed.writer, remote, bed.signingKey);
    remote.ours = bed.signingKey;
  });

  /** The remote user's join from a make_join template, signed by the remote server. */
  async function join(roomId: string, version: string): Promise<{ eventId: string; pdu: Pdu }> {
    const made = await rooms.makeJoin(REMOTE, roomId, ZOE, [version]);
    const built = signNewEvent({ ...made.event, origin: REMOTE, origin_server_ts: clock++ } as Pdu, made.room_version, REMOTE, REMOTE_KEY);
    return { eventId: built.event.event_id, pdu: built.pdu };
  }

  /** An event of the remote user on the room's current extremities, auth events from its current state. */
  async function remoteEvent(roomId: string, type: string, content: JsonObject, key?: string): Promise<{ eventId: string; pdu: Pdu }> {
    const snapshot = await bed.writer.reader.snapshot(roomId);
    if (!snapshot) throw new Error('no room');
    const template = eventTemplate({
      roomVersion: snapshot.rules,
      roomId,
      sender: ZOE,
      type,
      stateKey: key,
      content,
      prevEvents: snapshot.extremities,
      state: new Map<StateKey, string>([...snapshot.state].map(([k, e]) => [k, e.event_id])),
      originServerTs: clock++,
    });
    const built = signNewEvent(template, snapshot.rules, REMOTE, REMOTE_KEY);
    return { eventId: built.event.event_id, pdu: built.pdu };
  }

  /** Zoe's invite of Bob to a room of the remote server that this server does not hold. */
  function inviteOfBob(roomId: string, version: string): BuiltEvent {
    const fields = { room_id: roomId, sender: ZOE, type: 'm.room.member', state_key: BOB, content: { membership: 'invite' } };
    const template = { ...fields, origin: REMOTE, origin_server_ts: clock++, depth: 4, prev_events: [], auth_events: [], hashes: { sha256: '' }, signatures: {} };
    return signNewEvent(template as unknown as Pdu, version, REMOTE, REMOTE_KEY);
  }

  it('builds make_join templates of room version 1 rooms with the reference hashes of the prev and auth events, and takes the join', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat', room_version: '1' }));
    const made = await rooms.makeJoin(REMOTE, roomId, ZOE, ['1', '2']);
    expect(made.room_version).toBe('1');
    const references = [...(made.event.prev_events as unknown as [string, { sha256: string }][]), ...(made.event.auth_events as unknown as [string, { sha256: string }][])];
    expect(references.length).toBeGreaterThan(1);
    const held = await bed.writer.reader.events(references.map(([id]) => id));
    for (const [id, hashes] of references) {
      const event = held.find((e) => e.event_id === id);
      expect(event && hashes).toEqual(event && referenceHashOf(toPdu(event), '1'));
    }
    const { eventId, pdu } = await join(roomId, '1');
    const answer = await rooms.sendJoin(REMOTE, roomId, eventId, pdu);
    expect((answer.state as Pdu[]).some((e) => e.type === 'm.room.create')).toBe(true);
    // Oldest first: a power levels event comes after the one it replaced.
    const depths = (answer.auth_chain as Pdu[]).map((e) => e.depth);
    expect(depths).toEqual([...depths].sort((a, b) => a - b));
    expect(await bed.writer.reader.membership(roomId, ZOE)).toBe('join');
  });

  it('names the room version in the refusal of a make_join from a server that does not support it', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat', room_version: '2' }));
    const error = await refusal(rooms.makeJoin(REMOTE, roomId, ZOE, ['1', '3']), 'M_INCOMPATIBLE_ROOM_VERSION');
    expect(error.httpStatus).toBe(400);
    expect(error.toJSON()).toEqual({ errcode: 'M_INCOMPATIBLE_ROOM_VERSION', error: expect.any(String), room_version: '2' });
  });

  it('answers make_join with 404 once no user of this server is joined to the room', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    await expect(rooms.makeJoin(REMOTE, roomId, ZOE, ['10', '11'])).resolves.toBeDefined();
    await bed.run(new LeaveRoom(ALICE, roomId));
    await refusal(rooms.makeJoin(REMOTE, roomId, ZOE, ['10', '11']), 'M_NOT_FOUND');
    await refusal(rooms.makeLeave(REMOTE, roomId, ZOE), 'M_NOT_FOUND');
  });

  it('answers {} for a PDU the authorization rules reject, which is held as rejected', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    // Zoe never joined: the authorization rules reject her message.
    const message = await remoteEvent(roomId, 'm.room.message', { msgtype: 'm.text', body: 'not a member' });
    const result = await rooms.receiveTransaction(REMOTE, 'txn-rejected', { origin: REMOTE, pdus: [message.pdu], edus: [] });
    expect(result).toEqual({ pdus: { [message.eventId]: {} } });
    expect((await bed.writer.reader.event(message.eventId))?.rejected).toBe(true);
  });

  it('refuses make_join, send_join, make_leave, send_leave, invites and transaction PDUs to a server the room\'s server ACL denies', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    const joined = await join(roomId, '11');
    await rooms.sendJoin(REMOTE, roomId, joined.eventId, joined.pdu);
    const message = await remoteEvent(roomId, 'm.room.message', { msgtype: 'm.text', body: 'before the ACL' });
    const leave = await remoteEvent(roomId, 'm.room.member', { membership: 'leave' }, ZOE);
    const invite = await remoteEvent(roomId, 'm.room.member', { membership: 'invite' }, BOB);
    await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.server_acl', { allow: ['*'], deny: [REMOTE] }, { stateKey: '' }));

    await refusal(rooms.makeJoin(REMOTE, roomId, ZOE, ['11']), 'M_FORBIDDEN');
    await refusal(rooms.makeLeave(REMOTE, roomId, ZOE), 'M_FORBIDDEN');
    await refusal(rooms.sendJoin(REMOTE, roomId, joined.eventId, joined.pdu), 'M_FORBIDDEN');
    await refusal(rooms.sendLeave(REMOTE, roomId, leave.eventId, leave.pdu), 'M_FORBIDDEN');
    await refusal(rooms.receiveInvite(REMOTE, roomId, invite.eventId, { event: invite.pdu, room_version: '11', invite_room_state: [] }), 'M_FORBIDDEN');
    const result = await rooms.receiveTransaction(REMOTE, 'txn-acl', { origin: REMOTE, pdus: [message.pdu] });
    expect(result.pdus[message.eventId]).toEqual({ error: expect.stringContaining('server ACL') });
    expect(await bed.writer.reader.event(message.eventId)).toBeUndefined();
  });

  it('takes a v1 invite (the event itself as the body) of one of our users to a room it does not hold, and answers it signed', async () => {
    const roomId = `!v1invite:${REMOTE}`;
    const built = inviteOfBob(roomId, '1');
    const stripped = [{ type: 'm.room.name', state_key: '', sender: ZOE, content: { name: 'Elsewhere' } }];
    const answer = await rooms.receiveInviteV1(REMOTE, roomId, built.event.event_id, { ...built.pdu, unsigned: { invite_room_state: stripped } });
    expect(Object.keys(answer.event.signatures ?? {}).sort()).toEqual([REMOTE, SERVER_NAME].sort());
    expect(await bed.writer.reader.currentStateEntry(roomId, 'm.room.member', BOB)).toMatchObject({ event_id: built.event.event_id });
  });

  it('declines an invite on this server only when no server of the room takes the decline', async () => {
    for (const version of ['1', '10']) {
      const roomId = `!decline-${version}:${REMOTE}`;
      const invite = inviteOfBob(roomId, version);
      await rooms.receiveInvite(REMOTE, roomId, invite.event.event_id, { event: invite.pdu, room_version: version, invite_room_state: [] });
      remote.answer = () => {
        throw Object.assign(new Error('HTTP 403 M_FORBIDDEN'), { status: 403 });
      };
      const { eventId } = await rooms.leaveRemote(BOB, roomId, [REMOTE]);
      expect(remote.requests.at(-1)).toMatchObject({ destination: REMOTE, request: { method: 'GET', path: expect.stringContaining('/make_leave/') } });
      expect(await bed.writer.reader.currentStateEntry(roomId, 'm.room.member', BOB)).toMatchObject({ event_id: eventId });
      const [leave] = await bed.writer.reader.events([eventId]);
      expect(leave).toMatchObject({ sender: BOB, content: { membership: 'leave' }, prev_events: [invite.event.event_id] });
      // Nothing to decline any more: the next attempt is refused.
      await refusal(rooms.leaveRemote(BOB, roomId, [REMOTE]), 'M_NOT_FOUND');
    }
  });

  it('passes another server\'s make_join refusals on to the joining client as they came', async () => {
    const roomId = `!refusing:${REMOTE}`;
    const refuse = (status: number, answer: Record<string, unknown>) => {
      remote.answer = () => {
        throw Object.assign(new Error(`HTTP ${status}`), { status, answer });
      };
      return rooms.joinRemote(BOB, roomId, [REMOTE], {}).catch((error: unknown) => error);
    };
    const passed = await refuse(400, { errcode: 'M_TEST_ERROR_CODE', error: 'denied!' });
    expect(passed).toBeInstanceOf(RemoteRefusalError);
    expect(passed).toMatchObject({ errcode: 'M_TEST_ERROR_CODE', httpStatus: 400, message: 'denied!' });
    const incompatible = (await refuse(400, { errcode: 'M_INCOMPATIBLE_ROOM_VERSION', error: 'upgrade', room_version: 'custom-version' })) as RoomCommandError;
    expect(incompatible.toJSON()).toEqual({ errcode: 'M_INCOMPATIBLE_ROOM_VERSION', error: 'upgrade', room_version: 'custom-version' });
    // Our request was wrong for the other server: not the client's error.
    expect(await refuse(400, { errcode: 'M_INVALID_PARAM', error: 'bad ver' })).toMatchObject({ errcode: 'M_UNKNOWN', httpStatus: 502 });
    // An errcode that is not one (or no object at all) is not passed on.
    expect(await refuse(400, { errcode: 'M_<script>' })).not.toBeInstanceOf(RemoteRefusalError);
  });

  /** A room of the remote server (version 10): its create event (with `createContent`), Zoe's join, power levels and a public join rule. */
  function remoteRoom(createContent: JsonObject = {}): { roomId: string; state: BuiltEvent[] } {
    const create = buildCreateEvent({ roomVersion: '10', sender: ZOE, origin: REMOTE, signingKey: REMOTE_KEY, originServerTs: clock++ });
    const fixed = signNewEvent({ ...create.pdu, content: { ...create.pdu.content, ...createContent } }, '10', REMOTE, REMOTE_KEY);
    const roomId = fixed.event.room_id;
    const state: BuiltEvent[] = [fixed];
    const add = (type: string, content: JsonObject, key: string) => {
      const prev = state[state.length - 1].event;
      const template = eventTemplate({
        roomVersion: '10',
        roomId,
        sender: ZOE,
        type,
        stateKey: key,
        content,
        prevEvents: [{ eventId: prev.event_id, depth: prev.depth }],
        state: new Map(state.map((b) => [`${b.event.type}\u0000${b.event.state_key}` as StateKey, b.event.event_id])),
        originServerTs: clock++,
      });
      state.push(signNewEvent(template, '10', REMOTE, REMOTE_KEY));
    };
    add('m.room.member', { membership: 'join' }, ZOE);
    add('m.room.power_levels', { users: { [ZOE]: 100 } }, '');
    add('m.room.join_rules', { join_rule: 'public' }, '');
    return { roomId, state };
  }

  /** The remote server answers make_join, and send_join only in its deprecated v1 form (`state` as given). */
  function answerJoinsV1Only(roomId: string, room: BuiltEvent[], state: BuiltEvent[]): void {
    remote.answer = (_destination, request) => {
      if (request.path.includes('/make_join/')) {
        const last = room[room.length - 1].event;
        const template = eventTemplate({
          roomVersion: '10',
          roomId,
          sender: BOB,
          type: 'm.room.member',
          stateKey: BOB,
          content: { membership: 'join' },
          prevEvents: [{ eventId: last.event_id, depth: last.depth }],
          state: new Map(room.map((b) => [`${b.event.type}\u0000${b.event.state_key}` as StateKey, b.event.event_id])),
          originServerTs: clock++,
        });
        return { event: template, room_version: '10' };
      }
      if (request.path.startsWith('/_matrix/federation/v1/send_join/') && request.v1Pair === true) {
        return { state: state.map((b) => b.pdu), auth_chain: room.map((b) => b.pdu) };
      }
      throw Object.assign(new Error('HTTP 404'), { status: 404 });
    };
  }

  it('joins through the deprecated v1 send_join when the other server does not know v2, and checks its answer as strictly', async () => {
    const { roomId, state } = remoteRoom();
    answerJoinsV1Only(roomId, state, state);
    remote.requests.length = 0;
    await rooms.joinRemote(BOB, roomId, [REMOTE], {});
    expect(remote.requests.map((r) => [r.request.path.split('/').slice(0, 5).join('/'), r.request.v1Pair ?? false])).toEqual([
      ['/_matrix/federation/v1/make_join', false],
      ['/_matrix/federation/v2/send_join', false],
      ['/_matrix/federation/v1/send_join', true],
    ]);
    expect(await bed.writer.reader.membership(roomId, BOB)).toBe('join');

    // An answer without the create event, or whose create event names another room version, is refused.
    const bare = remoteRoom();
    answerJoinsV1Only(bare.roomId, bare.state, bare.state.slice(1));
    expect(((await rooms.joinRemote(BOB, bare.roomId, [REMOTE], {}).catch((error: unknown) => error)) as Error).message).toMatch(/m\.room\.create/);
    expect(await bed.writer.reader.membership(bare.roomId, BOB)).toBeUndefined();
    const unknown = remoteRoom({ room_version: 'org.example.unknown' });
    answerJoinsV1Only(unknown.roomId, unknown.state, unknown.state);
    const refused = await rooms.joinRemote(BOB, unknown.roomId, [REMOTE], {}).catch((error: unknown) => error);
    expect((refused as Error).message).toMatch(/room version/);
    expect(await bed.writer.reader.membership(unknown.roomId, BOB)).toBeUndefined();
    // A 404 that says the room is not known is an answer: v1 is not tried.
    remote.answer = (_destination, request) => {
      if (request.path.includes('/make_join/')) throw Object.assign(new Error('HTTP 404'), { status: 404, answer: { errcode: 'M_NOT_FOUND' } });
      throw new Error('not asked');
    };
    remote.requests.length = 0;
    await refusal(rooms.joinRemote(BOB, `!gone:${REMOTE}`, [REMOTE], {}), 'M_NOT_FOUND');
    expect(remote.requests).toHaveLength(1);
  });

  it('invites through the deprecated v1 invite (room versions 1 and 2) when the other server does not know v2', async () => {
    const roomId = `!v1out:${SERVER_NAME}`;
    const stripped = [{ type: 'm.room.name', state_key: '', sender: ALICE, content: { name: 'Here' } }];
    const fields = { room_id: roomId, sender: ALICE, type: 'm.room.member', state_key: ZOE, content: { membership: 'invite' } };
    const invite = (version: string) =>
      signNewEvent({ ...fields, origin: SERVER_NAME, origin_server_ts: clock++, depth: 4, prev_events: [], auth_events: [], hashes: { sha256: '' }, signatures: {} } as unknown as Pdu, version, SERVER_NAME, bed.signingKey);
    remote.answer = (_destination, request) => {
      if (request.path.startsWith('/_matrix/federation/v1/invite/') && request.v1Pair === true) {
        const body = request.body as Pdu;
        expect(body.unsigned).toEqual({ invite_room_state: stripped });
        const { unsigned: _unsigned, ...event } = body;
        return { event: signEvent(event, '1', REMOTE, REMOTE_KEY) };
      }
      throw Object.assign(new Error('HTTP 400 M_UNRECOGNIZED'), { status: 400, answer: { errcode: 'M_UNRECOGNIZED', error: 'unknown endpoint' } });
    };
    const built = invite('1');
    remote.requests.length = 0;
    const signed = await rooms.inviteRemote(built.pdu, built.event, '1', stripped);
    expect(remote.requests.map((r) => r.request.path.split('/').slice(0, 5).join('/'))).toEqual(['/_matrix/federation/v2/invite', '/_matrix/federation/v1/invite']);
    expect(Object.keys(signed.signatures ?? {}).sort()).toEqual([REMOTE, SERVER_NAME].sort());
    // A room of version 10 cannot go through v1 (it does not say the version): refused as unsupported.
    const newer = invite('10');
    await refusal(rooms.inviteRemote(newer.pdu, newer.event, '10', stripped), 'M_UNSUPPORTED_ROOM_VERSION');
  });

  it('resolves another server\'s room alias through its directory, and an unreachable directory as not found', async () => {
    const alias = `#elsewhere:${REMOTE}`;
    const roomId = `!elsewhere:${REMOTE}`;
    remote.answer = (destination, request) => {
      if (destination === REMOTE && request.path === `/_matrix/federation/v1/query/directory?room_alias=${encodeURIComponent(alias)}`) {
        return { room_id: roomId, servers: [REMOTE, 'third.example.org'] };
      }
      throw Object.assign(new Error('connection refused'), { status: undefined });
    };
    const handler = new ResolveRoomAliasHandler(bed.writer, rooms);
    await expect(handler.execute(new ResolveRoomAlias(alias))).resolves.toEqual({ roomId, servers: [REMOTE, 'third.example.org'] });
    const unreachable = await handler.execute(new ResolveRoomAlias(`#other:unreachable.example.org`)).catch((error: unknown) => error);
    expect(unreachable).toBeInstanceOf(RoomCommandError);
    expect((unreachable as RoomCommandError).errcode).toBe('M_NOT_FOUND');
  });
});
