/**
 * Typed errors of state resolution. The algorithms are synchronous and pure: every event they
 * need must be loaded by the caller first (see `missingEventIdsForResolution`).
 */

/** Base class of every error state resolution throws on bad input. */
export class StateResolutionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateResolutionError';
  }
}

/** Events the resolution needs (state set entries, their auth chains) were not available. */
export class MissingEventsError extends StateResolutionError {
  constructor(readonly eventIds: readonly string[]) {
    super(`State resolution needs events that are not available: ${eventIds.slice(0, 10).join(', ')}${eventIds.length > 10 ? ` (+${eventIds.length - 10} more)` : ''}`);
    this.name = 'MissingEventsError';
  }
}

/** An event taking part in the resolution belongs to another room than the others. */
export class EventRoomMismatchError extends StateResolutionError {
  constructor(
    readonly eventId: string,
    readonly expectedRoomId: string,
    readonly actualRoomId: string,
  ) {
    super(`Event ${eventId} is in room ${actualRoomId}, not ${expectedRoomId}`);
    this.name = 'EventRoomMismatchError';
  }
}

/** A state set maps a (type, state_key) to an event that is not a state event with that type and state key. */
export class InvalidStateSetError extends StateResolutionError {
  constructor(
    readonly eventId: string,
    reason: string,
  ) {
    super(`Invalid state set entry ${eventId}: ${reason}`);
    this.name = 'InvalidStateSetError';
  }
}
