/**
 * A stand-in for another homeserver's transaction endpoint: an HTTPS server on 127.0.0.1 with
 * a self-signed certificate that authenticates each `PUT /_matrix/federation/v1/send/{txnId}`
 * by its X-Matrix signature, deduplicates transactions on origin and transaction id as the spec
 * asks of receivers (a repeated transaction is answered as the first time, not processed again)
 * and records what it processed. How it answers each request is up to the test.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { testCertificate } from './tls';
import { DEFAULT_ROOM_VERSION, InvalidXMatrixHeaderError, computeEventId, parseXMatrixHeader, verifyRequestSignature } from '@hs/protocol';

/** A self-signed certificate for 127.0.0.1 and localhost under its own subject (CA files are searched by subject). */
export function selfSignedCertificate(subject: string): Promise<{ cert: string; key: string }> {
  return testCertificate({ subject });
}

export interface TransactionBodySeen {
  origin: string;
  origin_server_ts: number;
  pdus: Array<Record<string, unknown>>;
  edus?: Array<{ edu_type: string; content: Record<string, unknown> }>;
}

/** A transaction the receiver processed (the first time its id came). */
export interface ReceivedTransaction {
  origin: string;
  txnId: string;
  body: TransactionBodySeen;
}

/** One authenticated PUT /send, processed or not. */
export interface TransactionAttempt {
  origin: string;
  txnId: string;
  status: number;
  /** Its id had been processed before: answered as then, not processed again. */
  duplicate: boolean;
  /** The ids of the PDUs it carried. */
  eventIds: string[];
  at: number;
}

/**
 * How to answer a request: process it (record it) or not, with which status, after how long.
 * A request whose answer is delayed past the client's disconnection gets no answer.
 */
export interface ReceiverAnswer {
  process: boolean;
  status: number;
  delayMs?: number;
  /** Answers once this settles (after `delayMs`, if given too). */
  release?: Promise<unknown>;
}

export interface FederationReceiverOptions {
  /** The public key (unpadded Base64) of `keyId` of server `origin`, or undefined when unknown. */
  verifyKey(origin: string, keyId: string): Promise<string | undefined> | string | undefined;
  /** How to answer each new transaction (default: process it, 200 at once). */
  answer?: (txnId: string, body: TransactionBodySeen) => ReceiverAnswer;
  /** The room version of a room, to compute the ids of its events (default the default room version). */
  roomVersion?: (roomId: string) => string;
}

const SEND_PATH = /^\/_matrix\/federation\/v1\/send\/([^/?]+)$/;

export class FederationReceiver {
  /** Processed transactions, in the order they were processed. */
  readonly transactions: ReceivedTransaction[] = [];
  /** Every authenticated PUT /send. */
  readonly attempts: TransactionAttempt[] = [];
  /** Requests refused (bad signature, wrong destination, malformed transaction), with why. */
  readonly refused: string[] = [];
  answer: (txnId: string, body: TransactionBodySeen) => ReceiverAnswer;
  private server?: Server;
  private readonly answered = new Map<string, Record<string, unknown>>();

  private constructor(
    readonly port: number,
    readonly certificate: { cert: string; key: string },
    private readonly options: FederationReceiverOptions,
  ) {
    this.answer = options.answer ?? (() => ({ process: true, status: 200 }));
  }

  /** Starts a receiver on a free port of 127.0.0.1 (its server name is `127.0.0.1:<port>`). */
  static async start(options: FederationReceiverOptions): Promise<FederationReceiver> {
    const certificate = await selfSignedCertificate(`federation receiver ${process.pid} ${Math.random()}`);
    const probe = createServer(certificate);
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const receiver = new FederationReceiver(port, certificate, options);
    await receiver.listen();
    return receiver;
  }

  get serverName(): string {
    return `127.0.0.1:${this.port}`;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  /** The PDUs processed, in order, with their event ids and the transaction each came in. */
  pdus(): Array<{ txnId: string; eventId: string; pdu: Record<string, unknown> }> {
    return this.transactions.flatMap((t) => t.body.pdus.map((pdu) => ({ txnId: t.txnId, eventId: this.eventIdOf(pdu), pdu })));
  }

  /** The event id of a PDU received. */
  eventIdOf(pdu: Record<string, unknown>): string {
    const roomId = typeof pdu.room_id === 'string' ? pdu.room_id : '';
    return computeEventId(pdu, this.options.roomVersion?.(roomId) ?? DEFAULT_ROOM_VERSION);
  }

  /** The EDUs processed, in order. */
  edus(): Array<{ edu_type: string; content: Record<string, unknown> }> {
    return this.transactions.flatMap((t) => t.body.edus ?? []);
  }

  /**
   * From now on answers the `n`-th new transaction by processing it and never answering (a
   * sender that stops or crashes meanwhile never learns it was processed), and the others with
   * `otherwise(count)`, count starting at 1. Returns what reads that transaction's id once it came.
   */
  holdTransaction(n: number, otherwise: (count: number) => ReceiverAnswer): () => string | undefined {
    let count = 0;
    let held: string | undefined;
    const never = new Promise<void>(() => undefined);
    this.answer = (txnId) => {
      count++;
      if (count !== n) return otherwise(count);
      held = txnId;
      return { process: true, status: 200, release: never };
    };
    return () => held;
  }

  /**
   * What went against the spec's delivery rules, empty when nothing did: an event processed
   * under two transaction ids, a transaction id sent again with other events, a request refused.
   */
  deliveryProblems(): string[] {
    const problems: string[] = [];
    const firstTxn = new Map<string, string>();
    for (const { txnId, eventId } of this.pdus()) {
      const earlier = firstTxn.get(eventId);
      if (earlier !== undefined) problems.push(`${eventId} came in ${earlier} and again in ${txnId}`);
      else firstTxn.set(eventId, txnId);
    }
    const carried = new Map<string, string>();
    for (const attempt of this.attempts) {
      const events = attempt.eventIds.join(',');
      const first = carried.get(attempt.txnId);
      if (first === undefined) carried.set(attempt.txnId, events);
      else if (first !== events) problems.push(`transaction ${attempt.txnId} was sent again with other events`);
    }
    return [...problems, ...this.refused.map((reason) => `refused: ${reason}`)];
  }

  /** Accepts connections (again) on its port. */
  async listen(): Promise<void> {
    if (this.server) return;
    const server = createServer(this.certificate, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        void this.handle(req.method ?? '', req.url ?? '', req.headers.authorization, Buffer.concat(chunks).toString('utf8')).then(({ status, body, delayMs, release }) => {
          const reply = () => {
            if (res.destroyed) return;
            res.writeHead(status, { 'Content-Type': 'application/json' });
            res.end(JSON.stringify(body));
          };
          const released = () => void (release ?? Promise.resolve()).then(reply, reply);
          if (delayMs) setTimeout(released, delayMs).unref();
          else released();
        });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  /** Stops accepting and drops every open connection (the server is then unreachable). */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** Resolves once `condition` holds, polling; rejects after `timeoutMs` with `what`. */
  async until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private async handle(
    method: string,
    url: string,
    authorization: string | undefined,
    text: string,
  ): Promise<{ status: number; body: Record<string, unknown>; delayMs?: number; release?: Promise<unknown> }> {
    const refuse = (status: number, errcode: string, reason: string) => {
      this.refused.push(reason);
      return { status, body: { errcode, error: reason } };
    };
    const match = SEND_PATH.exec(url);
    if (method !== 'PUT' || !match) return refuse(404, 'M_UNRECOGNIZED', `${method} ${url} is not served`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return refuse(400, 'M_NOT_JSON', 'the body is not JSON');
    }
    let auth;
    try {
      auth = parseXMatrixHeader(authorization ?? '');
    } catch (error) {
      return refuse(401, 'M_UNAUTHORIZED', error instanceof InvalidXMatrixHeaderError ? error.reason : String(error));
    }
    if (auth.destination !== this.serverName) return refuse(401, 'M_UNAUTHORIZED', `destination ${String(auth.destination)} is not ${this.serverName}`);
    const key = await this.options.verifyKey(auth.origin, auth.key);
    if (key === undefined) return refuse(401, 'M_UNAUTHORIZED', `no key ${auth.key} of ${auth.origin}`);
    if (!verifyRequestSignature({ method, uri: url, content: body }, auth, key)) return refuse(401, 'M_UNAUTHORIZED', 'the signature does not verify');
    const transaction = body as TransactionBodySeen;
    if (typeof transaction !== 'object' || transaction === null || transaction.origin !== auth.origin || typeof transaction.origin_server_ts !== 'number' || !Array.isArray(transaction.pdus)) {
      return refuse(400, 'M_BAD_JSON', 'not a transaction of the signing origin');
    }
    if (transaction.pdus.length > 50 || (transaction.edus ?? []).length > 100) return refuse(400, 'M_BAD_JSON', 'more than 50 PDUs or 100 EDUs');
    const txnId = decodeURIComponent(match[1]);
    let eventIds: string[];
    try {
      eventIds = transaction.pdus.map((pdu) => this.eventIdOf(pdu));
    } catch (error) {
      return refuse(400, 'M_BAD_JSON', `a PDU without an event id: ${String(error)}`);
    }
    const seenKey = `${auth.origin}\u0000${txnId}`;
    const previous = this.answered.get(seenKey);
    if (previous) {
      this.attempts.push({ origin: auth.origin, txnId, status: 200, duplicate: true, eventIds, at: Date.now() });
      return { status: 200, body: previous };
    }
    const result = { pdus: Object.fromEntries(eventIds.map((eventId) => [eventId, {}])) };
    const answer = this.answer(txnId, transaction);
    this.attempts.push({ origin: auth.origin, txnId, status: answer.status, duplicate: false, eventIds, at: Date.now() });
    if (!answer.process) return { status: answer.status, body: { errcode: 'M_UNKNOWN', error: 'not processed' }, delayMs: answer.delayMs, release: answer.release };
    this.answered.set(seenKey, result);
    this.transactions.push({ origin: auth.origin, txnId, body: transaction });
    return { status: answer.status, body: result, delayMs: answer.delayMs, release: answer.release };
  }
}
