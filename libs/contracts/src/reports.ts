/**
 * Reports of events, rooms and users to the server's admins (POST /rooms/{roomId}/report/{eventId},
 * /rooms/{roomId}/report, /users/{userId}/report), as facts of the `reports` stream
 * ({@link REPORTS_STREAM}). A report's id is the stream revision of its `ReportSubmitted`; an
 * admin's deletion is a `ReportDeleted` naming it.
 */

export const REPORT_SUBMITTED = 'ReportSubmitted';
export const REPORT_DELETED = 'ReportDeleted';

export interface ReportSubmittedV1 {
  v: 1;
  /** The reporting user. */
  reporter: string;
  /** The room reported, or the room of the reported event. */
  room_id: string | null;
  event_id: string | null;
  /** The user reported (POST /users/{userId}/report). */
  user_id: string | null;
  reason: string | null;
  /** The legacy score of event reports (-100 most offensive to 0), when given. */
  score: number | null;
  ts: number;
}

export interface ReportDeletedV1 {
  v: 1;
  report_id: number;
  by: string;
  ts: number;
}

export type ReportSubmitted = ReportSubmittedV1;
export type ReportDeleted = ReportDeletedV1;
