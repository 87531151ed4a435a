import { setTimeout as delay } from 'node:timers/promises';
import { startIdleMemoryTrimmer } from './idle-memory';

describe('the idle memory trimmer', () => {
  it('runs a full collection when the process is quiet and its heap grew, and reports it', async () => {
    const collected: { heapUsedBefore: number; heapUsedAfter: number; ms: number }[] = [];
    let calls = 0;
    // Any heap counts as grown: a collection elsewhere in the (busy) test process may leave the
    // heap below where the trimmer started.
    const trimmer = startIdleMemoryTrimmer({
      intervalMs: 20,
      quietCpuShare: Number.POSITIVE_INFINITY,
      minGrowthBytes: Number.NEGATIVE_INFINITY,
      gc: () => calls++,
      onCollected: (r) => collected.push(r),
    });
    try {
      expect(trimmer.active).toBe(true);
      for (let waited = 0; calls === 0 && waited < 5000; waited += 20) await delay(20);
      expect(calls).toBeGreaterThan(0);
      expect(collected.length * 2).toBe(calls);
      expect(collected[0].heapUsedBefore).toBeGreaterThan(0);
      expect(collected[0].ms).toBeGreaterThanOrEqual(0);
    } finally {
      trimmer.stop();
    }
    const after = calls;
    await delay(60);
    expect(calls).toBe(after);
  });

  it('leaves a busy process alone, and a quiet one whose heap has not grown enough', async () => {
    let calls = 0;
    const busy = startIdleMemoryTrimmer({ intervalMs: 20, quietCpuShare: -1, minGrowthBytes: 0, gc: () => calls++ });
    const steady = startIdleMemoryTrimmer({ intervalMs: 20, quietCpuShare: Number.POSITIVE_INFINITY, minGrowthBytes: 1024 ** 4, gc: () => calls++ });
    await delay(120);
    busy.stop();
    steady.stop();
    expect(calls).toBe(0);
  });

  it('is inactive when node offers no full collection (no --expose-gc)', () => {
    const holder = globalThis as { gc?: unknown };
    const exposed = holder.gc;
    delete holder.gc;
    try {
      const trimmer = startIdleMemoryTrimmer({ intervalMs: 20 });
      trimmer.stop();
      expect(trimmer.active).toBe(false);
    } finally {
      if (exposed !== undefined) holder.gc = exposed;
    }
  });
});
