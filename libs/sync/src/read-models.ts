/**
 * The read models of the /sync query side, as the read barrier knows them: the projections'
 * checkpoints (what the database holds) and the ranges the /sync notifier has examined (what
 * /sync's live window holds). Every read of the query side waits for the ones it uses (see
 * `ReadBarrier`), so it reflects every write acknowledged before it.
 */
import type { ReadBarrier } from '@hs/eventstore';
import { RECEIPTS_PROJECTION } from '@hs/projections/receipts';
import { SEARCH_PROJECTION } from '@hs/projections/search';
import { SYNC_PROJECTION } from '@hs/projections/sync';
import { USER_DIRECTORY_PROJECTION } from '@hs/projections/user-directory';

/** The watermark of the ranges of a projection the /sync notifier has examined. */
export function notifiedReadModel(projection: string): string {
  return `${projection}/notified`;
}

/** What GET /sync reads: the sync and receipts projections through the notifier. */
export const SYNC_ENDPOINT_READ_MODELS: readonly string[] = [notifiedReadModel(SYNC_PROJECTION), notifiedReadModel(RECEIPTS_PROJECTION)];

/** What the room queries (/messages, /context, /event, /state, /members, /joined_*) read. */
export const ROOM_QUERY_READ_MODELS: readonly string[] = [SYNC_PROJECTION];

/** What POST /search reads: the search index for candidates, the sync projection for visibility and events. */
export const SEARCH_READ_MODELS: readonly string[] = [SEARCH_PROJECTION, SYNC_PROJECTION];

/** What POST /user_directory/search reads. */
export const USER_DIRECTORY_READ_MODELS: readonly string[] = [USER_DIRECTORY_PROJECTION];

/**
 * Declares the notifier's read models to the barrier; the projections' own are declared by
 * whoever runs them (their checkpoints).
 */
export function declareNotifiedReadModels(barrier: ReadBarrier): void {
  for (const projection of [SYNC_PROJECTION, RECEIPTS_PROJECTION]) barrier.declare(notifiedReadModel(projection));
}
