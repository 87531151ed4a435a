/**
 * Requests of the homeserver to application services (application service API): pushing
 * transactions, asking about users and room aliases, and pings. Every request carries the
 * service's `hs_token` as `Authorization: Bearer`; the token never reaches a log.
 */
import type { AppService } from './registry';

/** How a request to a service ended, without its tokens. */
export type AppServiceOutcome =
  | { kind: 'ok'; status: number; body: string }
  | { kind: 'status'; status: number; body: string }
  | { kind: 'connection-failed'; reason: string }
  | { kind: 'timeout' };

export interface AppServiceClientOptions {
  /** Longest time of one request, in milliseconds (default 30 s for transactions and queries). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** Largest answer body kept (an error body is shown to the pinging client). */
const MAX_BODY_CHARS = 4096;
/** Largest third-party lookup answer taken (protocol metadata, lists of locations or users). */
const MAX_THIRD_PARTY_CHARS = 1024 * 1024;

export class AppServiceClient {
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;
  private readonly reachableListeners = new Set<(serviceId: string) => void>();

  constructor(options: AppServiceClientOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /**
   * Tells `listener` each time a service answers a request 2xx (a ping, a query): the sender
   * retries a service it is backing off from at once. Returns the function that stops it.
   */
  onReachable(listener: (serviceId: string) => void): () => void {
    this.reachableListeners.add(listener);
    return () => this.reachableListeners.delete(listener);
  }

  /** Sends a request to `path` (under /_matrix/app/v1) of the service's URL. */
  async request(service: AppService, method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown, signal?: AbortSignal, maxBodyChars = MAX_BODY_CHARS): Promise<AppServiceOutcome> {
    const base = service.registration.url;
    if (base === null) return { kind: 'connection-failed', reason: 'the application service has no URL' };
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      const response = await this.fetch(`${base}/_matrix/app/v1/${path}`, {
        method,
        headers: { authorization: `Bearer ${service.registration.hsToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: combined,
      });
      const text = (await response.text()).slice(0, maxBodyChars);
      if (response.ok) for (const listener of this.reachableListeners) listener(service.id);
      return response.ok ? { kind: 'ok', status: response.status, body: text } : { kind: 'status', status: response.status, body: text };
    } catch (error) {
      if (timeout.aborted && !signal?.aborted) return { kind: 'timeout' };
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      return { kind: 'connection-failed', reason: cause?.code ?? cause?.message ?? (error as Error).message };
    }
  }

  /** PUT /transactions/{txnId}: true once the service answered 2xx. */
  pushTransaction(service: AppService, txnId: string, body: unknown, signal?: AbortSignal): Promise<AppServiceOutcome> {
    return this.request(service, 'PUT', `transactions/${encodeURIComponent(txnId)}`, body, signal);
  }

  /** GET /users/{userId}: the service says the user exists (it has just created it). */
  async queryUser(service: AppService, userId: string): Promise<boolean> {
    return (await this.request(service, 'GET', `users/${encodeURIComponent(userId)}`)).kind === 'ok';
  }

  /**
   * GET /thirdparty/{path} (protocol metadata, locations, users): the service's JSON answer, or
   * undefined when it did not answer 2xx with JSON (a service that fails is left out of the lookup;
   * an answer cut at the size limit is not JSON either).
   */
  async thirdParty(service: AppService, path: string): Promise<unknown> {
    const outcome = await this.request(service, 'GET', `thirdparty/${path}`, undefined, undefined, MAX_THIRD_PARTY_CHARS);
    if (outcome.kind !== 'ok') return undefined;
    try {
      return JSON.parse(outcome.body) as unknown;
    } catch {
      return undefined;
    }
  }

  /** GET /rooms/{alias}: the service says the alias exists (it has just created the room). */
  async queryAlias(service: AppService, alias: string): Promise<boolean> {
    return (await this.request(service, 'GET', `rooms/${encodeURIComponent(alias)}`)).kind === 'ok';
  }

  /** POST /ping with the client's transaction id. */
  ping(service: AppService, transactionId: string | undefined): Promise<AppServiceOutcome> {
    return this.request(service, 'POST', 'ping', transactionId === undefined ? {} : { transaction_id: transactionId });
  }
}
