/**
 * Test bed of the room write side: an in-memory PGlite (or a fresh temporary database on the
 * PostgreSQL server of TEST_DATABASE_URL) with the event store and room migrations, the
 * PostgreSQL event store, and the RoomModule in a Nest testing module with the CQRS buses.
 */
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Test, type TestingModule } from '@nestjs/testing';
import { sql } from 'slonik';
import { z } from 'zod';
import { CommandBus, CqrsModule, QueryBus, type Command, type Query } from '@nestjs/cqrs';
import { ROOM_EVENT_ACCEPTED, roomStream, type RoomEventAccepted } from '@hs/contracts';
import { PostgresEventStore, type RecordedEvent } from '@hs/eventstore';
import { createTemporaryDatabase, migrate, openDatabase, type Database } from '@hs/persistence';
import { signingKeyFromSeed, type SigningKey } from '@hs/protocol';
import { CreateRoom, JoinRoom, RoomCommandError, RoomModule, RoomWriter, type CreateRoomRequest, type RoomErrcode } from '../src';

export const SERVER_NAME = 'test.example.org';
export const ALICE = `@alice:${SERVER_NAME}`;
export const BOB = `@bob:${SERVER_NAME}`;
export const CAROL = `@carol:${SERVER_NAME}`;
export const DAVE = `@dave:${SERVER_NAME}`;

/** A clock the tests move by hand: every reading advances it by one millisecond. */
export class ManualClock {
  constructor(public now = 1_700_000_000_000) {}
  readonly read = (): number => this.now++;
}

export interface RoomTestBed {
  db: Database;
  store: PostgresEventStore;
  writer: RoomWriter;
  signingKey: SigningKey;
  module: TestingModule;
  run<T>(command: Command<T>): Promise<T>;
  ask<T>(query: Query<T>): Promise<T>;
  /** The records of a room's stream. */
  stream(roomId: string): Promise<RecordedEvent[]>;
  /** The RoomEventAccepted facts of a room's stream. */
  accepted(roomId: string): Promise<RoomEventAccepted[]>;
  close(): Promise<void>;
}

const REPO = resolve(__dirname, '../../..');

export async function openRoomTestBed(options: { maxAttempts?: number; defaultRoomVersion?: string } = {}): Promise<RoomTestBed> {
  const baseUrl = process.env.TEST_DATABASE_URL;
  const temporary = baseUrl ? await createTemporaryDatabase(baseUrl, 'hs_room_test') : null;
  const db = await openDatabase(temporary ? { url: temporary.url, maxConnections: 6 } : { maxConnections: 6 });
  const dir = mkdtempSync(join(tmpdir(), 'room-migrations-'));
  try {
    for (const owner of ['eventstore', 'room']) symlinkSync(join(REPO, 'migrations', owner), join(dir, owner));
    await migrate(db, { dir });
  } catch (error) {
    await db.close();
    await temporary?.drop();
    throw error;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const store = await PostgresEventStore.open(db);
  const signingKey = signingKeyFromSeed(new Uint8Array(32).fill(7), 'ed25519:test');
  const clock = new ManualClock();
  const module = await Test.createTestingModule({
    imports: [
      CqrsModule.forRoot(),
      RoomModule.forRoot({
        dependencies: { pool: db.pool, store, serverName: SERVER_NAME, signingKey, clock: clock.read, options },
      }),
    ],
  }).compile();
  await module.init();
  const commands = module.get(CommandBus);
  const queries = module.get(QueryBus);
  const stream = (roomId: string) => store.readStream(roomStream(roomId));
  return {
    db,
    store,
    writer: module.get(RoomWriter),
    signingKey,
    module,
    run: (command) => commands.execute(command),
    ask: (query) => queries.execute(query),
    stream,
    async accepted(roomId) {
      return (await stream(roomId)).filter((r) => r.type === ROOM_EVENT_ACCEPTED).map((r) => r.data as unknown as RoomEventAccepted);
    },
    async close() {
      await module.close();
      await store.close();
      await db.close();
      await temporary?.drop();
    },
  };
}

/**
 * Opens a test bed before the tests of the enclosing `describe` and closes it after them.
 * The returned bed reads through to the open one, so use it inside hooks and tests.
 */
export function useRoomTestBed(options: { maxAttempts?: number; defaultRoomVersion?: string } = {}): RoomTestBed {
  let opened: RoomTestBed | undefined;
  beforeAll(async () => {
    opened = await openRoomTestBed(options);
  });
  afterAll(async () => {
    await opened?.close();
  });
  const bed = (): RoomTestBed => {
    if (opened === undefined) throw new Error('the test bed is open only during the tests of its describe block');
    return opened;
  };
  return {
    get db() {
      return bed().db;
    },
    get store() {
      return bed().store;
    },
    get writer() {
      return bed().writer;
    },
    get signingKey() {
      return bed().signingKey;
    },
    get module() {
      return bed().module;
    },
    run: (command) => bed().run(command),
    ask: (query) => bed().ask(query),
    stream: (roomId) => bed().stream(roomId),
    accepted: (roomId) => bed().accepted(roomId),
    close: () => bed().close(),
  };
}

/** Creates a room as `creator` (preset public_chat unless `request` says otherwise), joins `members` in order; resolves with the room id. */
export async function createJoinedRoom(bed: RoomTestBed, creator: string, members: readonly string[], request: CreateRoomRequest = {}): Promise<string> {
  const { roomId } = await bed.run(new CreateRoom(creator, { preset: 'public_chat', ...request }));
  for (const member of members) await bed.run(new JoinRoom(member, roomId));
  return roomId;
}

/** Awaits `promise` and returns the RoomCommandError it rejects with, checking its errcode. */
export async function refusal(promise: Promise<unknown>, errcode: RoomErrcode): Promise<RoomCommandError> {
  let outcome: unknown;
  try {
    await promise;
    outcome = 'resolved';
  } catch (error) {
    outcome = error;
  }
  if (!(outcome instanceof RoomCommandError)) throw new Error(`expected RoomCommandError ${errcode}, got ${String(outcome)}`);
  expect(outcome.errcode).toBe(errcode);
  return outcome;
}

const WRITE_MODEL_TABLES = [
  'rooms',
  'events',
  'state_groups',
  'state_group_entries',
  'current_state',
  'forward_extremities',
  'client_transactions',
  'aliases',
  'forgotten',
];

/** Every row of the write model's tables, as sorted JSON texts per table. */
export async function dumpWriteModel(bed: RoomTestBed): Promise<Record<string, string[]>> {
  const result: Record<string, string[]> = {};
  for (const table of WRITE_MODEL_TABLES) {
    const rows = await bed.db.pool.anyFirst(
      sql.type(z.object({ row: z.string() }))`SELECT to_jsonb(t)::text AS row FROM ${sql.identifier(['room', table])} t ORDER BY 1`,
    );
    result[table] = [...rows];
  }
  return result;
}

