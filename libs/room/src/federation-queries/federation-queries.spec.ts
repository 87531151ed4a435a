import { CqrsModule, QueryBus, type Query } from '@nestjs/cqrs';
import { Test, type TestingModule } from '@nestjs/testing';
import { computeEventId, signingKeyFromSeed, verifyEventSignature, type Pdu, type RoomEvent } from '@hs/protocol';
import { ALICE, BOB, SERVER_NAME, refusal, useRoomTestBed } from '../../test/harness';
import { appendRemoteEvent } from '../../test/remote-events';
import { CreateRoom } from '../commands/create-room/command';
import { SendRoomEvent } from '../commands/send-room-event/command';
import { SetRoomAlias } from '../commands/set-room-alias/command';
import { GetRoomState } from '../queries/queries';
import { WriteModelReader } from '../write-model/repository';
import { RoomFederationQueriesModule } from './federation-queries.module';
import {
  GetFederationBackfill,
  GetFederationEvent,
  GetFederationEventAuth,
  GetFederationMissingEvents,
  GetFederationPublicRooms,
  GetFederationRoomState,
  GetFederationRoomStateIds,
  QueryFederationRoomAlias,
} from './queries';
import { historyVisibilityOf, serverMaySee } from './visibility';

const REMOTE = 'remote.example.org';
const ZOE = `@zoe:${REMOTE}`;
const STRANGER = 'stranger.example.org';
const remoteKey = signingKeyFromSeed(new Uint8Array(32).fill(9), 'ed25519:r1');

describe('server visibility rule', () => {
  it.each<[string, string[], boolean, boolean]>([
    ['world_readable', [], false, true],
    ['joined', ['join'], false, true],
    ['joined', ['invite'], true, false],
    ['invited', ['invite'], false, true],
    ['invited', ['leave'], true, false],
    ['shared', [], true, true],
    ['shared', ['leave'], false, false],
    ['nonsense', [], true, true],
  ])('history visibility %s, memberships %j at the event, joined now %s: visible %s', (visibility, memberships, joinedNow, visible) => {
    expect(serverMaySee({ historyVisibility: historyVisibilityOf(visibility), memberships }, joinedNow)).toBe(visible);
  });
});

describe('federation queries on the write model', () => {
  const bed = useRoomTestBed();
  let module: TestingModule;
  let reader: WriteModelReader;
  const ask = <T>(query: Query<T>): Promise<T> => module.get(QueryBus).execute(query);
  const send = async (roomId: string, body: string) => (await bed.run(new SendRoomEvent(ALICE, roomId, 'm.room.message', { msgtype: 'm.text', body }))).eventId;
  const setState = async (roomId: string, type: string, content: Record<string, unknown>) => (await bed.run(new SendRoomEvent(ALICE, roomId, type, content, { stateKey: '' }))).eventId;
  const remote = (roomId: string, membership: string) =>
    appendRemoteEvent({ writer: bed.writer, store: bed.store }, { roomId, origin: REMOTE, signingKey: remoteKey, sender: ZOE, type: 'm.room.member', stateKey: ZOE, content: { membership } });
  /** The event id of a PDU of room version 11 (its reference hash). */
  const idOf = (pdu: Pdu): string => computeEventId(pdu, '11');

  beforeAll(async () => {
    module = await Test.createTestingModule({
      imports: [CqrsModule.forRoot(), RoomFederationQueriesModule.forRoot({ pool: bed.db.pool, serverName: SERVER_NAME })],
    }).compile();
    await module.init();
    reader = new WriteModelReader(bed.db.pool);
  });
  afterAll(async () => {
    await module?.close();
  });

  describe('a shared-history room that a remote server joins', () => {
    let roomId: string;
    let before: string;
    let nameEvent: string;
    let afterName: string;
    let join: RoomEvent;
    beforeAll(async () => {
      ({ roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat', name: 'Old name' })));
      before = await send(roomId, 'before the remote join');
      join = await remote(roomId, 'join');
      nameEvent = await setState(roomId, 'm.room.name', { name: 'New name' });
      afterName = await send(roomId, 'after the name');
    });

    it('answers the state before an event: a state event is not part of its own state, a message shares the state after it', async () => {
      const atName = await ask(new GetFederationRoomStateIds(REMOTE, roomId, nameEvent));
      const afterJoin = await bed.ask(new GetRoomState(roomId, join.event_id));
      expect([...atName.pduIds].sort()).toEqual(afterJoin.map((e) => e.event_id).sort());
      expect(atName.pduIds).not.toContain(nameEvent);
      const atMessage = await ask(new GetFederationRoomStateIds(REMOTE, roomId, afterName));
      expect(atMessage.pduIds).toContain(nameEvent);
      expect(atMessage.pduIds).not.toContain(afterJoin.find((e) => e.type === 'm.room.name')?.event_id);
      expect(atMessage.authChainIds).toEqual(await reader.authChain(atMessage.pduIds));
      const create = afterJoin.find((e) => e.type === 'm.room.create');
      expect(await ask(new GetFederationRoomStateIds(REMOTE, roomId, create!.event_id))).toEqual({ pduIds: [], authChainIds: [] });
    });

    it('gives /state the events of /state_ids', async () => {
      const ids = await ask(new GetFederationRoomStateIds(REMOTE, roomId, afterName));
      const state = await ask(new GetFederationRoomState(REMOTE, roomId, afterName));
      expect(state.pdus.map(idOf)).toEqual(ids.pduIds);
      expect(state.authChain.map(idOf)).toEqual(ids.authChainIds);
    });

    it('gives events and auth chains as stored, signed by their origin', async () => {
      const { pdu, roomVersion } = await ask(new GetFederationEvent(REMOTE, join.event_id));
      expect(roomVersion).toBe('11');
      expect(pdu).toEqual((await reader.event(join.event_id))?.pdu);
      expect(verifyEventSignature(pdu, '11', REMOTE, remoteKey.keyId, remoteKey.publicKeyBase64)).toBe(true);
      const chain = await ask(new GetFederationEventAuth(REMOTE, roomId, afterName));
      expect(chain.map(idOf)).toEqual(await reader.authChain([afterName]));
    });

    it('lets a server joined now see the shared history before its join, and a server with no member nothing', async () => {
      await expect(ask(new GetFederationEvent(REMOTE, before))).resolves.toBeDefined();
      await refusal(ask(new GetFederationEvent(STRANGER, before)), 'M_FORBIDDEN');
      await refusal(ask(new GetFederationRoomStateIds(STRANGER, roomId, afterName)), 'M_FORBIDDEN');
      await refusal(ask(new GetFederationEventAuth(STRANGER, roomId, afterName)), 'M_FORBIDDEN');
      await refusal(ask(new GetFederationBackfill(STRANGER, roomId, [afterName], 5)), 'M_FORBIDDEN');
      await refusal(ask(new GetFederationMissingEvents(STRANGER, roomId, [], [afterName], 5, 0)), 'M_FORBIDDEN');
    });

    it('refuses unknown rooms and events, and events of another room (a backfill from them answers nothing)', async () => {
      const { roomId: other } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
      const elsewhere = await send(other, 'elsewhere');
      await refusal(ask(new GetFederationEvent(REMOTE, '$unknown')), 'M_NOT_FOUND');
      await refusal(ask(new GetFederationRoomStateIds(REMOTE, `!unknown:${SERVER_NAME}`, afterName)), 'M_NOT_FOUND');
      await refusal(ask(new GetFederationRoomStateIds(REMOTE, roomId, elsewhere)), 'M_NOT_FOUND');
      await refusal(ask(new GetFederationEventAuth(REMOTE, roomId, elsewhere)), 'M_NOT_FOUND');
      expect(await ask(new GetFederationBackfill(REMOTE, roomId, [elsewhere], 5))).toEqual([]);
      expect(await ask(new GetFederationBackfill(REMOTE, roomId, ['$unknown'], 5))).toEqual([]);
      expect(await ask(new GetFederationMissingEvents(REMOTE, roomId, [], [elsewhere], 5, 0))).toEqual([]);
    });

    it('backfills from the given events backwards, at most limit events, the given ones included', async () => {
      const pdus = await ask(new GetFederationBackfill(REMOTE, roomId, [afterName], 3));
      expect(pdus.map(idOf)).toEqual([afterName, nameEvent, join.event_id]);
      const all = await ask(new GetFederationBackfill(REMOTE, roomId, [afterName], 100));
      const ids = all.map(idOf);
      expect(ids).toContain(before);
      expect(ids[ids.length - 1]).toBe((await bed.ask(new GetRoomState(roomId))).find((e) => e.type === 'm.room.create')?.event_id);
    });

    it('answers missing events between earliest and latest, oldest first, within limit and min_depth', async () => {
      const m1 = await send(roomId, 'm1');
      const m2 = await send(roomId, 'm2');
      const m3 = await send(roomId, 'm3');
      const m4 = await send(roomId, 'm4');
      const missing = await ask(new GetFederationMissingEvents(REMOTE, roomId, [m1], [m4], 10, 0));
      expect(missing.map(idOf)).toEqual([m2, m3]);
      const limited = await ask(new GetFederationMissingEvents(REMOTE, roomId, [], [m4], 2, 0));
      expect(limited.map(idOf)).toEqual([m2, m3]);
      const m3Depth = (await reader.event(m3))!.event.depth;
      const deep = await ask(new GetFederationMissingEvents(REMOTE, roomId, [], [m4], 10, m3Depth));
      expect(deep.map(idOf)).toEqual([m3]);
    });

    it('answers the alias query with the servers in the room, ours first', async () => {
      const alias = `#shared:${SERVER_NAME}`;
      await bed.run(new SetRoomAlias(ALICE, alias, roomId));
      expect(await ask(new QueryFederationRoomAlias(alias))).toEqual({ roomId, servers: [SERVER_NAME, REMOTE] });
      await refusal(ask(new QueryFederationRoomAlias(`#missing:${SERVER_NAME}`)), 'M_NOT_FOUND');
      await refusal(ask(new QueryFederationRoomAlias(`#shared:${REMOTE}`)), 'M_NOT_FOUND');
      await refusal(ask(new QueryFederationRoomAlias('shared')), 'M_INVALID_PARAM');
    });
  });

  describe('a joined-history room', () => {
    let roomId: string;
    let secret: string;
    let afterJoin: string;
    let afterLeave: string;
    beforeAll(async () => {
      ({ roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' })));
      await setState(roomId, 'm.room.history_visibility', { history_visibility: 'joined' });
      secret = await send(roomId, 'before the remote join');
      await remote(roomId, 'join');
      afterJoin = await send(roomId, 'while joined');
      await remote(roomId, 'leave');
      afterLeave = await send(roomId, 'after the leave');
    });

    it('shows a server the events while one of its users was joined, and no others', async () => {
      await expect(ask(new GetFederationEvent(REMOTE, afterJoin))).resolves.toBeDefined();
      await refusal(ask(new GetFederationEvent(REMOTE, secret)), 'M_FORBIDDEN');
      await refusal(ask(new GetFederationEvent(REMOTE, afterLeave)), 'M_FORBIDDEN');
    });

    it('redacts the events of a backfill or missing events answer the server may not see', async () => {
      const pdus = await ask(new GetFederationBackfill(REMOTE, roomId, [afterJoin], 3));
      const hidden = pdus.find((p) => p.content.body === undefined && p.type === 'm.room.message');
      expect(hidden).toBeDefined();
      expect(idOf(hidden!)).toBe(secret);
      expect(hidden!.content).toEqual({});
      expect(hidden!.signatures).toEqual((await reader.event(secret))?.pdu.signatures);
      expect(verifyEventSignature(hidden!, '11', SERVER_NAME, bed.signingKey.keyId, bed.signingKey.publicKeyBase64)).toBe(true);
      expect(pdus.find((p) => p.content.body === 'while joined')).toBeDefined();
      const missing = await ask(new GetFederationMissingEvents(REMOTE, roomId, [], [afterJoin], 2, 0));
      expect(missing.map((p) => p.content.body)).toEqual([undefined, undefined]);
    });
  });

  it('refuses the room reads to a server the room\'s server ACL denies, and answers them again once it allows it', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    await remote(roomId, 'join');
    const message = await send(roomId, 'seen by the remote server');
    const reads = () => [
      ask(new GetFederationRoomStateIds(REMOTE, roomId, message)),
      ask(new GetFederationRoomState(REMOTE, roomId, message)),
      ask(new GetFederationEventAuth(REMOTE, roomId, message)),
      ask(new GetFederationBackfill(REMOTE, roomId, [message], 5)),
      ask(new GetFederationMissingEvents(REMOTE, roomId, [], [message], 5, 0)),
    ];
    await Promise.all(reads());
    await setState(roomId, 'm.room.server_acl', { allow: ['*'], deny: ['remote.example.org'] });
    for (const read of reads()) await refusal(read, 'M_FORBIDDEN');
    await setState(roomId, 'm.room.server_acl', { allow: ['*'], deny: ['other.example.org'] });
    await Promise.all(reads());
  });

  it('lets any server see the events of a world-readable room', async () => {
    const { roomId } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat' }));
    await setState(roomId, 'm.room.history_visibility', { history_visibility: 'world_readable' });
    const open = await send(roomId, 'for everyone');
    await expect(ask(new GetFederationEvent(STRANGER, open))).resolves.toMatchObject({ pdu: { content: { body: 'for everyone' } } });
    await expect(ask(new GetFederationRoomStateIds(STRANGER, roomId, open))).resolves.toMatchObject({ pduIds: expect.any(Array) });
  });

  it('lists the published rooms with their directory fields, filtered and in pages', async () => {
    const tag = `zq${Date.now()}`;
    const { roomId: big } = await bed.run(new CreateRoom(ALICE, { preset: 'public_chat', visibility: 'public', name: `${tag} big`, topic: 'A topic', room_alias_name: tag }));
    await bed.run(new SendRoomEvent(ALICE, big, 'm.room.avatar', { url: 'mxc://example.org/a' }, { stateKey: '' }));
    await remote(big, 'join');
    const { roomId: space } = await bed.run(
      new CreateRoom(BOB, { preset: 'private_chat', visibility: 'public', name: `${tag} space`, creation_content: { type: 'm.space' } }),
    );
    await bed.run(new SendRoomEvent(BOB, space, 'm.room.history_visibility', { history_visibility: 'world_readable' }, { stateKey: '' }));
    await bed.run(new SendRoomEvent(BOB, space, 'm.room.guest_access', { guest_access: 'can_join' }, { stateKey: '' }));
    await bed.run(new CreateRoom(ALICE, { preset: 'public_chat', name: `${tag} unpublished` }));

    const page = await ask(new GetFederationPublicRooms({ genericSearchTerm: tag.toUpperCase() }));
    expect(page).toEqual({
      chunk: [
        {
          room_id: big,
          num_joined_members: 2,
          world_readable: false,
          guest_can_join: false,
          name: `${tag} big`,
          topic: 'A topic',
          canonical_alias: `#${tag}:${SERVER_NAME}`,
          avatar_url: 'mxc://example.org/a',
          join_rule: 'public',
        },
        { room_id: space, num_joined_members: 1, world_readable: true, guest_can_join: true, name: `${tag} space`, join_rule: 'invite', room_type: 'm.space' },
      ],
      total_room_count_estimate: 2,
    });
    const first = await ask(new GetFederationPublicRooms({ genericSearchTerm: tag, limit: 1 }));
    expect(first).toMatchObject({ chunk: [{ room_id: big }], next_batch: 'o1', total_room_count_estimate: 2 });
    expect(first.prev_batch).toBeUndefined();
    const second = await ask(new GetFederationPublicRooms({ genericSearchTerm: tag, limit: 1, since: first.next_batch }));
    expect(second).toMatchObject({ chunk: [{ room_id: space }], prev_batch: 'o0' });
    expect(second.next_batch).toBeUndefined();
    expect((await ask(new GetFederationPublicRooms({ genericSearchTerm: tag, roomTypes: ['m.space'] }))).chunk.map((c) => c.room_id)).toEqual([space]);
    expect((await ask(new GetFederationPublicRooms({ genericSearchTerm: tag, roomTypes: [null] }))).chunk.map((c) => c.room_id)).toEqual([big]);
    expect((await ask(new GetFederationPublicRooms({ thirdPartyInstanceId: 'irc' }))).chunk).toEqual([]);
    await refusal(ask(new GetFederationPublicRooms({ since: 'nonsense' })), 'M_INVALID_PARAM');
  });
});

