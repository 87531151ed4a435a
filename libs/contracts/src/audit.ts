/**
 * The audit log: every admin and moderation action is one fact appended to the `audit` stream
 * ({@link AUDIT_STREAM}). Entries are only ever appended; nothing changes or deletes one.
 */

/** Store event type of an audit entry. */
export const AUDIT_ENTRY_RECORDED = 'AuditEntryRecorded';

/** Actions recorded in the audit log. */
export const AUDIT_ACTIONS = [
  'user.created',
  'user.modified',
  'user.deactivated',
  'user.admin_changed',
  'user.password_reset',
  'room.shut_down',
  'room.blocked',
  'room.unblocked',
  'room.kick',
  'room.ban',
  'room.unban',
  'room.redaction',
  'registration_token.created',
  'registration_token.updated',
  'registration_token.deleted',
  'event_report.deleted',
  'media.quarantined',
  'media.deleted',
  'projection.rebuild_started',
  'projection.rebuild_finished',
  'projection.rebuild_failed',
  'store.imported',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** A JSON value kept in an entry's before/after/details. */
export type AuditValue = string | number | boolean | null | AuditValue[] | { [key: string]: AuditValue };

export interface AuditEntryRecordedV1 {
  v: 1;
  /** Who acted: a user id, or a name in brackets for actions without one (`[shared-secret]`, `[admin-cli]`). */
  actor: string;
  action: AuditAction;
  /** What was acted on: a user id, room id, event id, token, media URI or projection name. */
  target: string;
  /** Milliseconds since the epoch. */
  ts: number;
  /** The id of the HTTP request that did it (X-Request-Id), when there was one. */
  request_id: string | null;
  before?: AuditValue;
  after?: AuditValue;
  /** Further facts of the action (the room of a kicked user, a reason). */
  details?: { [key: string]: AuditValue };
}

export type AuditEntryRecorded = AuditEntryRecordedV1;
