/**
 * Gives memory back once a burst of load is over.
 *
 * V8 collects its old generation as it grows, not when the process goes quiet. A server that
 * still answers a few long-polls after a burst allocates too slowly for V8's own idle
 * collection to start, so it keeps the burst's garbage, and the pages that hold it, for as long
 * as it stays quiet (after the ten-room load of `bench/compare`: 190 MB of heap in use, of
 * which 62 MB live, in a 293 MB heap).
 *
 * Every `intervalMs` the trimmer looks at the process's CPU time over the interval and at the
 * heap. When the process was quiet (under `quietCpuShare` of a core) and the heap in use has
 * grown by `minGrowthBytes` since the last full collection, it runs full collections (`gc`,
 * which node offers with `--expose-gc`, as `npm start` and the Docker image run it),
 * then asks the C heap to give its free pages back (see native-heap.ts). A busy process is
 * left alone: there V8's own collections keep pace.
 */
import { performance } from 'node:perf_hooks';
import { trimNativeHeap } from './native-heap';

export interface IdleMemoryOptions {
  /** How often the process is looked at (default 10 s). */
  intervalMs?: number;
  /** At most this share of one core used over the interval counts as quiet (default 0.05). */
  quietCpuShare?: number;
  /** Growth of the heap in use since the last full collection that makes one worth it (default 32 MiB). */
  minGrowthBytes?: number;
  /** The full collection; default node's `gc` (present with --expose-gc). */
  gc?: () => void;
  /** Told after each collection: heap in use before and after, and how long it took. */
  onCollected?: (report: { heapUsedBefore: number; heapUsedAfter: number; rssAfter: number; ms: number }) => void;
}

export interface IdleMemoryTrimmer {
  /** False when there is no way to run a full collection (node without --expose-gc). */
  readonly active: boolean;
  stop(): void;
}

const DEFAULTS = { intervalMs: 10_000, quietCpuShare: 0.05, minGrowthBytes: 32 * 1024 * 1024 };

export function startIdleMemoryTrimmer(options: IdleMemoryOptions = {}): IdleMemoryTrimmer {
  const gc = options.gc ?? (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') return { active: false, stop: () => undefined };
  const intervalMs = options.intervalMs ?? DEFAULTS.intervalMs;
  const quietCpuShare = options.quietCpuShare ?? DEFAULTS.quietCpuShare;
  const minGrowthBytes = options.minGrowthBytes ?? DEFAULTS.minGrowthBytes;
  let baseline = process.memoryUsage().heapUsed;
  let cpu = process.cpuUsage();
  let at = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const used = process.cpuUsage(cpu);
    const share = (used.user + used.system) / 1000 / Math.max(1, now - at);
    cpu = process.cpuUsage();
    at = now;
    const heapUsedBefore = process.memoryUsage().heapUsed;
    if (share > quietCpuShare || heapUsedBefore - baseline < minGrowthBytes) return;
    const started = performance.now();
    // The first collection frees the garbage; V8 returns the pages it emptied to the system
    // only at a later one (one collection: RSS 573 to 493 MB for 450 to 11 MB in use; two in
    // a row: to 289 MB).
    gc();
    gc();
    trimNativeHeap();
    const after = process.memoryUsage();
    baseline = after.heapUsed;
    // The collection's own CPU is not the load's: the next interval starts after it.
    cpu = process.cpuUsage();
    at = performance.now();
    options.onCollected?.({ heapUsedBefore, heapUsedAfter: after.heapUsed, rssAfter: after.rss, ms: at - started });
  }, intervalMs);
  timer.unref();
  return { active: true, stop: () => clearInterval(timer) };
}
