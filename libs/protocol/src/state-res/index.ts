/** State resolution v1, v2 and v2.1 (rooms/v1.md, rooms/v2.md, rooms/v12.md). */
export * from './errors';
export {
  authEventIds,
  createEventIdFromRoomId,
  isPowerEvent,
  type EventLookup,
  type StateResolutionOptions,
} from './events';
export { authChain, missingAuthClosure } from './auth-chain';
export { splitConflictedState, splitConflictedStateV1, conflictedEventIds, type ConflictSplit } from './conflicted';
export { authDifference, fullAuthChain } from './auth-difference';
export { conflictedStateSubgraph } from './conflicted-subgraph';
export { senderPowerLevel } from './power-level';
export {
  lexicographicalTopologicalSort,
  reverseTopologicalPowerOrdering,
  sortedConflictedPowerEvents,
  authGraphWithin,
  type Graph,
} from './power-ordering';
export { mainline, mainlinePosition, mainlineOrdering } from './mainline';
export { iterativeAuthChecks, type AuthCheck } from './iterative-auth-checks';
export { resolveStateV2, fullConflictedSet } from './v2';
export { resolveStateV1, eventIdSha1, v1AuthEventOrder, v1OtherEventOrder } from './v1';
export { resolveState, missingEventIdsForResolution } from './resolve';
