/**
 * Facts of push notifications, one stream per user (`push-<userId>`, {@link pushStream}): the
 * user's push rules after each change (the whole `m.push_rules` content, so the push
 * projection evaluates every event with the rules the user had when it arrived), and the
 * user's pushers set and removed.
 */

export const PUSH_RULES_CHANGED = 'PushRulesChanged';
export const PUSHER_SET = 'PusherSet';
export const PUSHER_REMOVED = 'PusherRemoved';

export const PUSH_EVENT_TYPES = [PUSH_RULES_CHANGED, PUSHER_SET, PUSHER_REMOVED] as const;

/** The user's push rules as stored in `m.push_rules` (`{ global: <ruleset> }`). */
export interface PushRulesChangedV1 {
  v: 1;
  user_id: string;
  rules: { global: Record<string, unknown> };
  ts: number;
}

/** A pusher as POST /pushers/set gives it (pusher.yaml), `kind` http or email. */
export interface PusherV1 {
  pushkey: string;
  kind: string;
  app_id: string;
  app_display_name: string;
  device_display_name: string;
  profile_tag?: string;
  lang: string;
  data: Record<string, unknown>;
}

/** A pusher added or replaced (the same app id and pushkey); with `append` false, the pushkey's pushers of other users are removed. */
export interface PusherSetV1 {
  v: 1;
  user_id: string;
  pusher: PusherV1;
  append: boolean;
  /** Milliseconds since the epoch (`pushkey_ts`). */
  ts: number;
  /** The device whose access token set it: the pusher goes when that device is deleted (logout, password change). */
  device_id?: string;
}

/**
 * A pusher removed: by its user (`kind: null`), because the push gateway rejected its pushkey,
 * or because the device that set it was deleted.
 */
export interface PusherRemovedV1 {
  v: 1;
  user_id: string;
  app_id: string;
  pushkey: string;
  reason: 'user' | 'rejected' | 'device_deleted';
  ts: number;
}

export type PushRulesChanged = PushRulesChangedV1;
export type PusherSet = PusherSetV1;
export type PusherRemoved = PusherRemovedV1;
export type Pusher = PusherV1;
