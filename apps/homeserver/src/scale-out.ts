/**
 * The homeserver as several processes on one database (docs/scale-out.md): the bus between
 * them (Kafka), what a projector process tells the others, and what a client process learns
 * from them. One process that runs every role needs none of this and opens no bus.
 */
import { BUS_TOPICS, KafkaBus, type Bus, type BusMessage } from '@hs/bus';
import type { HomeserverConfig } from '@hs/config';
import { readActive, type CheckpointListener, type WrittenBatch } from '@hs/eventstore';
import { PlainEventRows, SYNC_PROJECTION, writtenEventRows, type EventRow } from '@hs/projections/sync';
import { PRESENCE_STATES, RELAY_REFRESH_MS, type PresenceState, type PresenceStore, type RelayedPresence, type TypingStore, type TypingUpdate } from '@hs/sync';
import type { Logger } from 'pino';
import type { CommonQueryMethods } from 'slonik';

/** Connects to the configured Kafka brokers, or null when none is configured (one process). */
export async function openBus(config: HomeserverConfig, logger: Logger): Promise<Bus | null> {
  const settings = config.kafka;
  if (settings.brokers.length === 0) return null;
  const log = logger.child({ component: 'bus' });
  const bus = await KafkaBus.connect({
    brokers: settings.brokers,
    topicPrefix: settings.topic_prefix,
    partitions: settings.partitions,
    replicationFactor: settings.replication_factor,
    clientId: settings.client_id,
    log: (level, message, fields) => {
      const { error, ...rest } = fields;
      log[level]({ ...rest, ...(error !== undefined ? { err: error } : {}) }, message);
    },
  });
  log.info({ brokers: settings.brokers, process_id: bus.processId }, 'connected to the bus');
  return bus;
}

/**
 * Subscribes to `topic`: each message `parse` accepts goes to `apply`, the others are logged
 * (as "a <what> that is not valid was ignored") and skipped. With `fromOthers`, this process's
 * own messages are skipped too.
 */
export function subscribeChecked<T>(
  bus: Bus,
  topic: string,
  what: string,
  parse: (value: unknown) => T | null,
  apply: (value: T) => void | Promise<void>,
  logger: Logger,
  fromOthers = true,
): Promise<() => Promise<void>> {
  return bus.subscribe(topic, async (message: BusMessage) => {
    if (fromOthers && message.origin === bus.processId) return;
    const parsed = parse(message.value);
    if (parsed === null) {
      logger.warn({ origin: message.origin }, `a ${what} that is not valid was ignored`);
      return;
    }
    await apply(parsed);
  });
}

/** What a projector process publishes: the position each projection has applied. */
interface CheckpointsMessage {
  positions: Record<string, string>;
  /**
   * The timeline rows the sync projection wrote over (after, its position], when every batch
   * of that range was plain (no state change) and they are few: a client process wakes its
   * /sync requests from them instead of reading them back from the database.
   */
  syncRows?: { after: string; rows: SerializedEventRow[] };
}

/** An event row as it travels: the bigints as decimal strings. */
type SerializedEventRow = Omit<EventRow, 'position' | 'depth'> & { position: string; depth: string };

/** Most rows a message carries; a longer range is read back from the database by the receivers. */
export const MAX_RELAYED_ROWS = 200;

function serializeRow(row: EventRow): SerializedEventRow {
  return { ...row, position: row.position.toString(), depth: row.depth.toString() };
}

const DECIMAL = /^-?[0-9]{1,20}$/;
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isNullableString = (value: unknown) => value === null || typeof value === 'string';
const isNullableObject = (value: unknown) => value === null || isObject(value);

function parseRow(value: unknown): EventRow | null {
  if (!isObject(value)) return null;
  const row = value as Partial<SerializedEventRow>;
  if (typeof row.position !== 'string' || !DECIMAL.test(row.position) || typeof row.depth !== 'string' || !DECIMAL.test(row.depth)) return null;
  if (typeof row.event_id !== 'string' || typeof row.room_id !== 'string' || typeof row.type !== 'string' || typeof row.sender !== 'string') return null;
  if (!isNullableString(row.state_key) || typeof row.in_timeline !== 'boolean' || !isObject(row.event)) return null;
  if (!isNullableObject(row.prev_content) || !isNullableString(row.prev_sender) || !isNullableString(row.replaces_state) || !isNullableObject(row.redacted_because)) return null;
  if (!isNullableString(row.txn_user) || !isNullableString(row.txn_device) || !isNullableString(row.txn_id) || !isNullableObject(row.extra_unsigned)) return null;
  return { ...(row as SerializedEventRow), position: BigInt(row.position), depth: BigInt(row.depth) } as EventRow;
}

/** How often a projector process repeats its positions, so a process that just started learns them. */
export const CHECKPOINT_REPEAT_MS = 1000;

export interface CheckpointPublisher {
  /** The runner's checkpoint listener. */
  listener: CheckpointListener;
  stop(): Promise<void>;
}

/**
 * Publishes every projection's position to the other processes as it advances: one message
 * holds them all (one key, so they arrive in order), at most one is in flight, and the next
 * carries whatever advanced meanwhile, with the sync projection's plain rows of that range
 * when it has them all. The positions are also repeated every CHECKPOINT_REPEAT_MS.
 */
export function publishCheckpoints(bus: Bus, logger: Logger): CheckpointPublisher {
  const positions = new Map<string, bigint>();
  // The sync projection's rows since the last message: null when some batch of the range left them unknown.
  let syncRows: { after: bigint; rows: EventRow[] } | null = null;
  let syncRowsKnown = false;
  let dirty = false;
  let sending: Promise<void> | null = null;
  let stopped = false;
  const send = (): void => {
    if (sending || stopped) return;
    dirty = false;
    const message: CheckpointsMessage = { positions: Object.fromEntries([...positions].map(([name, position]) => [name, position.toString()])) };
    if (syncRows && syncRowsKnown && syncRows.rows.length <= MAX_RELAYED_ROWS && positions.has(SYNC_PROJECTION)) {
      message.syncRows = { after: syncRows.after.toString(), rows: syncRows.rows.map(serializeRow) };
    }
    const covered = positions.get(SYNC_PROJECTION);
    syncRows = covered === undefined ? null : { after: covered, rows: [] };
    syncRowsKnown = covered !== undefined;
    sending = bus
      .publish(BUS_TOPICS.checkpoints, 'positions', message)
      .catch((error: unknown) => logger.warn({ err: error }, 'projection positions could not be published; they are sent again with the next advance'))
      .finally(() => {
        sending = null;
        if (dirty) send();
      });
  };
  const repeat = setInterval(send, CHECKPOINT_REPEAT_MS);
  repeat.unref();
  return {
    listener: (name, position, wrote, written) => {
      const before = positions.get(name);
      if (position <= (before ?? -1n)) return;
      if (name === SYNC_PROJECTION) {
        const rows = !wrote ? [] : written !== undefined && written.after === before ? writtenEventRows(written.value) : undefined;
        if (rows === undefined || !syncRows || syncRows.rows.length + rows.length > MAX_RELAYED_ROWS) syncRowsKnown = false;
        else syncRows.rows.push(...rows);
      }
      positions.set(name, position);
      dirty = true;
      send();
    },
    async stop() {
      stopped = true;
      clearInterval(repeat);
      await sending;
    },
  };
}

function parseCheckpoints(value: unknown): { positions: Map<string, bigint>; syncRows?: WrittenBatch } | null {
  if (!isObject(value)) return null;
  const message = value as Partial<CheckpointsMessage>;
  if (!isObject(message.positions)) return null;
  const positions = new Map<string, bigint>();
  for (const [name, position] of Object.entries(message.positions)) {
    if (typeof position !== 'string' || !/^[0-9]{1,20}$/.test(position)) return null;
    positions.set(name, BigInt(position));
  }
  const relayed = message.syncRows;
  if (!isObject(relayed) || typeof relayed.after !== 'string' || !/^[0-9]{1,20}$/.test(relayed.after) || !Array.isArray(relayed.rows)) return { positions };
  const rows = relayed.rows.map(parseRow);
  // Rows that do not parse are not used: the receiver reads the range back from the database.
  if (rows.some((row) => row === null)) return { positions };
  return { positions, syncRows: { after: BigInt(relayed.after), value: new PlainEventRows(rows as EventRow[]) } };
}

/**
 * A process that runs no projections learns how far they are from the projector process:
 * the positions published on the bus from now on, and those stored in the database (for the
 * time before). `advance` gets each projection's position, never one lower than before, and
 * for the sync projection the rows written since the previous message when it carried them.
 */
export async function followCheckpoints(
  bus: Bus,
  db: CommonQueryMethods,
  names: readonly string[],
  advance: (name: string, position: bigint, written?: WrittenBatch) => void,
  logger: Logger,
): Promise<() => Promise<void>> {
  const known = new Map<string, bigint>();
  const apply = (name: string, position: bigint, written?: WrittenBatch) => {
    if (!names.includes(name) || position <= (known.get(name) ?? -1n)) return;
    known.set(name, position);
    advance(name, position, written);
  };
  const unsubscribe = await subscribeChecked(
    bus,
    BUS_TOPICS.checkpoints,
    'message of projection positions',
    parseCheckpoints,
    (parsed) => {
      for (const [name, position] of parsed.positions) apply(name, position, name === SYNC_PROJECTION ? parsed.syncRows : undefined);
    },
    logger,
    false,
  );
  for (const name of names) {
    const active = await readActive(db, name);
    if (active) apply(name, active.checkpoint);
  }
  return unsubscribe;
}

/** A typing notification as it travels between processes. */
interface TypingMessage {
  roomId: string;
  userId: string;
  typing: boolean;
  timeoutMs?: number;
}

function parseTyping(value: unknown): TypingMessage | null {
  if (typeof value !== 'object' || value === null) return null;
  const { roomId, userId, typing, timeoutMs } = value as Partial<TypingMessage>;
  if (typeof roomId !== 'string' || typeof userId !== 'string' || typeof typing !== 'boolean') return null;
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0)) return null;
  return { roomId, userId, typing, ...(timeoutMs !== undefined ? { timeoutMs } : {}) };
}

/**
 * Typing notifications reach every client process: those set by requests here are
 * published (keyed by room), those of other processes are applied here as relayed.
 */
export async function relayTyping(bus: Bus, typing: TypingStore, logger: Logger): Promise<() => Promise<void>> {
  const unsubscribe = await subscribeChecked(
    bus,
    BUS_TOPICS.typing,
    'typing message',
    parseTyping,
    (update) => typing.setTyping(update.roomId, update.userId, update.typing, update.timeoutMs, true),
    logger,
  );
  const subscription = typing.updates.subscribe((update: TypingUpdate) => {
    if (update.relayed) return;
    const message: TypingMessage = { roomId: update.roomId, userId: update.userId, typing: update.typing, ...(update.timeoutMs !== undefined ? { timeoutMs: update.timeoutMs } : {}) };
    bus.publish(BUS_TOPICS.typing, update.roomId, message).catch((error: unknown) => logger.warn({ err: error, room_id: update.roomId }, 'a typing notification could not be published to the other processes'));
  });
  return async () => {
    subscription.unsubscribe();
    await unsubscribe();
  };
}

/** A local user's presence as it travels between processes. */
interface PresenceMessage extends RelayedPresence {
  userId: string;
}

function parsePresence(value: unknown): PresenceMessage | null {
  if (typeof value !== 'object' || value === null) return null;
  const { userId, state, statusMsg, lastActiveTs, currentlyActive } = value as Partial<PresenceMessage>;
  if (typeof userId !== 'string' || typeof state !== 'string' || !(PRESENCE_STATES as readonly string[]).includes(state)) return null;
  if (statusMsg !== undefined && typeof statusMsg !== 'string') return null;
  if (typeof lastActiveTs !== 'number' || !Number.isFinite(lastActiveTs) || typeof currentlyActive !== 'boolean') return null;
  return { userId, state: state as PresenceState, ...(statusMsg !== undefined ? { statusMsg } : {}), lastActiveTs, currentlyActive };
}

/**
 * Presence reaches every process: a change of a local user computed here (their request, their
 * sync, a timeout) is published, keyed by user; one computed by another process is taken as
 * given here (`PresenceStore.setRelayed`) until the user's own requests reach this process.
 * What a process computes is told again every `refreshMs`; a process that stops telling (it
 * died) loses its users to offline everywhere else after `RELAY_LEASE_MS`.
 */
export async function relayPresence(bus: Bus, presence: PresenceStore, logger: Logger, refreshMs = RELAY_REFRESH_MS): Promise<() => Promise<void>> {
  const unsubscribe = await subscribeChecked(
    bus,
    BUS_TOPICS.presence,
    'presence message',
    parsePresence,
    ({ userId, ...relayed }) => presence.setRelayed(userId, relayed),
    logger,
  );
  const publish = (userId: string) => {
    if (presence.isRelayed(userId)) return;
    const relayable = presence.relayable(userId);
    if (!relayable) return;
    const message: PresenceMessage = { userId, ...relayable };
    bus.publish(BUS_TOPICS.presence, userId, message).catch((error: unknown) => logger.warn({ err: error }, 'a presence change could not be published to the other processes'));
  };
  const stop = presence.onChange(publish);
  // Told again now and then: the others keep it while this process lives (RELAY_LEASE_MS).
  const refresh = setInterval(() => {
    for (const userId of presence.computedHere()) publish(userId);
  }, refreshMs);
  refresh.unref();
  return async () => {
    clearInterval(refresh);
    stop();
    await unsubscribe();
  };
}

/** What receives other servers' `m.presence` EDUs (the federation listener's port). */
export interface PresenceReceiver {
  receive(origin: string, content: Record<string, unknown>): Promise<void>;
}

/**
 * Other servers' presence reaches every process: an `m.presence` EDU a federation process
 * received is published as it came, and every other process hands it to its own receiver,
 * which applies the same checks (entries about users of other servers than the origin are
 * dropped). Returns the receiver for this process's federation listener and what stops it.
 */
export async function relayRemotePresence(bus: Bus, receiver: PresenceReceiver, logger: Logger): Promise<{ receiver: PresenceReceiver; stop: () => Promise<void> }> {
  const stop = await subscribeChecked(
    bus,
    BUS_TOPICS.remotePresence,
    'presence message of another server',
    (value) => {
      const edu = value as { origin?: unknown; content?: unknown } | null;
      return typeof edu?.origin === 'string' && isObject(edu.content) ? { origin: edu.origin, content: edu.content } : null;
    },
    ({ origin, content }) => receiver.receive(origin, content),
    logger,
  );
  return {
    receiver: {
      async receive(origin, content) {
        bus.publish(BUS_TOPICS.remotePresence, 'presence', { origin, content }).catch((error: unknown) => logger.warn({ err: error, origin }, 'presence of another server could not be published to the other processes'));
        await receiver.receive(origin, content);
      },
    },
    stop,
  };
}
