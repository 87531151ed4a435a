/**
 * The bus between the processes of one homeserver (ARCHITECTURE.md section 3): what must
 * reach every process and is not in the event store — that a read model advanced (so /sync
 * long-polls wake on every client process), typing notifications, presence, room commands
 * and their answers, EDUs for the federation sender. Room events
 * never travel on it: what it says about them is read from the store.
 */

/** A message as a subscriber receives it. */
export interface BusMessage<T = unknown> {
  /** Messages of one key arrive in the order they were published. */
  key: string;
  value: T;
  /** The process that published it ({@link Bus.processId}). */
  origin: string;
}

export type BusHandler<T = unknown> = (message: BusMessage<T>) => void | Promise<void>;

export interface Bus {
  /** Names this process on the bus (random per start). */
  readonly processId: string;
  /** `in-process` (one process, nothing leaves it) or `kafka`. */
  readonly kind: string;
  /**
   * Publishes a JSON value to every process subscribed to `topic`, this one included.
   * Resolves once the bus holds it (Kafka: the partition leader acknowledged it).
   */
  publish(topic: string, key: string, value: unknown): Promise<void>;
  /**
   * Delivers every message published to `topic` after the returned promise resolved, to this
   * process (every process that subscribes gets every message). Handlers of one subscription
   * run one at a time; a handler that throws is logged by the adapter and the message is
   * skipped. Resolves to a function that ends the subscription.
   */
  subscribe<T = unknown>(topic: string, handler: BusHandler<T>): Promise<() => Promise<void>>;
  /**
   * Shares the messages of `topic` among the processes consuming it as `group`: each message
   * goes to one of them, those of one key always to the same one while it lives (Kafka: the
   * group's partition assignment), in the order they were published. Delivery is at least
   * once: a message the handler had not finished when its process died goes to the next owner
   * of its key. Handlers of different keys may run at the same time.
   */
  consume<T = unknown>(topic: string, group: string, handler: BusHandler<T>): Promise<() => Promise<void>>;
  /**
   * Whether this process, consuming `topic` as `group`, is now the one the messages of `key`
   * go to (Kafka: it holds the key's partition since the group's last assignment; false while
   * the group rebalances). What this says can be out of date by the time it is acted upon: it
   * spares a round trip, it does not make the process the only one.
   */
  holds(topic: string, group: string, key: string): boolean;
  /** Ends every subscription and the connections. */
  close(): Promise<void>;
}

/** The topics the homeserver's processes share (prefixed by `kafka.topic_prefix`). */
export const BUS_TOPICS = {
  /** `{ name, position }`: a projection applied the store up to `position`. Keyed by projection. */
  checkpoints: 'checkpoints',
  /** `{ roomId, userId, typing, timeoutMs }`: a local user started or stopped typing. Keyed by room. */
  typing: 'typing',
  /** `{ userId, state, statusMsg, lastActiveTs, currentlyActive }`: a local user's presence changed. Keyed by user. */
  presence: 'presence',
  /** `{ origin, content }`: an `m.presence` EDU another server sent to one of the processes. One key. */
  remotePresence: 'remote-presence',
  /** A command for a room's writer (consumed by the `room-writers` group). Keyed by room. */
  roomCommands: 'room-commands',
  /** The answer to a room command. Keyed by the process that asked. */
  roomReplies: 'room-replies',
  /** `{ destinations, edu, key }` or `{ reachable }`: for the federation sender, from processes without it. One key. */
  federationOutbox: 'federation-outbox',
} as const;

export type BusTopic = (typeof BUS_TOPICS)[keyof typeof BUS_TOPICS];
