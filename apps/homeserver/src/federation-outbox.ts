/**
 * What goes to other servers from a process that does not send to them itself: the EDUs its
 * requests produce (to-device messages, device list updates of our users) travel over the bus
 * to the process with the `federation-sender` role, which queues them as its own; so do the
 * servers that sent us an authenticated request (their backoff ends at once). Room events
 * never travel here: the sender reads them from the store.
 */
import { BUS_TOPICS, type Bus } from '@hs/bus';
import type { Edu } from '@hs/federation-sender';
import type { Logger } from 'pino';
import { subscribeChecked } from './scale-out';

/** Where EDUs for other servers are queued: the sender itself, or the bus to it. */
export interface FederationOutbox {
  enqueueEdu(destinations: Iterable<string>, edu: Edu, key?: string): void;
  markReachable(server: string): void;
}

/** One message of the outbox topic. */
type OutboxMessage = { destinations: string[]; edu: Edu; key?: string } | { reachable: string };

/** Every message goes under one key: EDUs reach the sender in the order they were queued. */
const OUTBOX_KEY = 'outbox';

/** A server heard from is announced at most this often. */
const REACHABLE_REPEAT_MS = 10_000;

/** The outbox of a process without the sender: everything is published to the bus. */
export function busFederationOutbox(bus: Bus, logger: Logger, clock: () => number = Date.now): FederationOutbox {
  const announced = new Map<string, number>();
  const publish = (message: OutboxMessage, what: string) =>
    bus.publish(BUS_TOPICS.federationOutbox, OUTBOX_KEY, message).catch((error: unknown) => logger.warn({ err: error }, `${what} could not be handed to the federation sender`));
  return {
    enqueueEdu(destinations, edu, key) {
      const list = [...destinations];
      if (list.length === 0) return;
      void publish({ destinations: list, edu, ...(key !== undefined ? { key } : {}) }, `an ${edu.edu_type} EDU`);
    },
    markReachable(server) {
      const now = clock();
      const last = announced.get(server);
      if (last !== undefined && now - last < REACHABLE_REPEAT_MS) return;
      announced.set(server, now);
      if (announced.size > 10_000) announced.clear();
      void publish({ reachable: server }, 'a server that reached us');
    },
  };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function parseOutboxMessage(value: unknown): OutboxMessage | null {
  if (typeof value !== 'object' || value === null) return null;
  const message = value as Record<string, unknown>;
  if (typeof message.reachable === 'string') return { reachable: message.reachable };
  const { destinations, edu, key } = message;
  if (!isStringArray(destinations) || typeof edu !== 'object' || edu === null || Array.isArray(edu)) return null;
  const { edu_type: eduType, content } = edu as Record<string, unknown>;
  if (typeof eduType !== 'string' || typeof content !== 'object' || content === null || Array.isArray(content)) return null;
  if (key !== undefined && typeof key !== 'string') return null;
  return { destinations, edu: { edu_type: eduType, content: content as Edu['content'] }, ...(key !== undefined ? { key } : {}) };
}

/**
 * The sender's side: what other processes publish to the outbox is queued here. A sender that
 * is standing by drops it (its queues are not running), as it drops its own process's EDUs.
 */
export async function serveFederationOutbox(bus: Bus, outbox: FederationOutbox, logger: Logger): Promise<() => Promise<void>> {
  return subscribeChecked(
    bus,
    BUS_TOPICS.federationOutbox,
    'federation outbox message',
    parseOutboxMessage,
    (parsed) => {
      if ('reachable' in parsed) outbox.markReachable(parsed.reachable);
      else outbox.enqueueEdu(parsed.destinations, parsed.edu, parsed.key);
    },
    logger,
    false,
  );
}
