import type { ExpectedRevision } from './types';

/** The stream was not at the revision the writer expected. */
export class WrongExpectedRevisionError extends Error {
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    /** Revision of the stream's last event, or 'no_stream'. */
    readonly actual: bigint | 'no_stream',
  ) {
    super(`wrong expected revision for stream ${stream}: expected ${String(expected)}, actual ${String(actual)}`);
    this.name = 'WrongExpectedRevisionError';
  }
}

/** Some event ids of the batch are already stored, but not as this very batch in this stream. */
export class DuplicateEventIdError extends Error {
  constructor(
    readonly stream: string,
    detail: string,
  ) {
    super(`cannot append to ${stream}: ${detail}`);
    this.name = 'DuplicateEventIdError';
  }
}

/** The append is malformed (empty stream name, repeated id in one batch, bad JSON...). */
export class InvalidAppendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidAppendError';
  }
}
