/**
 * What the room module needs from the host process, by injection token:
 * the slonik pool of the database that holds the event store and the write model, the event
 * store (PostgreSQL/PGlite adapter: it must append inside a transaction), the server name, the
 * signing key and a clock.
 */
import type { AppendResult, AppendWrites, ExpectedRevision, NewEvent } from '@hs/eventstore';
import type { DatabaseTransactionConnection } from 'slonik';

/** Injection token of the slonik `DatabasePool`. */
export const ROOM_DATABASE_POOL = Symbol('ROOM_DATABASE_POOL');
/** Injection token of the event store (a {@link TransactionalEventStore}, e.g. `PostgresEventStore`). */
export const ROOM_EVENT_STORE = Symbol('ROOM_EVENT_STORE');
/** Injection token of the `PublishedRoomsSource` the room directory is read from (optional: the write model otherwise). */
export const ROOM_PUBLISHED_ROOMS = Symbol('ROOM_PUBLISHED_ROOMS');
/** Injection token of this server's name (string). */
export const ROOM_SERVER_NAME = Symbol('ROOM_SERVER_NAME');
/** Injection token of the `SigningKey` events are signed with. */
export const ROOM_SIGNING_KEY = Symbol('ROOM_SIGNING_KEY');
/** Injection token of the {@link Clock}. */
export const ROOM_CLOCK = Symbol('ROOM_CLOCK');
/** Injection token of the optional {@link RoomModuleOptions}. */
export const ROOM_OPTIONS = Symbol('ROOM_OPTIONS');

/** Injection token of the optional `FederationRoomsOptions`. */
export const ROOM_FEDERATION_OPTIONS = Symbol('ROOM_FEDERATION_OPTIONS');

/** Milliseconds since the epoch. */
export type Clock = () => number;

/** The part of the event store the write side uses: appending inside the write-model transaction. */
export interface TransactionalEventStore {
  /**
   * Runs `work` in a transaction of the store's database; the events it appends with
   * `appendInTransaction` count as acknowledged writes (reads wait for them) once it commits.
   * The write side opens every transaction that appends this way.
   */
  transaction<T>(work: (tx: DatabaseTransactionConnection) => Promise<T>): Promise<T>;
  appendInTransaction(
    tx: DatabaseTransactionConnection,
    stream: string,
    expectedRevision: ExpectedRevision,
    events: NewEvent[],
  ): Promise<AppendResult>;
  /**
   * Appends and runs further writes (common table expressions named with `cte(...)` that may
   * read `cte('appended')(event_id, position, revision, written)`) in one statement that
   * commits on its own, possibly together with the appends of other rooms (group commit).
   */
  appendWithWrites(stream: string, expectedRevision: ExpectedRevision, events: NewEvent[], writes: AppendWrites): Promise<AppendResult>;
}

export interface RoomModuleOptions {
  /** The room version of new rooms when createRoom names none (default DEFAULT_ROOM_VERSION). */
  defaultRoomVersion?: string;
  /** Attempts of one command when another process appended to the room first (default 5). */
  maxAttempts?: number;
}
