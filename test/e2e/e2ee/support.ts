/**
 * What the end-to-end encryption client suites share: the databases they run on, the
 * matrix-js-sdk flows script (js-sdk/crypto-flows.mjs, run in a Node process of its own) and
 * the server for a block of tests, the check that a client script finished.
 */
import { join } from 'node:path';
import { runClientScript, type ClientReport } from '../../support/client-script';
import { startInProcess, type InProcessServer } from '../../support/in-process-server';

/** The embedded database, and PostgreSQL as well when TEST_DATABASE_URL is set. */
export const DATABASES: [string, boolean][] = [['embedded database (PGlite)', false]];
if (process.env.TEST_DATABASE_URL) DATABASES.push(['PostgreSQL database (TEST_DATABASE_URL)', true]);

/**
 * Starts the homeserver in this process (on PostgreSQL when `postgres` is set) before the
 * enclosing block's tests and closes it after them; the function returned gives it.
 */
export function serverForBlock(postgres: boolean): () => InProcessServer {
  let server: InProcessServer | undefined;
  beforeAll(async () => {
    server = await startInProcess({ postgresFromEnv: postgres });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  }, 60_000);
  return () => {
    if (!server) throw new Error('the homeserver did not start');
    return server;
  };
}

/** What a client script says of an encrypted message it decrypted (or could not). */
export interface Decrypted {
  sender: string;
  body: string;
  failure: string | null;
}

/** An event as /messages served it, its content summarised. */
export interface WireEvent {
  type: string;
  sender: string;
  algorithm?: string;
  ciphertext: boolean;
  /** The content as JSON text. */
  content: string;
}

const JS_SDK_FLOWS = join(__dirname, 'js-sdk/crypto-flows.mjs');

/** Runs one flow of js-sdk/crypto-flows.mjs against the server at `url`. */
export function runJsSdkFlow<R extends ClientReport>(url: string, flow: string, params: Record<string, unknown> = {}): Promise<R> {
  return runClientScript<R>(process.execPath, [JS_SDK_FLOWS, flow, JSON.stringify(params)], [url], 200_000);
}

/** Fails with the client's error and the steps it got through unless the script finished. */
export function expectFinished(report: ClientReport, who: string): void {
  if (!report.ok) throw new Error(`${who} failed after steps [${report.steps.join(', ')}]:\n${report.error}`);
}

/** The server sent every message of the room as a megolm-encrypted event, no plaintext in it. */
export function expectEncryptedOnTheWire(wire: WireEvent[], secrets: string[]): void {
  expect(wire.length).toBeGreaterThanOrEqual(secrets.length);
  for (const event of wire) {
    expect(event).toMatchObject({ type: 'm.room.encrypted', algorithm: 'm.megolm.v1.aes-sha2', ciphertext: true });
    for (const secret of secrets) expect(event.content).not.toContain(secret);
  }
}
