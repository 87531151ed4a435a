/** What the read endpoints of the federation API need from the host besides the buses. */

/** Injection token of the {@link FederationReadOptions}. */
export const FEDERATION_READ_OPTIONS = 'FEDERATION_READ_OPTIONS';

export interface FederationReadOptions {
  /** This server's name: the `origin` of the transactions it answers with. */
  serverName: string;
  /** Milliseconds since the epoch: their `origin_server_ts`. */
  clock: () => number;
}

/** A transaction-shaped answer (transaction.yaml): PDUs with their origin and time. */
export interface PduTransaction {
  origin: string;
  origin_server_ts: number;
  pdus: unknown[];
}

export function transactionOf(options: FederationReadOptions, pdus: unknown[]): PduTransaction {
  return { origin: options.serverName, origin_server_ts: options.clock(), pdus };
}
