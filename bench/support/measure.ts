/**
 * What the client-server benchmarks share: percentiles, CPU seconds of processes and of the
 * machine from /proc, and the load's HTTP client.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { Pool } from 'undici';

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU seconds (user + system) a process has used, from /proc (0 when it is gone). */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds used by every process with this command name (e.g. the PostgreSQL backends). */
export function commandCpuSeconds(command: string): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === command) total += processCpuSeconds(Number(entry));
    } catch {
      // The process ended meanwhile.
    }
  }
  return total;
}

/** Busy and total CPU seconds of the machine, from /proc/stat. */
export function machineCpuSeconds(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const values = line.split(/\s+/).slice(1).map(Number);
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = values[3] + values[4];
  return { busy: (total - idle) / 100, total: total / 100 };
}

/**
 * The load's HTTP client: undici's request API over kept-alive connections (one per
 * concurrent request), far cheaper in CPU than `fetch`; the clients share the two cores with
 * the server and the database, so their cost counts against the figures.
 */
export function loadClient(base: string, connections: number) {
  const pool = new Pool(base, { connections, pipelining: 1 });
  return {
    async request<T>(method: 'GET' | 'PUT' | 'POST', path: string, token: string, query?: Record<string, string>, body?: unknown): Promise<{ status: number; body: T }> {
      const search = query ? `?${new URLSearchParams(query).toString()}` : '';
      const response = await pool.request({
        method,
        path: `/_matrix/client/v3/${path}${search}`,
        headers: body === undefined ? { authorization: `Bearer ${token}` } : { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.statusCode, body: (await response.body.json()) as T };
    },
    close: () => pool.close(),
  };
}

export type LoadClient = ReturnType<typeof loadClient>;
