/**
 * The push projection: what every new room event means for each local joined member other
 * than its sender (with the thread the event is in, for counts per thread), under that member's push rules at the time (notify, highlight, tweaks),
 * and each user's pushers. It follows the store in order: the users' push rules changes
 * (`PushRulesChanged`), their pushers (`PusherSet`, `PusherRemoved`) and the rooms' events,
 * whose state deltas keep the joined members (with display names), the power levels and the
 * create event it needs. The users' read receipts (`ReceiptRecorded`) mark a badge update
 * due to their pushers (`badges`: the latest receipt of each user). Rebuildable from the store
 * like every projection.
 *
 * Only events in the timeline are evaluated (not soft-failed, not outliers, not history
 * fetched with /backfill), each against the room's state before it.
 */
import { sql, type DatabaseTransactionConnection } from 'slonik';
import {
  PUSHER_REMOVED,
  PUSHER_SET,
  PUSH_RULES_CHANGED,
  PUSH_EVENT_TYPES,
  RECEIPT_RECORDED,
  ROOM_EVENT_ACCEPTED,
  isReceiptType,
  type ReceiptRecorded,
  type PusherRemoved,
  type PusherSet,
  type PushRulesChanged,
  type RoomEventAccepted,
} from '@hs/contracts';
import {
  PowerLevels,
  compilePushRules,
  effectivePushRules,
  evaluatePushRules,
  roomVersion,
  type CompiledPushRules,
  type JsonObject,
  type RoomEvent,
} from '@hs/protocol';
import type { Projector, RecordedEvent } from '@hs/eventstore';

export const PUSH_PROJECTION = 'push';

/** State the engine needs, kept per room: member events (joined members only), power levels and create. */
const KEPT_STATE_TYPES: ReadonlySet<string> = new Set(['m.room.member', 'm.room.power_levels', 'm.room.create']);

/** Compiled rules kept at most (started over beyond it). */
const MAX_COMPILED = 20_000;

interface StateEvent {
  event_id: string;
  type: string;
  state_key: string;
  sender: string;
  content: JsonObject;
}

interface RoomState {
  roomVersion: string;
  /** Joined members: user id -> display name (null: none). */
  members: Map<string, string | null>;
  powerLevels: StateEvent | undefined;
  create: StateEvent | undefined;
  powerLevelsParsed: PowerLevels | undefined;
  changed: boolean;
}

interface NotificationRow {
  user_id: string;
  room_id: string;
  event_id: string;
  position: bigint;
  ts: number;
  actions: unknown;
  highlight: boolean;
  /** The root of the thread the event is in (`m.thread` relation); null in the main timeline. */
  thread_id: string | null;
}

/** The thread root an event belongs to: the target of its `m.thread` relation. */
function threadOf(content: unknown): string | null {
  const relation = isObject(content) ? content['m.relates_to'] : undefined;
  if (!isObject(relation) || relation.rel_type !== 'm.thread') return null;
  return typeof relation.event_id === 'string' && relation.event_id.length > 0 ? relation.event_id : null;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isRulesChanged(data: unknown): data is PushRulesChanged {
  const d = data as Partial<PushRulesChanged> | null;
  return !!d && d.v === 1 && typeof d.user_id === 'string' && isObject(d.rules);
}

function isPusherSet(data: unknown): data is PusherSet {
  const d = data as Partial<PusherSet> | null;
  return (
    !!d && d.v === 1 && typeof d.user_id === 'string' && isObject(d.pusher) && typeof d.pusher.app_id === 'string' && typeof d.pusher.pushkey === 'string' && typeof d.ts === 'number'
  );
}

function isPusherRemoved(data: unknown): data is PusherRemoved {
  const d = data as Partial<PusherRemoved> | null;
  return !!d && d.v === 1 && typeof d.user_id === 'string' && typeof d.app_id === 'string' && typeof d.pushkey === 'string';
}

function isReceipt(data: unknown): data is ReceiptRecorded {
  const d = data as Partial<ReceiptRecorded> | null;
  return !!d && d.v === 1 && typeof d.user_id === 'string' && typeof d.room_id === 'string' && isReceiptType(d.receipt_type);
}

function isAccepted(data: unknown): data is RoomEventAccepted {
  const d = data as Partial<RoomEventAccepted> | null;
  return !!d && d.v === 1 && typeof d.room_id === 'string' && typeof d.event_id === 'string' && isObject(d.pdu) && isObject(d.state_delta);
}

function displayNameOf(content: JsonObject): string | null {
  return typeof content.displayname === 'string' && content.displayname.length > 0 ? content.displayname : null;
}

export class PushProjector implements Projector {
  readonly name = PUSH_PROJECTION;
  readonly version = 4;
  readonly eventTypes = [ROOM_EVENT_ACCEPTED, RECEIPT_RECORDED, ...PUSH_EVENT_TYPES];
  readonly tables = ['rules', 'pushers', 'notifications', 'notification_totals', 'members', 'room_state', 'state_events', 'badges'] as const;
  /** Compiled rules by user and the position of the rules (`default` for the server defaults). */
  private readonly compiled = new Map<string, CompiledPushRules>();
  private readonly localSuffix: string;

  constructor(serverName: string) {
    this.localSuffix = `:${serverName}`;
  }

  wants(event: RecordedEvent): boolean {
    if (event.type === RECEIPT_RECORDED) return isReceipt(event.data) && this.isLocal(event.data.user_id);
    if (event.type !== ROOM_EVENT_ACCEPTED) return true;
    const fact = event.data as Partial<RoomEventAccepted> | null;
    // Outliers and backfilled history change neither the timeline nor (here) the state kept,
    // but an invite of a local user to a room this server does not hold notifies them.
    return !!fact && fact.backfilled !== true && (fact.outlier !== true || this.isOutOfBandInvite(fact));
  }

  /** An invite of a local user received from another server for a room not held here (an outlier with its stripped state). */
  private isOutOfBandInvite(fact: Partial<RoomEventAccepted>): boolean {
    const pdu = fact.pdu as { type?: unknown; state_key?: unknown; content?: { membership?: unknown } } | undefined;
    return (
      fact.outlier === true &&
      Array.isArray(fact.unsigned?.invite_room_state) &&
      pdu?.type === 'm.room.member' &&
      typeof pdu.state_key === 'string' &&
      this.isLocal(pdu.state_key) &&
      pdu.content?.membership === 'invite'
    );
  }

  async setup(tx: DatabaseTransactionConnection): Promise<void> {
    await tx.query(sql.unsafe`CREATE TABLE rules (user_id text PRIMARY KEY, rules jsonb NOT NULL, position bigint NOT NULL)`);
    await tx.query(sql.unsafe`
      CREATE TABLE pushers (
        user_id text NOT NULL,
        app_id text NOT NULL,
        pushkey text NOT NULL,
        pusher jsonb NOT NULL,
        pushkey_ts bigint NOT NULL,
        position bigint NOT NULL,
        device_id text,
        PRIMARY KEY (app_id, pushkey, user_id)
      )`);
    await tx.query(sql.unsafe`CREATE INDEX pushers_by_user ON pushers (user_id)`);
    await tx.query(sql.unsafe`CREATE TABLE badges (user_id text PRIMARY KEY, position bigint NOT NULL)`);
    await tx.query(sql.unsafe`CREATE INDEX badges_by_position ON badges (position)`);
    await tx.query(sql.unsafe`
      CREATE TABLE notifications (
        user_id text NOT NULL,
        room_id text NOT NULL,
        event_id text NOT NULL,
        position bigint NOT NULL,
        ts bigint NOT NULL,
        actions jsonb NOT NULL,
        highlight boolean NOT NULL,
        thread_id text,
        thread_key text GENERATED ALWAYS AS (coalesce(thread_id, '')) STORED,
        seq bigint NOT NULL,
        highlight_seq bigint NOT NULL,
        PRIMARY KEY (user_id, position)
      )`);
    await tx.query(sql.unsafe`CREATE INDEX notifications_by_thread ON notifications (user_id, room_id, thread_key, position)`);
    // The latest notification of each user, room and thread ('' for the main timeline), with
    // the running totals it reached.
    await tx.query(sql.unsafe`
      CREATE TABLE notification_totals (
        user_id text NOT NULL,
        room_id text NOT NULL,
        thread_key text NOT NULL,
        position bigint NOT NULL,
        seq bigint NOT NULL,
        highlight_seq bigint NOT NULL,
        PRIMARY KEY (user_id, room_id, thread_key)
      ) WITH (fillfactor = 70)`);
    await tx.query(sql.unsafe`CREATE INDEX notifications_by_position ON notifications (position)`);
    await tx.query(sql.unsafe`
      CREATE TABLE members (room_id text NOT NULL, user_id text NOT NULL, display_name text, PRIMARY KEY (room_id, user_id))`);
    await tx.query(sql.unsafe`
      CREATE TABLE room_state (room_id text NOT NULL, type text NOT NULL, event_id text NOT NULL, room_version text NOT NULL, PRIMARY KEY (room_id, type))`);
    await tx.query(sql.unsafe`
      CREATE TABLE state_events (event_id text PRIMARY KEY, type text NOT NULL, state_key text NOT NULL, sender text NOT NULL, content jsonb NOT NULL)`);
  }

  private isLocal(userId: string): boolean {
    return userId.endsWith(this.localSuffix);
  }

  async handle(batch: RecordedEvent[], tx: DatabaseTransactionConnection): Promise<void> {
    const roomIds = new Set<string>();
    const ruleUsers = new Set<string>();
    const referenced = new Set<string>();
    for (const record of batch) {
      if (record.type === ROOM_EVENT_ACCEPTED && isAccepted(record.data)) {
        roomIds.add(record.data.room_id);
        const pdu = record.data.pdu as { type?: unknown; state_key?: unknown };
        if (pdu.type === 'm.room.member' && typeof pdu.state_key === 'string' && this.isLocal(pdu.state_key)) ruleUsers.add(pdu.state_key);
        for (const entry of record.data.state_delta.added ?? []) {
          if (KEPT_STATE_TYPES.has(entry.type) && entry.event_id !== record.data.event_id) referenced.add(entry.event_id);
        }
      }
    }
    // Forgotten between batches only: within one, rules read as already compiled must stay so.
    if (this.compiled.size >= MAX_COMPILED) this.compiled.clear();
    const rooms = await this.loadRooms(tx, [...roomIds]);
    for (const room of rooms.values()) for (const userId of room.members.keys()) if (this.isLocal(userId)) ruleUsers.add(userId);
    const rules = await this.loadRules(tx, [...ruleUsers]);
    const stateEvents = await this.loadStateEvents(tx, [...referenced]);

    const notifications: NotificationRow[] = [];
    const newStateEvents: StateEvent[] = [];
    const rulesWrites = new Map<string, { rules: unknown; position: bigint }>();
    const badges = new Map<string, bigint>();
    for (const record of batch) {
      const data = record.data;
      switch (record.type) {
        case RECEIPT_RECORDED:
          if (isReceipt(data) && this.isLocal(data.user_id)) badges.set(data.user_id, record.position);
          break;
        case PUSH_RULES_CHANGED:
          if (isRulesChanged(data)) {
            rules.set(data.user_id, { rules: data.rules, position: record.position });
            rulesWrites.set(data.user_id, { rules: data.rules, position: record.position });
          }
          break;
        case PUSHER_SET:
          if (isPusherSet(data)) await this.setPusher(tx, data, record.position);
          break;
        case PUSHER_REMOVED:
          if (isPusherRemoved(data)) {
            await tx.query(sql.unsafe`DELETE FROM pushers WHERE app_id = ${data.app_id} AND pushkey = ${data.pushkey} AND user_id = ${data.user_id}`);
          }
          break;
        case ROOM_EVENT_ACCEPTED: {
          if (!isAccepted(data) || data.backfilled) break;
          if (data.outlier) {
            // The invitee alone is asked, with nothing known of the room but its version.
            if (this.isOutOfBandInvite(data)) {
              const unknown: RoomState = { roomVersion: data.room_version, members: new Map(), powerLevels: undefined, create: undefined, powerLevelsParsed: undefined, changed: false };
              this.evaluate(data, record, unknown, rules, notifications);
            }
            break;
          }
          let room = rooms.get(data.room_id);
          if (!room) {
            room = { roomVersion: data.room_version, members: new Map(), powerLevels: undefined, create: undefined, powerLevelsParsed: undefined, changed: false };
            rooms.set(data.room_id, room);
          }
          room.roomVersion = data.room_version;
          if (!data.soft_failed) this.evaluate(data, record, room, rules, notifications);
          this.applyState(data, room, stateEvents, newStateEvents);
          break;
        }
        default:
          break;
      }
    }
    await this.write(tx, rooms, notifications, newStateEvents, rulesWrites);
    if (badges.size > 0) {
      const rows = [...badges];
      await tx.query(sql.unsafe`
        INSERT INTO badges (user_id, position)
        SELECT * FROM unnest(${sql.array(rows.map(([u]) => u), 'text')}, ${sql.array(rows.map(([, p]) => String(p)), 'int8')})
        ON CONFLICT (user_id) DO UPDATE SET position = EXCLUDED.position`);
    }
  }

  private evaluate(
    fact: RoomEventAccepted,
    record: RecordedEvent,
    room: RoomState,
    rules: Map<string, { rules: unknown; position: bigint } | null>,
    out: NotificationRow[],
  ): void {
    const pdu = fact.pdu as unknown as RoomEvent & Record<string, unknown>;
    const sender = pdu.sender;
    const event = { ...pdu, event_id: fact.event_id, room_id: fact.room_id };
    let powerLevels = room.powerLevelsParsed;
    if (!powerLevels) {
      const rules = roomVersion(room.roomVersion);
      const lookup = (type: string) => (type === 'm.room.power_levels' ? room.powerLevels : type === 'm.room.create' ? room.create : undefined) as RoomEvent | undefined;
      powerLevels = PowerLevels.fromAuthEvents(lookup, rules);
      room.powerLevelsParsed = powerLevels;
    }
    const senderPowerLevel = powerLevels.userLevel(sender);
    const notificationLevels = this.notificationLevels(room);
    const memberCount = room.members.size;
    const ts = typeof pdu.origin_server_ts === 'number' ? pdu.origin_server_ts : record.recordedAt.getTime();
    const targets: string[] = [];
    for (const userId of room.members.keys()) if (userId !== sender && this.isLocal(userId)) targets.push(userId);
    // An invite for a local user who is not a member yet is evaluated for them too.
    if (pdu.type === 'm.room.member' && typeof pdu.state_key === 'string' && pdu.state_key !== sender && this.isLocal(pdu.state_key) && !room.members.has(pdu.state_key)) {
      const content = pdu.content as JsonObject;
      if (content.membership === 'invite') targets.push(pdu.state_key);
    }
    for (const userId of targets) {
      const compiled = this.compiledFor(userId, rules.get(userId));
      const outcome = evaluatePushRules(compiled, event, {
        memberCount,
        displayName: room.members.get(userId) ?? undefined,
        senderPowerLevel,
        notificationLevels,
      });
      if (!outcome.notify) continue;
      out.push({
        user_id: userId,
        room_id: fact.room_id,
        event_id: fact.event_id,
        position: record.position,
        ts,
        actions: outcome.actions,
        highlight: outcome.highlight,
        thread_id: threadOf(pdu.content),
      });
    }
  }

  private notificationLevels(room: RoomState): Record<string, number> {
    const notifications = room.powerLevels?.content.notifications;
    const levels: Record<string, number> = {};
    if (isObject(notifications)) {
      for (const [key, value] of Object.entries(notifications)) {
        if (typeof value === 'number' && Number.isInteger(value)) levels[key] = value;
        else if (typeof value === 'string' && /^\s*[+-]?[0-9]+\s*$/.test(value)) levels[key] = Number(value.trim());
      }
    }
    return levels;
  }

  private compiledFor(userId: string, stored: { rules: unknown; position: bigint } | null | undefined): CompiledPushRules {
    const key = `${userId}\u0000${stored ? stored.position : 'default'}`;
    let compiled = this.compiled.get(key);
    if (!compiled) {
      compiled = compilePushRules(userId, effectivePushRules(userId, stored?.rules ?? null));
      this.compiled.set(key, compiled);
    }
    return compiled;
  }

  private applyState(
    fact: RoomEventAccepted,
    room: RoomState,
    known: Map<string, StateEvent>,
    created: StateEvent[],
  ): void {
    const pdu = fact.pdu as unknown as RoomEvent;
    if (typeof pdu.state_key === 'string' && KEPT_STATE_TYPES.has(pdu.type)) {
      const own: StateEvent = { event_id: fact.event_id, type: pdu.type, state_key: pdu.state_key, sender: pdu.sender, content: (pdu.content ?? {}) as JsonObject };
      known.set(fact.event_id, own);
      created.push(own);
    }
    for (const entry of fact.state_delta.removed ?? []) {
      if (!KEPT_STATE_TYPES.has(entry.type)) continue;
      if (entry.type === 'm.room.member') {
        if (room.members.delete(entry.state_key)) room.changed = true;
      }
    }
    for (const entry of fact.state_delta.added ?? []) {
      if (!KEPT_STATE_TYPES.has(entry.type)) continue;
      const event = known.get(entry.event_id);
      if (entry.type === 'm.room.member') {
        const joined = event?.content.membership === 'join';
        if (joined) {
          room.members.set(entry.state_key, displayNameOf(event.content));
        } else room.members.delete(entry.state_key);
        room.changed = true;
      } else if (entry.state_key === '' && event) {
        if (entry.type === 'm.room.power_levels') room.powerLevels = event;
        else room.create = event;
        room.powerLevelsParsed = undefined;
        room.changed = true;
      }
    }
  }

  private async loadRooms(tx: DatabaseTransactionConnection, roomIds: string[]): Promise<Map<string, RoomState>> {
    const rooms = new Map<string, RoomState>();
    if (roomIds.length === 0) return rooms;
    const stateRows = (await tx.any(sql.unsafe`
      SELECT s.room_id, s.type, s.room_version, e.event_id, e.state_key, e.sender, e.content
        FROM room_state s JOIN state_events e ON e.event_id = s.event_id
       WHERE s.room_id = ANY(${sql.array(roomIds, 'text')})`)) as unknown as (StateEvent & { room_id: string; room_version: string })[];
    for (const row of stateRows) {
      let room = rooms.get(row.room_id);
      if (!room) {
        room = { roomVersion: row.room_version, members: new Map(), powerLevels: undefined, create: undefined, powerLevelsParsed: undefined, changed: false };
        rooms.set(row.room_id, room);
      }
      const event: StateEvent = { event_id: row.event_id, type: row.type, state_key: row.state_key, sender: row.sender, content: row.content };
      if (row.type === 'm.room.power_levels') room.powerLevels = event;
      else if (row.type === 'm.room.create') room.create = event;
    }
    const memberRows = (await tx.any(sql.unsafe`
      SELECT room_id, user_id, display_name FROM members WHERE room_id = ANY(${sql.array(roomIds, 'text')})`)) as unknown as {
      room_id: string;
      user_id: string;
      display_name: string | null;
    }[];
    for (const row of memberRows) {
      let room = rooms.get(row.room_id);
      if (!room) {
        room = { roomVersion: '1', members: new Map(), powerLevels: undefined, create: undefined, powerLevelsParsed: undefined, changed: false };
        rooms.set(row.room_id, room);
      }
      room.members.set(row.user_id, row.display_name);
    }
    return rooms;
  }

  private async loadRules(tx: DatabaseTransactionConnection, userIds: string[]): Promise<Map<string, { rules: unknown; position: bigint } | null>> {
    const out = new Map<string, { rules: unknown; position: bigint } | null>();
    for (const userId of userIds) out.set(userId, null);
    if (userIds.length === 0) return out;
    // Rules already compiled are not read again: only their position is.
    const rows = (await tx.any(sql.unsafe`
      SELECT user_id, position FROM rules WHERE user_id = ANY(${sql.array(userIds, 'text')})`)) as unknown as { user_id: string; position: bigint }[];
    const missing: string[] = [];
    for (const row of rows) {
      const key = `${row.user_id}\u0000${row.position}`;
      if (this.compiled.has(key)) out.set(row.user_id, { rules: null, position: row.position });
      else missing.push(row.user_id);
    }
    if (missing.length > 0) {
      const full = (await tx.any(sql.unsafe`
        SELECT user_id, rules, position FROM rules WHERE user_id = ANY(${sql.array(missing, 'text')})`)) as unknown as {
        user_id: string;
        rules: unknown;
        position: bigint;
      }[];
      for (const row of full) out.set(row.user_id, { rules: row.rules, position: row.position });
    }
    return out;
  }

  private async loadStateEvents(tx: DatabaseTransactionConnection, eventIds: string[]): Promise<Map<string, StateEvent>> {
    const out = new Map<string, StateEvent>();
    if (eventIds.length === 0) return out;
    const rows = (await tx.any(sql.unsafe`
      SELECT event_id, type, state_key, sender, content FROM state_events WHERE event_id = ANY(${sql.array(eventIds, 'text')})`)) as unknown as StateEvent[];
    for (const row of rows) out.set(row.event_id, row);
    return out;
  }

  private async setPusher(tx: DatabaseTransactionConnection, fact: PusherSet, position: bigint): Promise<void> {
    const p = fact.pusher;
    if (!fact.append) {
      // Without `append`, other users' pushers with the same app id and pushkey are replaced.
      await tx.query(sql.unsafe`DELETE FROM pushers WHERE app_id = ${p.app_id} AND pushkey = ${p.pushkey} AND user_id <> ${fact.user_id}`);
    }
    await tx.query(sql.unsafe`
      INSERT INTO pushers (user_id, app_id, pushkey, pusher, pushkey_ts, position, device_id)
      VALUES (${fact.user_id}, ${p.app_id}, ${p.pushkey}, ${sql.jsonb(p as never)}, ${fact.ts}, ${position}, ${typeof fact.device_id === 'string' ? fact.device_id : null})
      ON CONFLICT (app_id, pushkey, user_id) DO UPDATE
        SET pusher = EXCLUDED.pusher, pushkey_ts = EXCLUDED.pushkey_ts, position = EXCLUDED.position, device_id = EXCLUDED.device_id`);
  }

  private async write(
    tx: DatabaseTransactionConnection,
    rooms: Map<string, RoomState>,
    notifications: NotificationRow[],
    stateEvents: StateEvent[],
    rulesWrites: Map<string, { rules: unknown; position: bigint }>,
  ): Promise<void> {
    if (rulesWrites.size > 0) {
      const rows = [...rulesWrites];
      await tx.query(sql.unsafe`
        INSERT INTO rules (user_id, rules, position)
        SELECT * FROM unnest(${sql.array(rows.map(([u]) => u), 'text')}, ${sql.array(rows.map(([, r]) => JSON.stringify(r.rules)), 'jsonb')},
                             ${sql.array(rows.map(([, r]) => String(r.position)), 'int8')})
        ON CONFLICT (user_id) DO UPDATE SET rules = EXCLUDED.rules, position = EXCLUDED.position`);
    }
    if (stateEvents.length > 0) {
      await tx.query(sql.unsafe`
        INSERT INTO state_events (event_id, type, state_key, sender, content)
        SELECT * FROM unnest(${sql.array(stateEvents.map((e) => e.event_id), 'text')}, ${sql.array(stateEvents.map((e) => e.type), 'text')},
                             ${sql.array(stateEvents.map((e) => e.state_key), 'text')}, ${sql.array(stateEvents.map((e) => e.sender), 'text')},
                             ${sql.array(stateEvents.map((e) => JSON.stringify(e.content)), 'jsonb')})
        ON CONFLICT (event_id) DO NOTHING`);
    }
    const changed = [...rooms].filter(([, room]) => room.changed);
    if (changed.length > 0) {
      const ids = changed.map(([id]) => id);
      await tx.query(sql.unsafe`DELETE FROM members WHERE room_id = ANY(${sql.array(ids, 'text')})`);
      const members = changed.flatMap(([roomId, room]) => [...room.members].map(([userId, name]) => [roomId, userId, name] as const));
      if (members.length > 0) {
        await tx.query(sql.unsafe`
          INSERT INTO members (room_id, user_id, display_name)
          SELECT * FROM unnest(${sql.array(members.map((m) => m[0]), 'text')}, ${sql.array(members.map((m) => m[1]), 'text')}, ${sql.array(members.map((m) => m[2]), 'text')})`);
      }
      const state = changed.flatMap(([roomId, room]) =>
        [room.powerLevels, room.create].filter((e): e is StateEvent => e !== undefined).map((e) => [roomId, e.type, e.event_id, room.roomVersion] as const),
      );
      if (state.length > 0) {
        await tx.query(sql.unsafe`
          INSERT INTO room_state (room_id, type, event_id, room_version)
          SELECT * FROM unnest(${sql.array(state.map((s) => s[0]), 'text')}, ${sql.array(state.map((s) => s[1]), 'text')},
                               ${sql.array(state.map((s) => s[2]), 'text')}, ${sql.array(state.map((s) => s[3]), 'text')})
          ON CONFLICT (room_id, type) DO UPDATE SET event_id = EXCLUDED.event_id, room_version = EXCLUDED.room_version`);
      }
    }
    if (notifications.length > 0) {
      // Each notification carries the running totals of its user, room and thread (all and
      // highlighting), so that counting those after a read position is two index lookups
      // (see unreadCounts) instead of reading every unread one.
      await tx.query(sql.unsafe`
        WITH u AS (
          SELECT * FROM unnest(${sql.array(notifications.map((n) => n.user_id), 'text')}, ${sql.array(notifications.map((n) => n.room_id), 'text')},
                               ${sql.array(notifications.map((n) => n.event_id), 'text')}, ${sql.array(notifications.map((n) => String(n.position)), 'int8')},
                               ${sql.array(notifications.map((n) => n.ts), 'int8')}, ${sql.array(notifications.map((n) => JSON.stringify(n.actions)), 'jsonb')},
                               ${sql.array(notifications.map((n) => n.highlight), 'bool')}, ${sql.array(notifications.map((n) => n.thread_id), 'text')})
                 AS u(user_id, room_id, event_id, position, ts, actions, highlight, thread_id)
        ), numbered AS (
          SELECT u.*, coalesce(t.seq, 0) + count(*) OVER w AS seq,
                 coalesce(t.highlight_seq, 0) + count(*) FILTER (WHERE u.highlight) OVER w AS highlight_seq
            FROM u LEFT JOIN notification_totals t ON t.user_id = u.user_id AND t.room_id = u.room_id AND t.thread_key = coalesce(u.thread_id, '')
          WINDOW w AS (PARTITION BY u.user_id, u.room_id, coalesce(u.thread_id, '') ORDER BY u.position)
        ), inserted AS (
          INSERT INTO notifications (user_id, room_id, event_id, position, ts, actions, highlight, thread_id, seq, highlight_seq)
          SELECT user_id, room_id, event_id, position, ts, actions, highlight, thread_id, seq, highlight_seq FROM numbered
          ON CONFLICT (user_id, position) DO NOTHING
          RETURNING user_id, room_id, thread_key, position, seq, highlight_seq
        )
        INSERT INTO notification_totals (user_id, room_id, thread_key, position, seq, highlight_seq)
        SELECT DISTINCT ON (user_id, room_id, thread_key) user_id, room_id, thread_key, position, seq, highlight_seq
          FROM inserted ORDER BY user_id, room_id, thread_key, position DESC
        ON CONFLICT (user_id, room_id, thread_key) DO UPDATE
          SET position = EXCLUDED.position, seq = EXCLUDED.seq, highlight_seq = EXCLUDED.highlight_seq`);
    }
  }
}
