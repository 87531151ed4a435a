/**
 * What the processes of one server tell one another over the bus, with an in-memory bus shared
 * by two "processes" (the Kafka adapter itself is tested against a real broker in
 * test/scale-out).
 */
import { randomUUID } from 'node:crypto';
import { BUS_TOPICS, type Bus, type BusHandler } from '@hs/bus';
import { PresenceStore, RELAY_LEASE_MS, TypingStore } from '@hs/sync';
import pino from 'pino';
import { PlainEventRows, writtenEventRows, type EventRow } from '@hs/projections/sync';
import type { WrittenBatch } from '@hs/eventstore';
import type { CommonQueryMethods } from 'slonik';
import { CreateRoom, JoinRoom, KickFromRoom, LeaveRoom, RoomCommandError, SendRoomEvent } from '@hs/room';
import type { CommandBus, ICommand } from '@nestjs/cqrs';
import { roomOfCommand, routeRoomCommands } from './room-commands';
import { CHECKPOINT_REPEAT_MS, MAX_RELAYED_ROWS, followCheckpoints, publishCheckpoints, relayPresence, relayRemotePresence, relayTyping } from './scale-out';

/** Two or more buses that reach one another, each with its own process id. */
function sharedBuses(count: number): Bus[] {
  const subscribers = new Map<string, Array<{ handler: BusHandler; processId: string }>>();
  return Array.from({ length: count }, () => {
    const processId = randomUUID();
    const bus: Bus = {
      processId,
      kind: 'test',
      async publish(topic, key, value) {
        for (const subscriber of subscribers.get(topic) ?? []) await subscriber.handler({ key, value: JSON.parse(JSON.stringify(value)) as unknown, origin: processId });
      },
      async subscribe(topic, handler) {
        const entry = { handler: handler as BusHandler, processId };
        subscribers.set(topic, [...(subscribers.get(topic) ?? []), entry]);
        return async () => {
          subscribers.set(topic, (subscribers.get(topic) ?? []).filter((each) => each !== entry));
        };
      },
      consume(topic, _group, handler) {
        return bus.subscribe(topic, handler);
      },
      holds: () => false,
      async close() {
        for (const [topic, list] of subscribers) subscribers.set(topic, list.filter((each) => each.processId !== processId));
      },
    };
    return bus;
  });
}

const silent = pino({ level: 'silent' });

describe('projection positions on the bus', () => {
  afterEach(() => jest.useRealTimers());

  it('sends every position as it advances, coalescing what advanced while a message was on its way, and repeats them', async () => {
    jest.useFakeTimers();
    const [bus] = sharedBuses(1);
    const received: Array<Record<string, string>> = [];
    let release: () => void = () => undefined;
    await bus.subscribe<{ positions: Record<string, string> }>(BUS_TOPICS.checkpoints, async (message) => {
      received.push(message.value.positions);
      await new Promise<void>((resolve) => (release = resolve));
    });
    const publisher = publishCheckpoints(bus, silent);
    publisher.listener('sync', 5n, true);
    publisher.listener('sync', 7n, true);
    publisher.listener('receipts', 3n, false);
    publisher.listener('sync', 6n, true);
    expect(received).toEqual([{ sync: '5' }]);
    release();
    await Promise.resolve();
    await new Promise((resolve) => jest.requireActual<typeof import('node:timers')>('node:timers').setImmediate(resolve));
    expect(received).toEqual([{ sync: '5' }, { sync: '7', receipts: '3' }]);
    release();
    await jest.advanceTimersByTimeAsync(CHECKPOINT_REPEAT_MS);
    expect(received[received.length - 1]).toEqual({ sync: '7', receipts: '3' });
    expect(received.length).toBe(3);
    release();
    await publisher.stop();
  });
});

describe('the sync projection\'s rows with its positions', () => {
  function row(position: bigint, roomId = '!r:hs'): EventRow {
    return {
      position,
      event_id: `$e${position}`,
      room_id: roomId,
      type: 'm.room.message',
      sender: '@a:hs',
      state_key: null,
      depth: position + 10n,
      in_timeline: true,
      event: { type: 'm.room.message', event_id: `$e${position}`, room_id: roomId, sender: '@a:hs', origin_server_ts: 1, content: { body: `n${position}` } },
      prev_content: null,
      prev_sender: null,
      replaces_state: null,
      redacted_because: null,
      txn_user: '@a:hs',
      txn_device: 'D',
      txn_id: `t${position}`,
      extra_unsigned: null,
    } as EventRow;
  }
  const plain = (after: bigint, rows: EventRow[]): WrittenBatch => ({ after, value: new PlainEventRows(rows) });
  /** No stored checkpoints: the positions come from the bus only. */
  const noStoredCheckpoints = { maybeOne: async () => null, any: async () => [], one: async () => { throw new Error('none'); } } as unknown as CommonQueryMethods;

  it('hands a client process the rows of a range whose batches were all plain, and leaves the others to the database', async () => {
    const [projectorBus, clientBus] = sharedBuses(2);
    const advanced: Array<{ name: string; position: bigint; rows?: readonly EventRow[]; after?: bigint }> = [];
    const stop = await followCheckpoints(clientBus, noStoredCheckpoints, ['sync', 'receipts'], (name, position, written) => advanced.push({ name, position, ...(written ? { rows: writtenEventRows(written.value), after: written.after } : {}) }), silent);
    const publisher = publishCheckpoints(projectorBus, silent);
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    // The first advance: nothing known before it, no rows.
    publisher.listener('sync', 10n, true, plain(0n, [row(10n)]));
    await settle();
    // Two plain batches and one over nothing the projection handles.
    publisher.listener('sync', 12n, true, plain(10n, [row(11n), row(12n)]));
    await settle();
    publisher.listener('sync', 13n, false);
    await settle();
    // A batch that changed state (no rows reported): the range goes to the database.
    publisher.listener('sync', 15n, true);
    await settle();
    publisher.listener('receipts', 4n, true);
    await settle();
    expect(advanced.map(({ name, position, after, rows }) => [name, position, after, rows?.map((r) => r.position)])).toEqual([
      ['sync', 10n, undefined, undefined],
      ['sync', 12n, 10n, [11n, 12n]],
      ['sync', 13n, 12n, []],
      ['sync', 15n, undefined, undefined],
      ['receipts', 4n, undefined, undefined],
    ]);
    // The rows arrive as the projector wrote them, bigints included.
    expect(advanced[1].rows).toEqual([row(11n), row(12n)]);
    await publisher.stop();
    await stop();
  });

  it('sends no rows for a range longer than the limit, and ignores rows that do not parse', async () => {
    const [projectorBus, clientBus] = sharedBuses(2);
    const written: Array<WrittenBatch | undefined> = [];
    const stop = await followCheckpoints(clientBus, noStoredCheckpoints, ['sync'], (_name, _position, batch) => written.push(batch), silent);
    const publisher = publishCheckpoints(projectorBus, silent);
    publisher.listener('sync', 1n, true);
    await new Promise((resolve) => setImmediate(resolve));
    const many = Array.from({ length: MAX_RELAYED_ROWS + 1 }, (_, i) => row(BigInt(i + 2)));
    publisher.listener('sync', BigInt(MAX_RELAYED_ROWS + 2), true, plain(1n, many));
    await new Promise((resolve) => setImmediate(resolve));
    await projectorBus.publish(BUS_TOPICS.checkpoints, 'positions', { positions: { sync: '900' }, syncRows: { after: String(MAX_RELAYED_ROWS + 2), rows: [{ ...row(900n), position: 900, depth: '910' }] } });
    expect(written).toEqual([undefined, undefined, undefined]);
    await publisher.stop();
    await stop();
  });
});

describe('typing between processes', () => {
  it('relays what a request set here to the other process, never an update relayed from elsewhere', async () => {
    const [busA, busB] = sharedBuses(2);
    const [typingA, typingB] = [new TypingStore(), new TypingStore()];
    const published: unknown[] = [];
    await busA.subscribe(BUS_TOPICS.typing, (message) => void published.push(message.value));
    const stopA = await relayTyping(busA, typingA, silent);
    const stopB = await relayTyping(busB, typingB, silent);
    typingA.setTyping('!r:hs', '@a:hs', true, 10_000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(typingB.typing('!r:hs')).toEqual(['@a:hs']);
    typingA.setTyping('!r:hs', '@a:hs', false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(typingB.typing('!r:hs')).toEqual([]);
    // Only A's two changes went out: B applied them as relayed and published nothing.
    expect(published).toEqual([
      { roomId: '!r:hs', userId: '@a:hs', typing: true, timeoutMs: 10_000 },
      { roomId: '!r:hs', userId: '@a:hs', typing: false },
    ]);
    await busA.publish(BUS_TOPICS.typing, '!r:hs', { roomId: 42 });
    expect(typingB.typing('!r:hs')).toEqual([]);
    await stopA();
    await stopB();
    typingA.close();
    typingB.close();
  });
});

describe('presence between processes', () => {
  it('shows a local user\'s presence computed by one process on the other, until the user\'s own requests reach it', async () => {
    let now = 1_000_000;
    const [busA, busB] = sharedBuses(2);
    const [presenceA, presenceB] = [new PresenceStore({ now: () => now, sweepIntervalMs: 0 }), new PresenceStore({ now: () => now, sweepIntervalMs: 0 })];
    const published: unknown[] = [];
    await busA.subscribe(BUS_TOPICS.presence, (message) => void published.push(message.value));
    const stopA = await relayPresence(busA, presenceA, silent);
    const stopB = await relayPresence(busB, presenceB, silent);
    presenceA.setPresence('@a:hs', 'online', 'lunch');
    await new Promise((resolve) => setImmediate(resolve));
    expect(presenceB.status('@a:hs')).toEqual({ presence: 'online', last_active_ago: 0, status_msg: 'lunch', currently_active: true });
    expect(presenceB.isRelayed('@a:hs')).toBe(true);
    // B applies no timeout of its own to a relayed user (within the lease A's refreshes renew); A's timeouts reach B.
    now += RELAY_LEASE_MS - 1;
    presenceB.sweep();
    expect(presenceB.status('@a:hs')?.presence).toBe('online');
    now += 10 * 60_000;
    presenceA.sweep();
    await new Promise((resolve) => setImmediate(resolve));
    expect(presenceA.status('@a:hs')?.presence).toBe('offline');
    expect(presenceB.status('@a:hs')?.presence).toBe('offline');
    // Once the user's own request reaches B, B computes (and tells A).
    presenceB.setPresence('@a:hs', 'online', 'back');
    await new Promise((resolve) => setImmediate(resolve));
    expect(presenceB.isRelayed('@a:hs')).toBe(false);
    expect(presenceA.status('@a:hs')).toMatchObject({ presence: 'online', status_msg: 'back' });
    // Only changes computed by a process went out: none echoed back.
    expect(published).toHaveLength(3);
    await busA.publish(BUS_TOPICS.presence, '@x:hs', { userId: '@x:hs', state: 'dancing', lastActiveTs: 0, currentlyActive: false });
    expect(presenceB.status('@x:hs')).toBeUndefined();
    await stopA();
    await stopB();
    presenceA.close();
    presenceB.close();
  });
});

describe('presence told again', () => {
  it('tells the presence a process computes again and again, which changes nothing for the others\' clients', async () => {
    const [busA, busB] = sharedBuses(2);
    const [presenceA, presenceB] = [new PresenceStore({ sweepIntervalMs: 0 }), new PresenceStore({ sweepIntervalMs: 0 })];
    const told: string[] = [];
    await busB.subscribe(BUS_TOPICS.presence, (message) => void told.push(message.key));
    const changesOnB: string[] = [];
    presenceB.onChange((userId) => changesOnB.push(userId));
    const stopA = await relayPresence(busA, presenceA, silent, 20);
    const stopB = await relayPresence(busB, presenceB, silent, 20);
    presenceA.setPresence('@a:hs', 'online');
    presenceA.setPresence('@gone:hs', 'offline');
    await new Promise((resolve) => setTimeout(resolve, 150));
    // The change, then the refreshes (the offline user and B's relayed copy are not told again).
    expect(told.filter((key) => key === '@a:hs').length).toBeGreaterThanOrEqual(3);
    expect(told.filter((key) => key === '@gone:hs')).toEqual(['@gone:hs']);
    expect(new Set(changesOnB)).toEqual(new Set(['@a:hs', '@gone:hs']));
    expect(changesOnB.filter((userId) => userId === '@a:hs')).toHaveLength(1);
    await stopA();
    await stopB();
    presenceA.close();
    presenceB.close();
  });
});

describe('room commands through the room writers', () => {
  /** A command bus that records what it ran, answering with `answer`. */
  function commandBus(answer: (command: ICommand) => Promise<unknown>): { bus: CommandBus; ran: ICommand[] } {
    const ran: ICommand[] = [];
    const bus = {
      execute: (command: ICommand) => {
        ran.push(command);
        return answer(command);
      },
    } as unknown as CommandBus;
    return { bus, ran };
  }

  it('hands other servers\' presence received by one process to the others, once', async () => {
    const [federationBus, clientBus] = sharedBuses(2);
    const received: Array<{ process: string; origin: string; content: Record<string, unknown> }> = [];
    const receiver = (process: string) => ({ receive: async (origin: string, content: Record<string, unknown>) => void received.push({ process, origin, content }) });
    const federationSide = await relayRemotePresence(federationBus, receiver('federation'), silent);
    const clientSide = await relayRemotePresence(clientBus, receiver('client'), silent);
    const content = { push: [{ user_id: '@carol:b.org', presence: 'online', currently_active: true }] };
    await federationSide.receiver.receive('b.org', content);
    await clientBus.publish(BUS_TOPICS.remotePresence, 'presence', { origin: 7, content });
    expect([...received].sort((a, b) => a.process.localeCompare(b.process))).toEqual([
      { process: 'client', origin: 'b.org', content },
      { process: 'federation', origin: 'b.org', content },
    ]);
    await federationSide.stop();
    await clientSide.stop();
  });

  it('names the room of a command that writes to one, and no room for the others', () => {
    expect(roomOfCommand(new SendRoomEvent('@a:hs', '!r:hs', 'm.room.message', {}))).toBe('!r:hs');
    expect(roomOfCommand(new JoinRoom('@a:hs', '!r:hs'))).toBe('!r:hs');
    expect(roomOfCommand(new JoinRoom('@a:hs', '#alias:hs'))).toBeNull();
    expect(roomOfCommand(new CreateRoom('@a:hs', {}))).toBeNull();
  });

  it('runs a room command on the writer, answers with its result or its Matrix error, and runs the others where they are', async () => {
    const [clientBus, writerBus] = sharedBuses(2);
    const client = commandBus(async () => ({ roomId: '!new:hs' }));
    const writer = commandBus(async (command) => {
      if (command instanceof SendRoomEvent) return { eventId: '$sent' };
      if (command instanceof LeaveRoom) throw new RoomCommandError('M_FORBIDDEN', 'not in the room', 'membership', 403, { extra_field: 1 });
      throw new Error('the database went away');
    });
    const writing = await routeRoomCommands(writerBus, [writer.bus], { writer: true, logger: silent });
    const routing = await routeRoomCommands(clientBus, [client.bus], { writer: false, logger: silent });

    await expect(client.bus.execute(new SendRoomEvent('@a:hs', '!r:hs', 'm.room.message', { body: 'hi' }, { txn: { deviceId: 'D', txnId: 't1' } }))).resolves.toEqual({ eventId: '$sent' });
    const ran = writer.ran[0];
    expect(ran).toBeInstanceOf(SendRoomEvent);
    expect(ran).toEqual(new SendRoomEvent('@a:hs', '!r:hs', 'm.room.message', { body: 'hi' }, { txn: { deviceId: 'D', txnId: 't1' } }));

    const refused = await client.bus.execute(new LeaveRoom('@a:hs', '!r:hs')).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RoomCommandError);
    expect(refused).toMatchObject({ errcode: 'M_FORBIDDEN', reason: 'not in the room', rule: 'membership', httpStatus: 403, extra: { extra_field: 1 } });
    await expect(client.bus.execute(new KickFromRoom('@a:hs', '!r:hs', '@b:hs'))).rejects.toThrow('the room writer failed: the database went away');

    await expect(client.bus.execute(new CreateRoom('@a:hs', {}))).resolves.toEqual({ roomId: '!new:hs' });
    expect(client.ran.map((command) => command.constructor.name)).toEqual(['CreateRoom']);
    await routing.stop();
    await writing.stop();
  });

  it('runs a room command at once in the process that writes the room, without the bus', async () => {
    const [clientBus, writerBus] = sharedBuses(2);
    const held = new Set(['!mine:hs']);
    const holdingBus: Bus = { ...writerBus, holds: (topic, group, key) => topic === BUS_TOPICS.roomCommands && group === 'room-writers' && held.has(key) };
    const published: string[] = [];
    const watchedBus: Bus = {
      ...holdingBus,
      publish: async (topic, key, value) => {
        published.push(`${topic} ${key}`);
        await writerBus.publish(topic, key, value);
      },
    };
    const writer = commandBus(async (command) => ({ eventId: `$${(command as SendRoomEvent).roomId}` }));
    const writing = await routeRoomCommands(watchedBus, [writer.bus], { writer: true, logger: silent });
    // Its own room: run here, nothing published.
    await expect(writer.bus.execute(new SendRoomEvent('@a:hs', '!mine:hs', 'm.room.message', {}))).resolves.toEqual({ eventId: '$!mine:hs' });
    expect(published).toEqual([]);
    // Another writer's room: through the bus (no other writer here, so nobody answers in time).
    const other = commandBus(async () => ({ eventId: '$elsewhere' }));
    const elsewhere = await routeRoomCommands(clientBus, [other.bus], { writer: true, logger: silent });
    await expect(writer.bus.execute(new SendRoomEvent('@a:hs', '!theirs:hs', 'm.room.message', {}))).resolves.toEqual({ eventId: expect.any(String) });
    expect(published).toContain('room-commands !theirs:hs');
    await elsewhere.stop();
    await writing.stop();
  });

  it('answers 504 when no writer runs the command in time, and a writer skips a command its sender gave up on', async () => {
    const [clientBus, writerBus] = sharedBuses(2);
    const client = commandBus(async () => undefined);
    const routing = await routeRoomCommands(clientBus, [client.bus], { writer: false, logger: silent, timeoutMs: 50 });
    const error = await client.bus.execute(new SendRoomEvent('@a:hs', '!r:hs', 'm.room.message', {})).catch((e: unknown) => e);
    expect(error).toMatchObject({ errcode: 'M_UNKNOWN', httpStatus: 504 });

    const writer = commandBus(async () => ({ eventId: '$late' }));
    const writing = await routeRoomCommands(writerBus, [writer.bus], { writer: true, logger: silent, timeoutMs: 50 });
    await clientBus.publish(BUS_TOPICS.roomCommands, '!r:hs', { id: 'x', replyTo: clientBus.processId, name: 'SendRoomEvent', data: {}, sentAt: Date.now() - 1000 });
    await clientBus.publish(BUS_TOPICS.roomCommands, '!r:hs', { nonsense: true });
    expect(writer.ran).toEqual([]);
    await routing.stop();
    await writing.stop();
  });
});
