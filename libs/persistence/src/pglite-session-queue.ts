import type { PGlite } from '@electric-sql/pglite';

interface Item {
  handlerId: number;
  message: Uint8Array;
  onData: (data: Uint8Array) => void;
  resolve: (bytes: number) => void;
  reject: (error: Error) => void;
}

const SYNC = 0x53; // 'S'
const QUERY = 0x51; // 'Q'
const PARSE = 0x50; // 'P'
const TERMINATE = 0x58; // 'X'
const STARTUP = 0x00; // a startup message begins with its length's high byte
const SYNC_MESSAGE = new Uint8Array([SYNC, 0, 0, 0, 4]);
const ROLLBACK_MESSAGE = simpleQuery('ROLLBACK');

/** A simple-protocol Query message: 'Q', its length, the statement and a NUL. */
function simpleQuery(statement: string): Uint8Array {
  const text = Buffer.from(`${statement}\0`, 'utf8');
  const message = Buffer.alloc(5 + text.length);
  message[0] = QUERY;
  message.writeInt32BE(4 + text.length, 1);
  text.copy(message, 5);
  return message;
}

/** What the queue reports when one connection has held the session while others waited. */
export interface SessionHeld {
  /** How long the connection has held the session, in milliseconds. */
  heldMs: number;
  /** Messages of other connections waiting for it. */
  waiting: number;
  /** Whether the session is inside a transaction. */
  inTransaction: boolean;
  /** The last statement the holding connection sent (its text, cut to 300 characters). */
  lastStatement: string | undefined;
}

export interface SessionQueueOptions {
  /** Called once per holding when a connection keeps the session longer than `heldAfterMs` while others wait. */
  onHeld?: (held: SessionHeld) => void;
  /** Default 2,000 ms. */
  heldAfterMs?: number;
}

/** The statement text of a Query or Parse message, if it is one. */
function statementOf(message: Uint8Array): string | undefined {
  const type = message[0];
  if (type !== QUERY && type !== PARSE) return undefined;
  let start = 5;
  if (type === PARSE) {
    // Parse: the statement's name (NUL-terminated), then the query text.
    while (start < message.length && message[start] !== 0) start++;
    start++;
  }
  let end = start;
  while (end < message.length && message[end] !== 0) end++;
  const text = Buffer.from(message.subarray(start, end)).toString('utf8').replace(/\s+/g, ' ').trim();
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/**
 * Serialises the wire-protocol messages of several socket connections onto PGlite's single
 * backend session. A connection owns the session from its first message until the end of
 * its protocol exchange (a Sync or a simple Query) and, when that leaves a transaction open,
 * until the transaction ends. Messages of other connections wait meanwhile, so one
 * connection's Parse/Bind/Execute never interleave with another's, and transactions never
 * overlap.
 *
 * It replaces the message queue of `@electric-sql/pglite-socket` 0.2.17, which switches
 * connections between single messages outside transactions: two connections running
 * parameterised queries at once could bind one's parameters to the other's statement.
 */
export class PgliteSessionQueue {
  private queue: Item[] = [];
  private owner: number | null = null;
  private pumping = false;
  /** When the current owner took the session, and whether its holding was reported. */
  private ownerSince = 0;
  private reported = false;
  /** Each connection's last Query or Parse message, decoded only when a holding is reported. */
  private readonly lastStatements = new Map<number, Uint8Array>();
  private watchdog: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: PGlite,
    private readonly options: SessionQueueOptions = {},
  ) {
    if (options.onHeld) {
      const after = options.heldAfterMs ?? 2_000;
      this.watchdog = setInterval(() => this.checkHeld(after), Math.max(100, Math.floor(after / 4)));
      this.watchdog.unref();
    }
  }

  /** Stops the watchdog. */
  close(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
  }

  private checkHeld(after: number): void {
    if (this.owner === null || this.reported) return;
    const heldMs = Date.now() - this.ownerSince;
    if (heldMs < after) return;
    const waiting = this.queue.filter((q) => q.handlerId !== this.owner).length;
    if (waiting === 0) return;
    this.reported = true;
    this.options.onHeld?.({ heldMs, waiting, inTransaction: this.db.isInTransaction(), lastStatement: this.statementOfOwner() });
  }

  private statementOfOwner(): string | undefined {
    const message = this.owner === null ? undefined : this.lastStatements.get(this.owner);
    return message === undefined ? undefined : statementOf(message);
  }

  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ handlerId, message, onData, resolve, reject });
      void this.pump();
    });
  }

  getQueueLength(): number {
    return this.queue.length;
  }

  clearQueueForHandler(handlerId: number): void {
    const mine = this.queue.filter((item) => item.handlerId === handlerId);
    this.queue = this.queue.filter((item) => item.handlerId !== handlerId);
    this.lastStatements.delete(handlerId);
    for (const item of mine) item.reject(new Error('connection closed'));
  }

  /** A connection went away: end what it left open on the session and let others in. */
  async clearTransactionIfNeeded(handlerId: number): Promise<void> {
    if (this.owner !== handlerId) return;
    await this.db.runExclusive(async () => {
      // Finish a half-sent extended-protocol exchange, then roll back an open transaction.
      // Raw protocol messages only: runExclusive holds the lock PGlite's own exec() and
      // query() take, so calling those here would wait on itself forever.
      await this.db.execProtocolRawStream(SYNC_MESSAGE, { onRawData: () => undefined });
      if (this.db.isInTransaction()) await this.db.execProtocolRawStream(ROLLBACK_MESSAGE, { onRawData: () => undefined });
    });
    this.owner = null;
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (true) {
        const index = this.owner === null ? (this.queue.length > 0 ? 0 : -1) : this.queue.findIndex((q) => q.handlerId === this.owner);
        if (index < 0) return;
        const [item] = this.queue.splice(index, 1);
        if (this.owner !== item.handlerId) {
          this.ownerSince = Date.now();
          this.reported = false;
        }
        this.owner = item.handlerId;
        const type = item.message[0];
        if (this.options.onHeld && (type === QUERY || type === PARSE)) this.lastStatements.set(item.handlerId, item.message);
        let bytes = 0;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(item.message, {
              onRawData: (data) => {
                bytes += data.length;
                item.onData(data);
              },
            }),
          );
        } catch (error) {
          this.owner = null;
          item.reject(error instanceof Error ? error : new Error(String(error)));
          continue;
        }
        const exchangeEnded = type === SYNC || type === QUERY || type === TERMINATE || type === STARTUP;
        if (exchangeEnded && !this.db.isInTransaction()) this.owner = null;
        item.resolve(bytes);
      }
    } finally {
      this.pumping = false;
    }
  }
}
