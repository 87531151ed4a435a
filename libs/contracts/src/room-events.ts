/**
 * Facts stored in the room streams (`room-<roomId>`). A stored event is a past-tense fact;
 * its payload is versioned so old records stay readable after the shape grows.
 *
 * Every accepted room event carries the change it made to the room's current state and the
 * room's forward extremities after it, so projectors never re-run state resolution.
 */
import type { JsonObject, Pdu } from '@hs/protocol';

/** Store event type of an accepted room event (a PDU). */
export const ROOM_EVENT_ACCEPTED = 'RoomEventAccepted';
/** Store event type of a PDU that failed its checks: kept for audit, never shown to clients. */
export const ROOM_EVENT_REJECTED = 'RoomEventRejected';

/** One (type, state_key) -> event id entry of a room's state. */
export interface StateEntry {
  type: string;
  state_key: string;
  event_id: string;
}

/** How an accepted event changed the room's current state. */
export interface StateDelta {
  /** Entries that are now in the current state (new or replacing another). */
  added: StateEntry[];
  /** Entries that left the current state (replaced, or reset by state resolution). */
  removed: StateEntry[];
}

/** Who sent an event from this server through the client API, for `unsigned.transaction_id`. */
export interface LocalSendInfo {
  user_id: string;
  device_id: string;
  txn_id: string;
  /** The path the transaction id was used on (absent in facts recorded before paths were told apart). */
  txn_scope?: string;
}

export interface RoomEventAcceptedV1 {
  v: 1;
  room_id: string;
  room_version: string;
  event_id: string;
  /** The event exactly as signed (wire form of its room version), without `unsigned`. */
  pdu: Pdu;
  /** True when the event is part of the room's DAG but was soft-failed (not shown to clients). */
  soft_failed: boolean;
  /** True for an event we hold only for its auth or state role (not part of the timeline). */
  outlier: boolean;
  state_delta: StateDelta;
  /** The room's forward extremities after this event. */
  forward_extremities: string[];
  /** Set when a local client sent the event. */
  local?: LocalSendInfo;
  /** Extra fields the server adds to `unsigned` when serving the event (e.g. invite_room_state). */
  unsigned?: JsonObject;
  /**
   * Set by the DAG path (events received over federation, joins to remote rooms): the state
   * groups to create, in order, then the group of the state after this event and the group of
   * the room's current state after it. Without these fields, the event's state is the room's
   * current state with `state_delta` applied (the linear path of local sends).
   */
  state_groups?: StateGroupWrite[];
  /** The state group of the state after this event (not set for outliers). */
  event_group?: string;
  /** The state group of the room's current state after this event. */
  current_group?: string;
  /**
   * History fetched from another server with /backfill, older than what the room held: in the
   * timeline, but it changed neither the current state nor the forward extremities. The facts
   * of one backfill are appended newest first, so that read models ordering by position
   * negated (older history lower) keep the room's order.
   */
  backfilled?: boolean;
}

/** A state group a fact creates: a full map (`prev` null) or a delta on `prev` (null event_id removes the entry). */
export interface StateGroupWrite {
  id: string;
  prev: string | null;
  entries: { type: string; state_key: string; event_id: string | null }[];
  /** Deltas between it and a full map (when its `prev` may be written after it, as in a backfill). */
  chain_length?: number;
}

export type RoomEventAccepted = RoomEventAcceptedV1;

export interface RoomEventRejectedV1 {
  v: 1;
  room_id: string;
  room_version: string;
  event_id: string;
  pdu: Pdu;
  /** Stable identifier of the rule or check that rejected it. */
  reason: string;
  /** State groups this fact creates (the resolved state before the event, where its prev events meet). */
  state_groups?: StateGroupWrite[];
  /**
   * The state group of the state before the event, when its prev events were held: a rejected
   * event changes no state, so an event that names it as a prev event starts from this state.
   */
  event_group?: string;
}

export type RoomEventRejected = RoomEventRejectedV1;
