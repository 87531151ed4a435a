/**
 * Settings of the process's native (C) heap, applied once at start-up.
 *
 * glibc's allocator serves large blocks with their own memory mapping, returned to the
 * system when freed, but it raises that threshold each time such a block is freed (up to
 * 32 MiB). From then on blocks of that size come from the allocating thread's arena and,
 * once freed, stay resident. Password hashing (argon2id, 19 MiB a hash) runs on the thread
 * pool's threads, so after a few registrations or logins each of them keeps a freed 19 MiB
 * block: 60-80 MB of an idle server's resident memory. A fixed threshold (which also turns
 * the raising off) keeps every such block mapped only while it is in use.
 *
 * Only glibc has these settings; on other C libraries and systems nothing is changed.
 */

/** Blocks of this size or more get their own mapping: glibc's initial threshold, 128 KiB. */
export const MMAP_THRESHOLD_BYTES = 128 * 1024;

/** `M_MMAP_THRESHOLD`, the mallopt parameter of glibc's `<malloc.h>`. */
const M_MMAP_THRESHOLD = -3;

export type NativeHeapTuning = { applied: true; mmapThresholdBytes: number } | { applied: false; reason: string };

type Mallopt = (param: number, value: number) => number;
type MallocTrim = (pad: number) => number;

let result: NativeHeapTuning | undefined;
let mallocTrim: MallocTrim | undefined;

async function loadMallopt(): Promise<Mallopt> {
  const koffi = await import('koffi');
  const libc = koffi.load('libc.so.6');
  mallocTrim = libc.func('int malloc_trim(size_t pad)') as MallocTrim;
  return libc.func('int mallopt(int param, int value)') as Mallopt;
}

/**
 * Gives the C heap's free pages back to the system (glibc's malloc_trim), after
 * {@link tuneNativeHeap} found glibc; otherwise does nothing. True when memory was released.
 */
export function trimNativeHeap(): boolean {
  return mallocTrim ? mallocTrim(0) === 1 : false;
}

/**
 * Fixes glibc's mmap threshold at {@link MMAP_THRESHOLD_BYTES} for this process. Idempotent;
 * never throws: where the setting does not exist, the answer says why it was not applied.
 */
export async function tuneNativeHeap(): Promise<NativeHeapTuning> {
  result ??= await (async (): Promise<NativeHeapTuning> => {
    if (process.platform !== 'linux') return { applied: false, reason: `not Linux (${process.platform})` };
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    if (report?.header?.glibcVersionRuntime === undefined) return { applied: false, reason: 'the C library is not glibc' };
    let mallopt: Mallopt;
    try {
      mallopt = await loadMallopt();
    } catch (error) {
      return { applied: false, reason: `mallopt is not reachable: ${(error as Error).message}` };
    }
    if (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) !== 1) return { applied: false, reason: 'mallopt(M_MMAP_THRESHOLD) was refused' };
    return { applied: true, mmapThresholdBytes: MMAP_THRESHOLD_BYTES };
  })();
  return result;
}
