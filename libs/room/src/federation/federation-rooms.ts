/**
 * Rooms over federation, on the write side: what other servers send us (transactions of PDUs,
 * make_join/send_join, make_leave/send_leave, invites) and what our users do in rooms held by
 * other servers (joins, leaves, invites of remote users). Every PDU goes through the receipt
 * checks (format, signatures, hash) here, then through the DAG path of the writer
 * (dag/ingest.ts), which decides accepted, soft-failed, outlier or rejected.
 */
import {
  checkAuth,
  computeEventId,
  eventTemplate,
  isKnownRoomVersion,
  isValidRoomAlias,
  isValidRoomId,
  isValidServerName,
  isServerAllowedByAcl,
  isValidUserId,
  referenceHashOf,
  ROOM_VERSIONS,
  SERVER_ACL_EVENT_TYPE,
  roomVersion,
  serverNameOf,
  signEvent,
  signNewEvent,
  stateKey,
  STRIPPED_STATE_TYPES,
  toPdu,
  toRoomEvent,
  type JsonObject,
  type Pdu,
  type PduCheckResult,
  type RoomEvent,
  type RoomVersionRules,
  type SigningKey,
  type StateKey,
} from '@hs/protocol';
import { RemoteRefusalError, RoomCommandError, forbidden, invalidParam, notFound } from '../errors';
import { MissingPrevEventsError, type IncomingPdu, type IngestResult } from '../dag/ingest';
import type { RoomWriter } from '../room-writer';
import { checkPdus, isRecord, isUnknownEndpoint, RemoteAnswerError, type RemoteRequest, type RemoteServers } from './remote';
import type { PublicRoomsChunk, PublicRoomsPage, PublicRoomsRequest } from '../federation-queries/queries';
import { assertServerAllowedInRoom, serverAllowedInRoom } from './server-acl';
import { RemoteHierarchy, remoteRoomsChunk } from './remote-hierarchy';

/** Most PDUs and EDUs one transaction may carry (server-server-api.md "Transactions"). */
export const MAX_TRANSACTION_PDUS = 50;
export const MAX_TRANSACTION_EDUS = 100;

export interface FederationRoomsOptions {
  /** Most events fetched from other servers to place one received PDU (missing prev events, state). */
  maxFetchedEventsPerPdu?: number;
  /**
   * Deadline of the requests whose answer is a whole room state (send_join, state), which for
   * a large room takes the other server longer to build and send than an ordinary request
   * (default 120000 ms; other requests have the client's own deadline).
   */
  largeRequestTimeoutMs?: number;
  /** Logs refusals and failures of other servers (never secrets). */
  log?: (level: 'info' | 'warn', fields: Record<string, unknown>, message: string) => void;
}

/** A checked PDU with its wire form. */
interface Checked {
  event: RoomEvent;
  pdu: Pdu;
}

export interface TransactionResult {
  pdus: Record<string, { error?: string }>;
}

const ENCODE = encodeURIComponent;
/** Most events a state fetched by ids may lack (each one a request); above it, the whole state is asked for. */
const STATE_IDS_MAX_MISSING = 100;

export class FederationRooms {
  private readonly transactions = new Map<string, Promise<TransactionResult>>();
  private readonly maxFetched: number;
  private readonly largeRequestTimeoutMs: number;
  /** Other servers' parts of space hierarchies, for the client's hierarchy. */
  readonly spaces: RemoteHierarchy;

  constructor(
    private readonly writer: RoomWriter,
    private readonly remote: RemoteServers,
    private readonly signingKey: SigningKey,
    private readonly options: FederationRoomsOptions = {},
  ) {
    this.maxFetched = options.maxFetchedEventsPerPdu ?? 50_000;
    this.largeRequestTimeoutMs = options.largeRequestTimeoutMs ?? 120_000;
    this.spaces = new RemoteHierarchy(remote, writer.serverName);
  }

  private get serverName(): string {
    return this.writer.serverName;
  }

  private log(level: 'info' | 'warn', fields: Record<string, unknown>, message: string): void {
    this.options.log?.(level, fields, message);
  }

  // ---------------------------------------------------------------- inbound transactions

  /**
   * PUT /_matrix/federation/v1/send/{txnId}: the PDUs of `origin`, each placed in its room (its
   * missing prev events fetched from `origin` first), with a result per PDU. A transaction id
   * already received from the same origin answers the first result without doing it again.
   */
  receiveTransaction(origin: string, txnId: string, body: unknown): Promise<TransactionResult> {
    if (!isRecord(body)) throw new RoomCommandError('M_BAD_JSON', 'the transaction must be a JSON object');
    const pdus = body.pdus;
    const edus = body.edus ?? [];
    if (!Array.isArray(pdus)) throw new RoomCommandError('M_BAD_JSON', 'pdus must be an array');
    if (!Array.isArray(edus)) throw new RoomCommandError('M_BAD_JSON', 'edus must be an array');
    if (pdus.length > MAX_TRANSACTION_PDUS) throw new RoomCommandError('M_BAD_JSON', `a transaction carries at most ${MAX_TRANSACTION_PDUS} PDUs`);
    if (edus.length > MAX_TRANSACTION_EDUS) throw new RoomCommandError('M_BAD_JSON', `a transaction carries at most ${MAX_TRANSACTION_EDUS} EDUs`);
    const key = `${origin}\u0000${txnId}`;
    const known = this.transactions.get(key);
    if (known) return known;
    const work = this.placeTransaction(origin, pdus);
    this.transactions.set(key, work);
    if (this.transactions.size > 10_000) {
      const oldest = this.transactions.keys().next().value;
      if (oldest !== undefined) this.transactions.delete(oldest);
    }
    work.catch(() => this.transactions.delete(key));
    return work;
  }

  private async placeTransaction(origin: string, raws: readonly unknown[]): Promise<TransactionResult> {
    const result: TransactionResult = { pdus: {} };
    const byRoom = new Map<string, unknown[]>();
    for (const raw of raws) {
      if (!isRecord(raw) || typeof raw.room_id !== 'string' || !isValidRoomId(raw.room_id)) continue;
      const list = byRoom.get(raw.room_id) ?? [];
      list.push(raw);
      byRoom.set(raw.room_id, list);
    }
    for (const [roomId, roomRaws] of byRoom) {
      const room = await this.writer.reader.room(roomId);
      if (!room) {
        this.log('info', { origin, roomId, pdus: roomRaws.length }, 'PDUs of a room this server does not hold were ignored');
        continue;
      }
      if (!(await this.aclAllows(roomId, origin))) {
        for (const raw of roomRaws) {
          const id = eventIdOf(raw, room.roomVersion);
          if (id !== undefined) result.pdus[id] = { error: `${origin} is denied by the room's server ACL` };
        }
        this.log('info', { origin, roomId, pdus: roomRaws.length }, "PDUs of a server the room's server ACL denies were refused");
        continue;
      }
      const checks = await checkPdus(this.remote, roomRaws, room.roomVersion, roomId);
      const allowed = await serverAllowedInRoom(this.writer.reader, roomId, origin);
      const accepted: Checked[] = [];
      checks.forEach((check, i) => {
        const raw = roomRaws[i] as Record<string, unknown>;
        if (!check.ok) {
          const id = eventIdOf(raw, room.roomVersion);
          if (id !== undefined) result.pdus[id] = { error: `${check.reason}: ${check.detail}` };
          this.log('warn', { origin, roomId, reason: check.reason, detail: check.detail }, 'a received PDU failed its checks and was dropped');
          return;
        }
        if (serverNameOf(check.event.sender) !== origin) {
          result.pdus[check.event.event_id] = { error: `the sender ${check.event.sender} does not belong to ${origin}` };
          return;
        }
        if (!allowed) {
          result.pdus[check.event.event_id] = { error: `M_FORBIDDEN: ${origin} is denied by the server ACL of the room` };
          return;
        }
        accepted.push({ event: check.event, pdu: check.pdu });
      });
      accepted.sort((a, b) => a.event.depth - b.event.depth);
      for (const item of accepted) {
        try {
          const placed = await this.place(origin, roomId, room.roomVersion, item);
          // A PDU the authorization rules reject was processed (and is held as rejected): like
          // Synapse and Dendrite (and MSC3618), only PDUs that could not be processed get an error.
          if (placed.outcome === 'rejected') this.log('info', { origin, roomId, eventId: item.event.event_id, reason: placed.reason }, 'a received PDU was rejected');
          result.pdus[item.event.event_id] = {};
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          this.log('warn', { origin, roomId, eventId: item.event.event_id, reason }, 'a received PDU could not be placed');
          result.pdus[item.event.event_id] = { error: reason };
        }
      }
    }
    return result;
  }

  /**
   * Places one checked PDU: directly when its prev events are held; else after fetching the
   * missing ones with get_missing_events (each placed on the state at its own gap, see
   * `stateAfterMissingPrevs`). A pushed PDU whose prev events its server does not give is
   * refused, as Synapse does: it was sent to us, so its server has them, and placing it on a
   * state it chose could make that state the room's.
   */
  private async place(origin: string, roomId: string, version: string, item: Checked): Promise<IngestResult> {
    // Missing prev events are fetched before anything is decided, so that an event is placed
    // (accepted or rejected) with the state before it.
    if ((await this.missingPrevs(roomId, item.event)).length === 0) return (await this.writer.ingest(roomId, [item]))[0];
    const budget = { left: this.maxFetched };
    await this.fetchMissingEvents(origin, roomId, version, item, budget);
    try {
      return (await this.writer.ingest(roomId, [item]))[0];
    } catch (error) {
      if (!(error instanceof MissingPrevEventsError)) throw error;
      throw new RemoteAnswerError(origin, `the prev events ${error.missing.join(', ')} of ${item.event.event_id} could not be had from its server`);
    }
  }

  /**
   * get_missing_events from `origin` between our extremities and the event; places what comes
   * back, oldest first. An event whose own prev events are still missing is placed on the state
   * at those prev events (`stateAfterMissingPrevs`); one that cannot be is left out.
   */
  private async fetchMissingEvents(origin: string, roomId: string, version: string, item: Checked, budget: { left: number }): Promise<void> {
    const snapshot = await this.writer.reader.snapshot(roomId);
    if (!snapshot) return;
    const minDepth = Math.max(0, Math.min(...snapshot.extremities.map((x) => x.depth), item.event.depth) - 20);
    const answer = await this.remote
      .request(origin, {
        method: 'POST',
        path: `/_matrix/federation/v1/get_missing_events/${ENCODE(roomId)}`,
        body: { earliest_events: snapshot.extremities.map((x) => x.eventId), latest_events: [item.event.event_id], limit: 10, min_depth: minDepth },
      })
      .catch((error: unknown) => {
        this.log('info', { origin, roomId, reason: (error as Error).message }, 'get_missing_events failed');
        return undefined;
      });
    const events = answer && Array.isArray(answer.body.events) ? answer.body.events.slice(0, Math.min(10, budget.left)) : [];
    budget.left -= events.length;
    const checked = okOnly(await checkPdus(this.remote, events, version, roomId));
    checked.sort((a, b) => a.event.depth - b.event.depth);
    for (const missing of checked) {
      if ((await this.missingPrevs(roomId, missing.event)).length === 0) {
        await this.writer.ingest(roomId, [missing]);
        continue;
      }
      let stateAfterPrevs: Map<string, ReadonlyMap<StateKey, string>>;
      try {
        stateAfterPrevs = await this.stateAfterMissingPrevs(origin, roomId, version, missing.event, budget);
      } catch (gap) {
        this.log('info', { origin, roomId, eventId: missing.event.event_id, reason: (gap as Error).message }, 'the state at a gap could not be had; the event was left out');
        continue;
      }
      await this.writer.ingest(roomId, [{ ...missing, stateAfterPrevs }]);
    }
  }

  /**
   * The prev events of an event that are not held with a state in the room (none when the
   * event itself is held in the room's timeline or rejected: it is known; an event held only as
   * an outlier is placed like a new one).
   */
  private async missingPrevs(roomId: string, event: RoomEvent): Promise<string[]> {
    const places = await this.writer.reader.eventPlaces([event.event_id, ...event.prev_events]);
    const own = places.get(event.event_id);
    if (own?.roomId === roomId && (!own.outlier || own.rejected)) return [];
    return event.prev_events.filter((prev) => places.get(prev)?.roomId !== roomId || places.get(prev)?.stateGroup === undefined);
  }

  /**
   * The state after each prev event of `event` that is not held with a state in the room, from
   * `origin` (Synapse's `_resolve_state_at_missing_prevs`): the state before it (`/state_ids`,
   * the events we lack fetched with `/event`, or `/state`), plus the prev event itself when it is
   * a state event that its auth events allow. The state events, their auth chain and the prev
   * event are held as outliers first, each checked against its own auth events; events that fail
   * their checks, are rejected or belong to another room are left out of the state. Throws when
   * the state or the prev event cannot be had: the event cannot be placed.
   */
  private async stateAfterMissingPrevs(
    origin: string,
    roomId: string,
    version: string,
    event: RoomEvent,
    budget: { left: number },
    pending: ReadonlySet<string> = new Set(),
  ): Promise<Map<string, ReadonlyMap<StateKey, string>>> {
    const missing = new Set(await this.missingPrevs(roomId, event));
    const states = new Map<string, ReadonlyMap<StateKey, string>>();
    for (const prev of [...missing].filter((id) => !pending.has(id))) {
      this.log('info', { origin, roomId, eventId: event.event_id, prev }, 'asking for the state after a missing prev event');
      states.set(prev, await this.stateAfterMissingPrev(origin, roomId, version, prev, budget));
    }
    return states;
  }

  private async stateAfterMissingPrev(origin: string, roomId: string, version: string, prevId: string, budget: { left: number }): Promise<ReadonlyMap<StateKey, string>> {
    const before = await this.stateAt(origin, roomId, version, prevId, budget);
    const outliers = [...before.outliers];
    const held = (await this.writer.reader.eventPlaces([prevId])).get(prevId);
    if (held?.roomId !== roomId && !outliers.some((o) => o.event.event_id === prevId)) {
      if (budget.left < 1) throw new RemoteAnswerError(origin, `more events than the ${this.maxFetched} fetched for one event`);
      budget.left -= 1;
      const [fetched] = okOnly(await checkPdus(this.remote, [await this.fetchEvent(origin, prevId)], version, roomId));
      if (!fetched || fetched.event.event_id !== prevId) throw new RemoteAnswerError(origin, `the prev event ${prevId} failed its checks`);
      outliers.push({ ...fetched, outlier: true });
    }
    if (outliers.length > 0) await this.writer.ingest(roomId, parentsFirst(outliers));
    const ids = [...before.map.values()];
    const known = await this.writer.reader.eventPlaces([...ids, prevId]);
    const prevPlace = known.get(prevId);
    if (prevPlace?.roomId !== roomId) throw new RemoteAnswerError(origin, `the prev event ${prevId} could not be had`);
    const usable = (id: string) => known.get(id)?.roomId === roomId && known.get(id)?.rejected === false;
    const map = new Map<StateKey, string>();
    for (const [k, id] of before.map) if (usable(id)) map.set(k, id);
    if (usable(prevId)) {
      const [prev] = await this.writer.reader.events([prevId]);
      if (prev && typeof prev.state_key === 'string') map.set(stateKey(prev.type, prev.state_key), prevId);
    }
    return map;
  }

  /** GET /event: the event's PDU as `origin` answers it (unchecked). */
  private async fetchEvent(origin: string, eventId: string): Promise<unknown> {
    const got = await this.remote.request(origin, { method: 'GET', path: `/_matrix/federation/v1/event/${ENCODE(eventId)}` });
    const pdu = Array.isArray(got.body.pdus) ? got.body.pdus[0] : undefined;
    if (pdu === undefined) throw new RemoteAnswerError(origin, `the answer for ${eventId} has no event`);
    return pdu;
  }

  /**
   * The state before an event, from `origin`: its ids (`/state_ids`) with the events we do not
   * hold fetched one by one (`/event`), as Synapse does; the whole state (`/state`) when the
   * ids cannot be had or too many events are missing.
   */
  private async stateAt(origin: string, roomId: string, version: string, eventId: string, budget: { left: number }): Promise<{ map: Map<StateKey, string>; outliers: IncomingPdu[] }> {
    const byIds = await this.stateByIds(origin, roomId, version, eventId, budget).catch((error: unknown) => {
      this.log('info', { origin, roomId, eventId, reason: (error as Error).message }, 'state_ids failed; asking for the whole state');
      return undefined;
    });
    return byIds ?? this.wholeStateAt(origin, roomId, version, eventId, budget);
  }

  /** `stateAt` through /state_ids and /event; undefined when more than STATE_IDS_MAX_MISSING events are missing. */
  private async stateByIds(
    origin: string,
    roomId: string,
    version: string,
    eventId: string,
    budget: { left: number },
  ): Promise<{ map: Map<StateKey, string>; outliers: IncomingPdu[] } | undefined> {
    const answer = await this.remote.request(origin, {
      method: 'GET',
      path: `/_matrix/federation/v1/state_ids/${ENCODE(roomId)}?event_id=${ENCODE(eventId)}`,
      maxResponseBytes: 64 * 1024 * 1024,
      timeoutMs: this.largeRequestTimeoutMs,
    });
    const ids = (value: unknown) => (Array.isArray(value) && value.every((id) => typeof id === 'string') ? (value as string[]) : undefined);
    const stateIds = ids(answer.body.pdu_ids);
    const chainIds = ids(answer.body.auth_chain_ids);
    if (!stateIds || !chainIds) throw new RemoteAnswerError(origin, 'the state_ids answer has no pdu_ids or auth_chain_ids');
    const wanted = [...new Set([...stateIds, ...chainIds])];
    const places = await this.writer.reader.eventPlaces(wanted);
    const missing = new Set(wanted.filter((id) => places.get(id)?.roomId !== roomId || places.get(id)?.rejected === true));
    if (missing.size > STATE_IDS_MAX_MISSING || missing.size > budget.left) return undefined;
    budget.left -= missing.size;
    const fetched: unknown[] = [];
    for (const id of missing) {
      const pdu = await this.fetchEvent(origin, id).catch(() => undefined);
      if (pdu !== undefined) fetched.push(pdu);
    }
    const checked = okOnly(await checkPdus(this.remote, fetched, version, roomId)).filter((c) => missing.has(c.event.event_id));
    const held = await this.writer.reader.events(stateIds.filter((id) => !missing.has(id)));
    const map = new Map<StateKey, string>();
    const stateSet = new Set(stateIds);
    for (const event of [...held, ...checked.map((c) => c.event)]) {
      if (stateSet.has(event.event_id) && typeof event.state_key === 'string') map.set(stateKey(event.type, event.state_key), event.event_id);
    }
    return { map, outliers: parentsFirst(checked).map((c) => ({ ...c, outlier: true })) };
  }

  private async wholeStateAt(origin: string, roomId: string, version: string, eventId: string, budget: { left: number }): Promise<{ map: Map<StateKey, string>; outliers: IncomingPdu[] }> {
    const answer = await this.remote.request(origin, {
      method: 'GET',
      path: `/_matrix/federation/v1/state/${ENCODE(roomId)}?event_id=${ENCODE(eventId)}`,
      maxResponseBytes: 256 * 1024 * 1024,
      timeoutMs: this.largeRequestTimeoutMs,
    });
    const pdus = Array.isArray(answer.body.pdus) ? answer.body.pdus : undefined;
    const chain = Array.isArray(answer.body.auth_chain) ? answer.body.auth_chain : undefined;
    if (!pdus || !chain) throw new RemoteAnswerError(origin, 'the state answer has no pdus or auth_chain');
    if (pdus.length + chain.length > budget.left) throw new RemoteAnswerError(origin, `the state of ${eventId} has more events than the ${this.maxFetched} fetched for one event`);
    budget.left -= pdus.length + chain.length;
    return this.stateFrom(origin, roomId, version, pdus, chain);
  }

  /** Checks a room state and its auth chain (a send_join or state answer): the state map and the events to hold as outliers, parents first. */
  private async stateFrom(
    origin: string,
    roomId: string,
    version: string,
    pdus: readonly unknown[],
    chain: readonly unknown[],
  ): Promise<{ map: Map<StateKey, string>; outliers: IncomingPdu[] }> {
    const checkedState = await checkPdus(this.remote, pdus, version, roomId);
    const checkedChain = await checkPdus(this.remote, chain, version, roomId);
    const map = new Map<StateKey, string>();
    for (const check of checkedState) {
      if (!check.ok) {
        this.log('warn', { origin, roomId, reason: check.reason, detail: check.detail }, 'a state event from another server failed its checks and was dropped');
        continue;
      }
      if (typeof check.event.state_key !== 'string') continue;
      map.set(stateKey(check.event.type, check.event.state_key), check.event.event_id);
    }
    const all = new Map<string, Checked>();
    for (const check of [...okOnly(checkedChain), ...okOnly(checkedState)]) all.set(check.event.event_id, check);
    return { map, outliers: parentsFirst([...all.values()]).map((c) => ({ ...c, outlier: true })) };
  }

  /** Whether the room's current server ACL (m.room.server_acl) lets `server` take part. */
  async aclAllows(roomId: string, server: string): Promise<boolean> {
    const acl = await this.writer.reader.stateEvent(roomId, SERVER_ACL_EVENT_TYPE, '');
    return acl === undefined || isServerAllowedByAcl(acl.content, server);
  }

  private async assertAclAllows(roomId: string, server: string): Promise<void> {
    if (!(await this.aclAllows(roomId, server))) throw forbidden(`${server} is denied by the room's server ACL`);
  }

  // ---------------------------------------------------------------- resident side: joins and leaves

  /** GET /_matrix/federation/v1/make_join/{roomId}/{userId}: a join event for `userId` to sign. */
  async makeJoin(origin: string, roomId: string, userId: string, versions: readonly string[]): Promise<{ event: Pdu; room_version: string }> {
    return this.makeMembership(origin, roomId, userId, 'join', versions);
  }

  /** GET /_matrix/federation/v1/make_knock/{roomId}/{userId} */
  async makeKnock(origin: string, roomId: string, userId: string, versions: readonly string[]): Promise<{ event: Pdu; room_version: string }> {
    return this.makeMembership(origin, roomId, userId, 'knock', versions);
  }

  /** GET /_matrix/federation/v1/make_leave/{roomId}/{userId} */
  async makeLeave(origin: string, roomId: string, userId: string): Promise<{ event: Pdu; room_version: string }> {
    return this.makeMembership(origin, roomId, userId, 'leave', undefined);
  }

  private async makeMembership(
    origin: string,
    roomId: string,
    userId: string,
    membership: 'join' | 'leave' | 'knock',
    versions: readonly string[] | undefined,
  ): Promise<{ event: Pdu; room_version: string }> {
    if (!isValidUserId(userId)) throw invalidParam(`${userId} is not a user id`);
    if (serverNameOf(userId) !== origin) throw forbidden(`${origin} may not ${membership} for ${userId}`);
    const snapshot = await this.writer.reader.snapshot(roomId);
    if (!snapshot) throw notFound(`room ${roomId} is not known to this server`);
    await assertServerAllowedInRoom(this.writer.reader, roomId, origin);
    const resident = [...snapshot.state.values()].some(
      (e) => e.type === 'm.room.member' && e.content.membership === 'join' && typeof e.state_key === 'string' && serverNameOf(e.state_key) === this.serverName,
    );
    // A server none of whose users is joined any more no longer takes part in the room: its
    // view of it may be stale, and a membership built on it would not reach the room.
    if (!resident) throw notFound(`this server has no joined member in room ${roomId}`);
    const rules = snapshot.rules;
    if (versions !== undefined && !versions.includes(rules.id)) {
      throw new RoomCommandError('M_INCOMPATIBLE_ROOM_VERSION', `the room has version ${rules.id}, which ${origin} does not support`, undefined, undefined, {
        room_version: rules.id,
      });
    }
    if (membership === 'knock' && !rules.knocking) {
      throw new RoomCommandError('M_INCOMPATIBLE_ROOM_VERSION', `room version ${rules.id} has no knocking`);
    }
    const state = new Map<StateKey, string>([...snapshot.state].map(([k, e]) => [k, e.event_id]));
    const content: JsonObject = { membership };
    if (membership === 'join') {
      const authoriser = await this.restrictedJoinAuthoriser(snapshot.state, rules, userId);
      if (authoriser) content.join_authorised_via_users_server = authoriser;
    }
    const template = eventTemplate({
      roomVersion: rules,
      roomId,
      sender: userId,
      type: 'm.room.member',
      stateKey: userId,
      content,
      prevEvents: snapshot.extremities,
      state,
      originServerTs: this.writer.now(),
      // Room versions 1 and 2 reference prev and auth events with their reference hashes.
      referenceHash: (id) => {
        const known = snapshot.extremities.find((x) => x.eventId === id)?.event ?? [...snapshot.state.values()].find((e) => e.event_id === id);
        return known ? referenceHashOf(toPdu(known), rules) : undefined;
      },
    });
    // Tell the server now when the event would not be allowed.
    const preview = toRoomEvent({ ...template, ...(rules.eventIdFormat === 'server-generated' ? { event_id: `$preview:${origin}` } : {}) }, rules, '$preview');
    const allowed = checkAuth(preview, (type, key) => snapshot.state.get(stateKey(type, key)), rules);
    if (!allowed.allowed) throw forbidden(allowed.reason ?? `the ${membership} is not allowed`, allowed.rule);
    const event: Pdu = { ...template, origin: this.serverName } as Pdu;
    delete (event as Partial<Pdu>).hashes;
    delete (event as Partial<Pdu>).signatures;
    return { event, room_version: rules.id };
  }

  /**
   * For a restricted room the user is not invited to: a local member with the power to invite
   * who vouches for the join, when the user is joined to one of the rooms the join rule allows.
   */
  private async restrictedJoinAuthoriser(state: ReadonlyMap<StateKey, RoomEvent>, rules: RoomVersionRules, userId: string): Promise<string | undefined> {
    const joinRules = state.get(stateKey('m.room.join_rules', ''))?.content;
    const rule = joinRules?.join_rule;
    const restricted = (rule === 'restricted' && rules.restrictedJoins) || (rule === 'knock_restricted' && rules.knockRestricted);
    if (!restricted) return undefined;
    const membership = state.get(stateKey('m.room.member', userId))?.content.membership;
    if (membership === 'invite' || membership === 'join') return undefined;
    const allow = Array.isArray(joinRules?.allow) ? joinRules.allow : [];
    let member = false;
    for (const entry of allow) {
      if (!isRecord(entry) || entry.type !== 'm.room_membership' || typeof entry.room_id !== 'string') continue;
      if ((await this.writer.reader.membership(entry.room_id, userId)) === 'join') member = true;
    }
    if (!member) throw new RoomCommandError('M_UNABLE_TO_AUTHORISE_JOIN', `${userId} is not joined to a room the join rule allows`);
    const power = state.get(stateKey('m.room.power_levels', ''))?.content;
    const users = isRecord(power?.users) ? power.users : {};
    const inviteLevel = typeof power?.invite === 'number' ? power.invite : 0;
    const level = (user: string) => (typeof users[user] === 'number' ? (users[user] as number) : typeof power?.users_default === 'number' ? power.users_default : 0);
    const candidates = [...state.values()]
      .filter((e) => e.type === 'm.room.member' && e.content.membership === 'join' && typeof e.state_key === 'string' && serverNameOf(e.state_key) === this.serverName)
      .map((e) => e.state_key as string)
      .filter((user) => level(user) >= inviteLevel)
      .sort((a, b) => level(b) - level(a) || (a < b ? -1 : 1));
    if (candidates.length === 0) throw new RoomCommandError('M_UNABLE_TO_AUTHORISE_JOIN', 'no local member may authorise the join');
    return candidates[0];
  }

  /**
   * PUT /_matrix/federation/v2/send_join/{roomId}/{eventId}: places the join and answers the
   * state before it and its auth chain (all members: `omit_members` is not honoured, which the
   * spec allows), and the event as we co-signed it for a restricted join.
   */
  async sendJoin(origin: string, roomId: string, eventId: string, raw: unknown): Promise<Record<string, unknown>> {
    const { pdu, event } = await this.checkMembershipPdu(origin, roomId, eventId, raw, 'join');
    let signed = pdu;
    const via = event.content.join_authorised_via_users_server;
    if (typeof via === 'string' && serverNameOf(via) === this.serverName) {
      signed = signEvent(pdu, (await this.rulesOf(roomId)).id, this.serverName, this.signingKey) as Pdu;
    }
    const result = (await this.ingestOwnEvent(roomId, { event, pdu: signed }))[0];
    if (result.outcome === 'rejected' || result.outcome === 'soft_failed') throw forbidden(`the join was not accepted: ${result.reason ?? result.outcome}`);
    const stored = await this.writer.reader.event(event.event_id);
    if (!stored?.stateGroup) throw forbidden('the join is not part of the room');
    const after = await this.writer.reader.stateGroupMap(stored.stateGroup);
    // The state before the join: the member entry as the join's auth events had it.
    const memberKey = stateKey('m.room.member', event.state_key ?? '');
    const authEvents = await this.writer.reader.events(stored.event.auth_events);
    const previous = authEvents.find((e) => e.type === 'm.room.member' && e.state_key === event.state_key);
    const before = new Map(after);
    if (previous) before.set(memberKey, previous.event_id);
    else before.delete(memberKey);
    const stateIds = [...before.values()];
    const chainIds = await this.writer.reader.authChain([...stateIds, event.event_id]);
    const [state, chain] = await Promise.all([this.wire(stateIds), this.wire(chainIds)]);
    return {
      origin: this.serverName,
      state,
      auth_chain: chain,
      event: stored.pdu,
      members_omitted: false,
      servers_in_room: await this.serversInRoom(roomId),
    };
  }

  /** PUT /_matrix/federation/v2/send_leave/{roomId}/{eventId} */
  async sendLeave(origin: string, roomId: string, eventId: string, raw: unknown): Promise<Record<string, never>> {
    const { pdu, event } = await this.checkMembershipPdu(origin, roomId, eventId, raw, 'leave');
    const result = (await this.ingestOwnEvent(roomId, { event, pdu }))[0];
    if (result.outcome === 'rejected' || result.outcome === 'soft_failed') throw forbidden(`the leave was not accepted: ${result.reason ?? result.outcome}`);
    return {};
  }

  /**
   * PUT /_matrix/federation/v1/send_knock/{roomId}/{eventId}: places the knock and answers the
   * stripped state the knocking user's client shows.
   */
  async sendKnock(origin: string, roomId: string, eventId: string, raw: unknown): Promise<{ knock_room_state: JsonObject[] }> {
    const { pdu, event } = await this.checkMembershipPdu(origin, roomId, eventId, raw, 'knock');
    const result = (await this.ingestOwnEvent(roomId, { event, pdu }))[0];
    if (result.outcome === 'rejected' || result.outcome === 'soft_failed') throw forbidden(`the knock was not accepted: ${result.reason ?? result.outcome}`);
    return { knock_room_state: await this.strippedState(roomId) };
  }

  /** The room's stripped state (the types clients show for invites and knocks). */
  private async strippedState(roomId: string): Promise<JsonObject[]> {
    const entries = (await this.writer.reader.currentStateEntries(roomId)).filter((e) => e.state_key === '' && (STRIPPED_STATE_TYPES as readonly string[]).includes(e.type));
    const events = await this.writer.reader.events(entries.map((e) => e.event_id));
    return events.map((e) => ({ type: e.type, state_key: e.state_key ?? '', sender: e.sender, content: e.content }));
  }

  /** A join or leave built on the template we gave: its prev events must be held. */
  private async ingestOwnEvent(roomId: string, item: Checked): Promise<IngestResult[]> {
    try {
      return await this.writer.ingest(roomId, [item]);
    } catch (error) {
      if (error instanceof MissingPrevEventsError) throw new RoomCommandError('M_BAD_JSON', error.message);
      throw error;
    }
  }

  private async checkMembershipPdu(origin: string, roomId: string, eventId: string, raw: unknown, membership: string): Promise<Checked> {
    const rules = await this.rulesOf(roomId);
    await assertServerAllowedInRoom(this.writer.reader, roomId, origin);
    const [check] = await checkPdus(this.remote, [raw], rules.id, roomId);
    if (!check.ok) throw new RoomCommandError('M_BAD_JSON', `the event failed its checks: ${check.reason}: ${check.detail}`);
    const event = check.event;
    if (event.event_id !== eventId) throw new RoomCommandError('M_BAD_JSON', `the event id is ${event.event_id}, not ${eventId}`);
    if (event.type !== 'm.room.member' || event.content.membership !== membership) throw new RoomCommandError('M_BAD_JSON', `the event is not a ${membership}`);
    if (event.state_key !== event.sender) throw new RoomCommandError('M_BAD_JSON', 'the state key must be the sender');
    if (serverNameOf(event.sender) !== origin) throw forbidden(`${origin} may not send a ${membership} for ${event.sender}`);
    if (check.redacted) throw new RoomCommandError('M_BAD_JSON', 'the content hash of the event does not match');
    return { event, pdu: check.pdu };
  }

  private async rulesOf(roomId: string): Promise<RoomVersionRules> {
    const room = await this.writer.reader.room(roomId);
    if (!room) throw notFound(`room ${roomId} is not known to this server`);
    return roomVersion(room.roomVersion);
  }

  /**
   * The events' wire forms, oldest (by depth) first: a server that reads a state and auth chain
   * in the order given (SyTest's does, keeping the last event of each state key) meets each
   * event after the ones it replaced.
   */
  private async wire(ids: readonly string[]): Promise<Pdu[]> {
    const events = await this.writer.reader.wireEvents(ids);
    return events.map((e) => e.pdu).sort((a, b) => a.depth - b.depth || (a.origin_server_ts ?? 0) - (b.origin_server_ts ?? 0));
  }

  // ---------------------------------------------------------------- backfill

  /**
   * Fetches history older than what the room holds from another server in the room
   * (GET /backfill from the room's earliest events) and places it below it: each event checked
   * against the state before it (its prev events', or the state fetched from that server where
   * they are not held), in the timeline, changing neither the current state nor the forward
   * extremities. Returns how many events were placed (0 when there is nothing older to get,
   * or no server gave it).
   */
  async backfill(roomId: string, limit: number): Promise<number> {
    const room = await this.writer.reader.room(roomId);
    if (!room) return 0;
    // Servers first (from the writer's cached state): a room of ours alone has nobody to ask,
    // and the backward extremities are a walk over the room's events.
    const servers: string[] = [];
    for (const server of await this.serversInRoom(roomId)) {
      if (server !== this.serverName && (await this.aclAllows(roomId, server))) servers.push(server);
    }
    if (servers.length === 0) return 0;
    const earliest = await this.writer.reader.backwardExtremities(roomId, 5);
    if (earliest.length === 0) return 0;
    const query = [...earliest.map((id) => `v=${ENCODE(id)}`), `limit=${Math.max(1, Math.min(limit, 100))}`].join('&');
    for (const server of servers.slice(0, 5)) {
      const answer = await this.remote.request(server, { method: 'GET', path: `/_matrix/federation/v1/backfill/${ENCODE(roomId)}?${query}` }).catch((error: unknown) => {
        this.log('info', { server, roomId, reason: (error as Error).message }, 'backfill failed');
        return undefined;
      });
      const pdus = answer && Array.isArray(answer.body.pdus) ? answer.body.pdus.slice(0, 100) : [];
      if (pdus.length === 0) continue;
      const checks = await checkPdus(this.remote, pdus, room.roomVersion, roomId);
      for (const check of checks) {
        if (!check.ok) this.log('info', { server, roomId, reason: check.reason, detail: check.detail }, 'a backfilled event failed its checks and was dropped');
      }
      const items = okOnly(checks).sort((a, b) => a.event.depth - b.event.depth);
      try {
        return await this.placeHistory(server, roomId, room.roomVersion, items);
      } catch (error) {
        this.log('info', { server, roomId, reason: (error as Error).message }, 'backfilled events could not be placed');
      }
    }
    return 0;
  }

  /** Places backfilled events (oldest first) in one ingest, fetching the state before those whose prev events are not held. */
  private async placeHistory(server: string, roomId: string, version: string, items: readonly Checked[]): Promise<number> {
    const inBatch = new Set<string>();
    const prevIds = [...new Set(items.flatMap((item) => item.event.prev_events))];
    const places = await this.writer.reader.eventPlaces(prevIds);
    const budget = { left: this.maxFetched };
    const placed: IncomingPdu[] = [];
    const leftOut = new Set<string>();
    for (const item of items) {
      // After an event left out, those built on it are left out too (without asking again).
      if (item.event.prev_events.some((id) => leftOut.has(id))) {
        leftOut.add(item.event.event_id);
        continue;
      }
      const held = item.event.prev_events.every((id) => inBatch.has(id) || (places.get(id)?.roomId === roomId && places.get(id)?.stateGroup !== undefined));
      if (held) {
        placed.push({ ...item, backfilled: true });
        inBatch.add(item.event.event_id);
        continue;
      }
      // The oldest events of the batch: the state at their missing prev events, as for a gap.
      try {
        const stateAfterPrevs = await this.stateAfterMissingPrevs(server, roomId, version, item.event, budget, inBatch);
        placed.push({ ...item, backfilled: true, stateAfterPrevs });
        inBatch.add(item.event.event_id);
      } catch (error) {
        leftOut.add(item.event.event_id);
        this.log('info', { server, roomId, eventId: item.event.event_id, reason: (error as Error).message }, 'the state before a backfilled event could not be had; the event was left out');
      }
    }
    const results = await this.writer.ingest(roomId, placed);
    return results.filter((result) => result.outcome === 'accepted').length;
  }

  /** The servers with a joined member in the room's current state (the writer's, read once for a large room), ours first. */
  async serversInRoom(roomId: string): Promise<string[]> {
    const state = await this.writer.state(roomId);
    const joined = new Set<string>();
    for (const userId of state?.members('join') ?? []) {
      const server = serverNameOf(userId);
      if (server) joined.add(server);
    }
    return [...joined].sort((a, b) => (a === this.serverName ? -1 : b === this.serverName ? 1 : a < b ? -1 : 1));
  }

  // ---------------------------------------------------------------- invites of our users

  /**
   * PUT /_matrix/federation/v2/invite/{roomId}/{eventId}: another server invites one of our
   * users. We sign the invite, record it (placed in the room when we hold it and its prev
   * events, else held with the stripped state it came with) and answer it signed.
   */
  async receiveInvite(origin: string, roomId: string, eventId: string, body: unknown): Promise<{ event: Pdu }> {
    if (!isRecord(body)) throw new RoomCommandError('M_BAD_JSON', 'the body must be a JSON object');
    const version = body.room_version;
    if (typeof version !== 'string') throw new RoomCommandError('M_BAD_JSON', 'room_version is missing');
    if (!isKnownRoomVersion(version)) throw new RoomCommandError('M_INCOMPATIBLE_ROOM_VERSION', `room version ${version} is not supported here`);
    await assertServerAllowedInRoom(this.writer.reader, roomId, origin);
    const [check] = await checkPdus(this.remote, [body.event], version, roomId);
    if (!check.ok) throw new RoomCommandError('M_BAD_JSON', `the invite failed its checks: ${check.reason}: ${check.detail}`);
    const event = check.event;
    if (event.event_id !== eventId) throw new RoomCommandError('M_BAD_JSON', `the event id is ${event.event_id}, not ${eventId}`);
    if (event.type !== 'm.room.member' || event.content.membership !== 'invite' || typeof event.state_key !== 'string') {
      throw new RoomCommandError('M_BAD_JSON', 'the event is not an invite');
    }
    if (serverNameOf(event.sender) !== origin) throw forbidden(`${origin} may not invite on behalf of ${event.sender}`);
    if (serverNameOf(event.state_key) !== this.serverName) throw forbidden(`${event.state_key} is not a user of this server`);
    if ((await this.writer.reader.room(roomId)) && !(await this.aclAllows(roomId, origin))) throw forbidden(`${origin} is denied by the room's server ACL`);
    const signed = signEvent(check.pdu, version, this.serverName, this.signingKey) as Pdu;
    const stripped = Array.isArray(body.invite_room_state) ? body.invite_room_state.filter(isRecord).slice(0, 50) : [];
    await this.writer.recordRemoteInvite(roomId, version, { event, pdu: signed }, stripped as JsonObject[]);
    return { event: signed };
  }

  /**
   * PUT /_matrix/federation/v1/invite/{roomId}/{eventId}: the deprecated form, whose body is the
   * invite event itself (its stripped state in `unsigned.invite_room_state`). The spec has the
   * receiver assume room version 1 or 2: the held room's when it is one of them, else 1 (both
   * have the same event format).
   */
  async receiveInviteV1(origin: string, roomId: string, eventId: string, body: unknown): Promise<{ event: Pdu }> {
    if (!isRecord(body)) throw new RoomCommandError('M_BAD_JSON', 'the body must be an invite event');
    const held = (await this.writer.reader.room(roomId))?.roomVersion;
    const unsigned = isRecord(body.unsigned) ? body.unsigned : {};
    return this.receiveInvite(origin, roomId, eventId, {
      event: body,
      room_version: held === '2' ? '2' : '1',
      invite_room_state: Array.isArray(unsigned.invite_room_state) ? unsigned.invite_room_state : [],
    });
  }

  // ---------------------------------------------------------------- our users in rooms of other servers

  /**
   * Joins a local user to a room this server does not hold (or holds without a joined member):
   * make_join and send_join through the first of `servers` that answers, the returned state
   * and auth chain checked, then held, and the join placed on it.
   */
  async joinRemote(userId: string, roomId: string, servers: readonly string[], content: JsonObject, options: { guest?: boolean } = {}): Promise<{ roomId: string; eventId: string }> {
    const candidates = [...new Set(servers)].filter((s) => s !== this.serverName && isValidServerName(s));
    if (candidates.length === 0) throw notFound(`room ${roomId} is not known to this server and no server to join it through was given`);
    let lastError: unknown;
    for (const server of candidates) {
      try {
        return await this.joinThrough(server, userId, roomId, content, options.guest === true);
      } catch (error) {
        lastError = error;
        this.log('info', { server, roomId, reason: (error as Error).message }, 'joining through a server failed');
        if (error instanceof RoomCommandError && error.errcode === 'M_FORBIDDEN') throw error;
      }
    }
    if (lastError instanceof RoomCommandError || lastError instanceof RemoteRefusalError) throw lastError;
    throw notFound(`no server could join ${roomId}: ${(lastError as Error | undefined)?.message ?? 'no answer'}`);
  }

  private async joinThrough(server: string, userId: string, roomId: string, content: JsonObject, guest: boolean): Promise<{ roomId: string; eventId: string }> {
    const started = Date.now();
    const versions = [...ROOM_VERSIONS.keys()].map((v) => `ver=${ENCODE(v)}`).join('&');
    const made = await this.remote
      .request(server, { method: 'GET', path: `/_matrix/federation/v1/make_join/${ENCODE(roomId)}/${ENCODE(userId)}?${versions}` })
      .catch((error: unknown) => {
        throw remoteRefusal(error);
      });
    const version = typeof made.body.room_version === 'string' ? made.body.room_version : '1';
    if (!isKnownRoomVersion(version)) throw new RoomCommandError('M_UNSUPPORTED_ROOM_VERSION', `room version ${version} is not supported here`);
    const template = made.body.event;
    if (!isRecord(template) || template.room_id !== roomId || template.sender !== userId || template.state_key !== userId || template.type !== 'm.room.member') {
      throw new RemoteAnswerError(server, 'the make_join answer is not a join of this user to this room');
    }
    const templateContent = isRecord(template.content) ? template.content : {};
    const joinTemplate = {
      ...template,
      content: { ...content, ...(typeof templateContent.join_authorised_via_users_server === 'string' ? { join_authorised_via_users_server: templateContent.join_authorised_via_users_server } : {}), membership: 'join' },
      origin: this.serverName,
      origin_server_ts: this.writer.now(),
    } as unknown as Pdu;
    const built = signNewEvent(joinTemplate, version, this.serverName, this.signingKey);
    const sendJoin = (v: 'v1' | 'v2') =>
      this.remote.request(server, {
        method: 'PUT',
        path: `/_matrix/federation/${v}/send_join/${ENCODE(roomId)}/${ENCODE(built.event.event_id)}`,
        body: built.pdu,
        maxResponseBytes: 512 * 1024 * 1024,
        timeoutMs: this.largeRequestTimeoutMs,
        v1Pair: v === 'v1',
      });
    // A server that does not know v2 (404/405, or 400 M_UNRECOGNIZED) is asked with the deprecated v1 form.
    const sent = await sendJoin('v2')
      .catch((error: unknown) => {
        if (!isUnknownEndpoint(error)) throw error;
        this.log('info', { server, roomId }, 'v2 send_join is not known to the server; trying v1');
        return sendJoin('v1');
      })
      .catch((error: unknown) => {
        throw remoteRefusal(error);
      });
    const state = Array.isArray(sent.body.state) ? sent.body.state : undefined;
    const chain = Array.isArray(sent.body.auth_chain) ? sent.body.auth_chain : undefined;
    if (!state || !chain) throw new RemoteAnswerError(server, 'the send_join answer has no state or auth_chain');
    let joinPdu = built.pdu;
    if (isRecord(sent.body.event)) {
      // A restricted join comes back co-signed by the resident server: keep its signatures if they check.
      const [countersigned] = await checkPdus(this.remote, [sent.body.event], version, roomId);
      if (countersigned.ok && countersigned.event.event_id === built.event.event_id) joinPdu = countersigned.pdu;
    }
    const answered = Date.now();
    const { map, outliers } = await this.stateFrom(server, roomId, version, state, chain);
    const createId = map.get(stateKey('m.room.create', ''));
    const create = outliers.find((o) => o.event.event_id === createId)?.event;
    if (!create) throw new RemoteAnswerError(server, 'the send_join state has no m.room.create event');
    // The create event says the room's version (1 when it does not): it must be the one make_join gave.
    const createVersion = create.content.room_version ?? '1';
    if (createVersion !== version) {
      throw new RemoteAnswerError(server, `the m.room.create event has room version ${JSON.stringify(createVersion).slice(0, 100)}, not ${version}`);
    }
    if (guest) {
      // Whether the room lets guests in is known only now: a guest's join it refuses is taken back.
      const guestAccessId = map.get(stateKey('m.room.guest_access', ''));
      const guestAccess = outliers.find((o) => o.event.event_id === guestAccessId)?.event.content.guest_access;
      if (guestAccess !== 'can_join') {
        void this.leaveRemote(userId, roomId, [server]).catch((error: unknown) => {
          this.log('info', { server, roomId, reason: (error as Error).message }, 'a refused guest join could not be taken back');
        });
        throw forbidden('Guest access is not allowed in this room');
      }
    }
    const checked = Date.now();
    const results = await this.writer.ingest(roomId, [...outliers, { event: built.event, pdu: joinPdu, stateBefore: map }], { roomVersion: version });
    const mine = results[results.length - 1];
    if (mine.outcome !== 'accepted' && mine.outcome !== 'known') throw forbidden(`the join was not accepted here: ${mine.reason ?? mine.outcome}`);
    const stored = Date.now();
    this.log(
      'info',
      { server, roomId, state: state.length, authChain: chain.length, held: outliers.length, answerMs: answered - started, checkMs: checked - answered, storeMs: stored - checked },
      'joined a room through another server',
    );
    return { roomId, eventId: built.event.event_id };
  }

  /**
   * Leaves (or declines an invite to) a room this server does not take part in: make_leave and
   * send_leave through `servers`, then the leave is held.
   */
  async leaveRemote(userId: string, roomId: string, servers: readonly string[]): Promise<{ eventId: string }> {
    let lastError: unknown;
    for (const server of [...new Set(servers)].filter((s) => s !== this.serverName)) {
      try {
        const made = await this.remote.request(server, { method: 'GET', path: `/_matrix/federation/v1/make_leave/${ENCODE(roomId)}/${ENCODE(userId)}` });
        const version = typeof made.body.room_version === 'string' ? made.body.room_version : '1';
        if (!isKnownRoomVersion(version)) throw new RoomCommandError('M_UNSUPPORTED_ROOM_VERSION', `room version ${version} is not supported here`);
        const template = made.body.event;
        if (!isRecord(template) || template.room_id !== roomId || template.sender !== userId || template.state_key !== userId) {
          throw new RemoteAnswerError(server, 'the make_leave answer is not a leave of this user');
        }
        const leave = { ...template, content: { membership: 'leave' }, origin: this.serverName, origin_server_ts: this.writer.now() } as unknown as Pdu;
        const built = signNewEvent(leave, version, this.serverName, this.signingKey);
        await this.remote.request(server, {
          method: 'PUT',
          path: `/_matrix/federation/v2/send_leave/${ENCODE(roomId)}/${ENCODE(built.event.event_id)}`,
          body: built.pdu,
        });
        await this.writer.recordRemoteMembership(roomId, version, built);
        return { eventId: built.event.event_id };
      } catch (error) {
        lastError = error;
        this.log('info', { server, roomId, reason: (error as Error).message }, 'leaving through a server failed');
      }
    }
    const declined = await this.declineLocally(userId, roomId);
    if (declined) return declined;
    throw lastError instanceof RoomCommandError ? lastError : notFound(`no server could take the leave: ${(lastError as Error | undefined)?.message ?? 'none to ask'}`);
  }

  /**
   * Knocks on a room this server does not hold: make_knock and send_knock through `servers`;
   * the knock is then held with the stripped state the server answered.
   */
  async knockRemote(userId: string, roomId: string, servers: readonly string[], content: JsonObject): Promise<{ eventId: string }> {
    const versions = [...ROOM_VERSIONS.keys()].map((v) => `ver=${ENCODE(v)}`).join('&');
    let lastError: unknown;
    for (const server of [...new Set(servers)].filter((s) => s !== this.serverName && isValidServerName(s))) {
      try {
        const made = await this.remote
          .request(server, { method: 'GET', path: `/_matrix/federation/v1/make_knock/${ENCODE(roomId)}/${ENCODE(userId)}?${versions}` })
          .catch((error: unknown) => {
            throw remoteRefusal(error);
          });
        const version = typeof made.body.room_version === 'string' ? made.body.room_version : '';
        if (!isKnownRoomVersion(version)) throw new RoomCommandError('M_UNSUPPORTED_ROOM_VERSION', `room version ${version} is not supported here`);
        const template = made.body.event;
        if (!isRecord(template) || template.room_id !== roomId || template.sender !== userId || template.state_key !== userId) {
          throw new RemoteAnswerError(server, 'the make_knock answer is not a knock of this user');
        }
        const knock = { ...template, content: { ...content, membership: 'knock' }, origin: this.serverName, origin_server_ts: this.writer.now() } as unknown as Pdu;
        const built = signNewEvent(knock, version, this.serverName, this.signingKey);
        const sent = await this.remote
          .request(server, { method: 'PUT', path: `/_matrix/federation/v1/send_knock/${ENCODE(roomId)}/${ENCODE(built.event.event_id)}`, body: built.pdu })
          .catch((error: unknown) => {
            throw remoteRefusal(error);
          });
        const stripped = Array.isArray(sent.body.knock_room_state) ? sent.body.knock_room_state.filter(isRecord).slice(0, 50) : [];
        await this.writer.recordRemoteMembership(roomId, version, built, { knock_room_state: stripped as JsonObject[] });
        return { eventId: built.event.event_id };
      } catch (error) {
        lastError = error;
        if (error instanceof RoomCommandError && error.errcode === 'M_FORBIDDEN') throw error;
      }
    }
    throw lastError instanceof RoomCommandError ? lastError : notFound(`no server could take the knock: ${(lastError as Error | undefined)?.message ?? 'none to ask'}`);

  }

  /**
   * When no server of the room takes the decline of an invite (refused, failing or
   * unreachable), the invite is declined here only: a leave of ours on top of the invite, held
   * and never sent, so that the user is rid of it (as Synapse does). Undefined when the user's
   * membership is not an invite.
   */
  private async declineLocally(userId: string, roomId: string): Promise<{ eventId: string } | undefined> {
    const entry = await this.writer.reader.currentStateEntry(roomId, 'm.room.member', userId);
    const [invite] = entry ? await this.writer.reader.events([entry.event_id]) : [];
    if (!invite || invite.content.membership !== 'invite') return undefined;
    const version = invite.room_version;
    const rules = roomVersion(version);
    const reference = rules.eventIdFormat === 'server-generated' ? [invite.event_id, referenceHashOf(toPdu(invite), rules)] : invite.event_id;
    const leave = {
      room_id: roomId,
      sender: userId,
      type: 'm.room.member',
      state_key: userId,
      content: { membership: 'leave' },
      origin: this.serverName,
      origin_server_ts: this.writer.now(),
      depth: invite.depth + 1,
      prev_events: [reference],
      auth_events: [reference],
    } as unknown as Pdu;
    const built = signNewEvent(leave, rules, this.serverName, this.signingKey);
    await this.writer.recordRemoteMembership(roomId, version, built);
    this.log('info', { roomId, userId }, 'an invite was declined on this server only, no server of the room taking the decline');
    return { eventId: built.event.event_id };
  }

  /**
   * Sends an invite of a remote user to the user's server (PUT /v2/invite) and answers the
   * event as that server signed it, which is then appended.
   */
  async inviteRemote(pdu: Pdu, event: RoomEvent, version: string, strippedState: readonly JsonObject[]): Promise<Pdu> {
    const server = serverNameOf(event.state_key ?? '');
    if (!server) throw invalidParam('the invited user has no server name');
    const path = (v: 'v1' | 'v2') => `/_matrix/federation/${v}/invite/${ENCODE(event.room_id)}/${ENCODE(event.event_id)}`;
    const answer = await this.remote
      .request(server, { method: 'PUT', path: path('v2'), body: { event: pdu, room_version: version, invite_room_state: strippedState } })
      .catch((error: unknown) => {
        // The deprecated v1 form (room versions 1 and 2 only: it does not say the version) carries
        // the event itself, its stripped state in `unsigned`, and is answered `[200, {event}]`.
        if (!isUnknownEndpoint(error)) throw error;
        if (version !== '1' && version !== '2') throw new RoomCommandError('M_UNSUPPORTED_ROOM_VERSION', `${server} does not support room version ${version}`);
        this.log('info', { server, roomId: event.room_id }, 'v2 invite is not known to the server; trying v1');
        const unsigned = isRecord(pdu.unsigned) ? pdu.unsigned : {};
        return this.remote.request(server, { method: 'PUT', path: path('v1'), body: { ...pdu, unsigned: { ...unsigned, invite_room_state: strippedState } }, v1Pair: true });
      })
      .catch((error: unknown) => {
        throw remoteRefusal(error);
      });
    const [check] = await checkPdus(this.remote, [answer.body.event], version, event.room_id);
    if (!check.ok || check.event.event_id !== event.event_id || check.redacted) {
      throw forbidden(`${server} did not answer the invite with the event signed`);
    }
    const signatures = (check.pdu.signatures ?? {}) as Record<string, Record<string, string>>;
    if (!signatures[server]) throw forbidden(`${server} did not sign the invite`);
    return { ...pdu, signatures: { ...(pdu.signatures ?? {}), [server]: signatures[server] } } as Pdu;
  }

  /**
   * The countersign step of a write (WriteOptions.countersign) for invites: an invite of a
   * user of another server is sent to that server first and appended as it signed it; every
   * other event goes on as built.
   */
  countersignInvites(roomVersionOf: () => Promise<string>): (event: RoomEvent, pdu: Pdu, unsigned: JsonObject | undefined) => Promise<Pdu> {
    return async (event, pdu, unsigned) => {
      const target = event.state_key;
      const remoteInvite =
        event.type === 'm.room.member' && event.content.membership === 'invite' && typeof target === 'string' && serverNameOf(target) !== this.serverName;
      if (!remoteInvite) return pdu;
      const stripped = Array.isArray(unsigned?.invite_room_state) ? (unsigned.invite_room_state as JsonObject[]) : [];
      return this.inviteRemote(pdu, event, await roomVersionOf(), stripped);
    };
  }

  /** Resolves a room alias of another server through its directory (query/directory). */
  async resolveRemoteAlias(alias: string): Promise<{ roomId: string; servers: string[] }> {
    if (!isValidRoomAlias(alias)) throw invalidParam(`${alias} is not a room alias`);
    const server = serverNameOf(alias);
    if (!server) throw invalidParam(`${alias} has no server name`);
    const answer = await this.remote
      .request(server, { method: 'GET', path: `/_matrix/federation/v1/query/directory?room_alias=${ENCODE(alias)}` })
      .catch((error: unknown) => {
        const refusal = remoteRefusal(error, `room alias ${alias} could not be resolved`);
        // An unreachable or failing directory server leaves the alias unresolved (never a 500).
        throw refusal instanceof RoomCommandError ? refusal : notFound(`room alias ${alias} could not be resolved: ${refusal.message}`);
      });
    const roomId = answer.body.room_id;
    if (typeof roomId !== 'string' || !isValidRoomId(roomId)) throw notFound(`room alias ${alias} is not known`);
    const servers = Array.isArray(answer.body.servers) ? answer.body.servers.filter((s): s is string => typeof s === 'string' && isValidServerName(s)) : [];
    return { roomId, servers: [server, ...servers.filter((s) => s !== server)] };
  }

  /**
   * Another server's published room directory (`/_matrix/federation/v1/publicRooms`: GET, or
   * POST when the request filters). The answer is untrusted: rooms that do not hold are left
   * out, strings are kept only when they are strings, at most the asked number of rooms (or
   * {@link MAX_REMOTE_PUBLIC_ROOMS}) are kept.
   */
  async remotePublicRooms(server: string, request: PublicRoomsRequest): Promise<PublicRoomsPage> {
    if (!isValidServerName(server)) throw invalidParam(`${server} is not a server name`);
    const filtered = request.genericSearchTerm !== undefined || request.roomTypes !== undefined || request.thirdPartyInstanceId !== undefined;
    const remoteRequest: RemoteRequest = filtered
      ? {
          method: 'POST',
          path: '/_matrix/federation/v1/publicRooms',
          body: {
            ...(request.limit !== undefined ? { limit: request.limit } : {}),
            ...(request.since !== undefined ? { since: request.since } : {}),
            filter: {
              ...(request.genericSearchTerm !== undefined ? { generic_search_term: request.genericSearchTerm } : {}),
              ...(request.roomTypes !== undefined ? { room_types: request.roomTypes } : {}),
            },
            ...(request.thirdPartyInstanceId !== undefined ? { third_party_instance_id: request.thirdPartyInstanceId } : {}),
          },
        }
      : {
          method: 'GET',
          path: `/_matrix/federation/v1/publicRooms${queryString({ limit: request.limit?.toString(), since: request.since })}`,
        };
    // Refusals pass on as for joins; an unreachable server or unusable answer is a bad gateway.
    const answer = await this.remote.request(server, { ...remoteRequest, maxResponseBytes: MAX_REMOTE_PUBLIC_ROOMS_BYTES }).catch((error: unknown) => {
      throw remoteRefusal(error);
    });
    return remotePublicRoomsPage(answer.body, Math.min(request.limit ?? MAX_REMOTE_PUBLIC_ROOMS, MAX_REMOTE_PUBLIC_ROOMS));
  }
}

const REMOTE_ERRCODE = /^[A-Za-z0-9_.]{1,128}$/;

/**
 * An error answer of another server as the refusal to give our client: 404 and 403 pass
 * through; a 400 with an errcode is passed on as it came (make_join, send_join and invite ask
 * for it: "the error should be passed through to clients"), M_INCOMPATIBLE_ROOM_VERSION with its
 * `room_version`, except M_MISSING_PARAM and M_INVALID_PARAM, which say our request was wrong,
 * not the client's (502, as the spec asks for a 5xx).
 */
function remoteRefusal(error: unknown, fallback?: string): Error {
  const status = (error as { status?: unknown }).status;
  const message = error instanceof Error ? error.message : String(error);
  if (status === 403) return forbidden(message);
  if (status === 404) return notFound(fallback ?? message);
  const answer = (error as { answer?: unknown }).answer;
  if (status === 400 && isRecord(answer) && typeof answer.errcode === 'string' && REMOTE_ERRCODE.test(answer.errcode)) {
    const reason = typeof answer.error === 'string' ? answer.error.slice(0, 1000) : message;
    if (answer.errcode === 'M_INCOMPATIBLE_ROOM_VERSION') {
      const version = typeof answer.room_version === 'string' && answer.room_version.length <= 128 ? { room_version: answer.room_version } : undefined;
      return new RoomCommandError('M_INCOMPATIBLE_ROOM_VERSION', reason, undefined, undefined, version);
    }
    if (answer.errcode === 'M_MISSING_PARAM' || answer.errcode === 'M_INVALID_PARAM') return new RoomCommandError('M_UNKNOWN', message, undefined, 502);
    return new RemoteRefusalError(answer.errcode, reason, 400);
  }
  if (status === 400 && /M_INCOMPATIBLE_ROOM_VERSION/.test(message)) return new RoomCommandError('M_INCOMPATIBLE_ROOM_VERSION', message);
  if (fallback !== undefined) return notFound(`${fallback}: ${message}`);
  if (error instanceof RoomCommandError) return error;
  // The other server could not be reached or answered something unusable: a bad gateway.
  return new RoomCommandError('M_UNKNOWN', message, undefined, 502);
}

/** The event id of a PDU that may be malformed: as given (room versions 1-2) or its reference hash; undefined when it has none. */
function eventIdOf(raw: unknown, version: string): string | undefined {
  if (!isRecord(raw)) return undefined;
  if (typeof raw.event_id === 'string') return raw.event_id;
  try {
    return computeEventId(raw, version);
  } catch {
    return undefined;
  }
}

function okOnly(checks: readonly PduCheckResult[]): Checked[] {
  return checks.flatMap((c) => (c.ok ? [{ event: c.event, pdu: c.pdu }] : []));
}

/**
 * Events ordered so each comes after the events of the set it names as auth or prev events
 * (depth breaks ties). A walk with its own stack, so a long chain (a large room's state and
 * auth chain, whose depths need not be true) cannot exhaust the call stack.
 */
export function parentsFirst<T extends { event: RoomEvent }>(items: readonly T[]): T[] {
  const byId = new Map(items.map((item) => [item.event.event_id, item]));
  const done = new Set<string>();
  const onPath = new Set<string>();
  const out: T[] = [];
  const sorted = [...items].sort((a, b) => a.event.depth - b.event.depth || (a.event.event_id < b.event.event_id ? -1 : 1));
  const frame = (item: T) => ({ item, parents: [...item.event.auth_events, ...item.event.prev_events], next: 0 });
  for (const root of sorted) {
    if (done.has(root.event.event_id)) continue;
    const stack = [frame(root)];
    onPath.add(root.event.event_id);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next < top.parents.length) {
        const parent = byId.get(top.parents[top.next++]);
        if (parent && !done.has(parent.event.event_id) && !onPath.has(parent.event.event_id)) {
          onPath.add(parent.event.event_id);
          stack.push(frame(parent));
        }
        continue;
      }
      stack.pop();
      onPath.delete(top.item.event.event_id);
      done.add(top.item.event.event_id);
      out.push(top.item);
    }
  }
  return out;
}

/** Rooms kept of another server's directory page, and the largest answer read. */
export const MAX_REMOTE_PUBLIC_ROOMS = 500;
const MAX_REMOTE_PUBLIC_ROOMS_BYTES = 4 * 1024 * 1024;

function queryString(params: Record<string, string | undefined>): string {
  const parts = Object.entries(params).flatMap(([key, value]) => (value === undefined ? [] : [`${key}=${ENCODE(value)}`]));
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

/** Another server's page of its directory, keeping only what holds. */
function remotePublicRoomsPage(body: Record<string, unknown>, limit: number): PublicRoomsPage {
  const chunk: PublicRoomsChunk[] = [];
  for (const room of Array.isArray(body.chunk) ? body.chunk : []) {
    if (chunk.length >= limit) break;
    const entry = remoteRoomsChunk(room);
    if (entry) chunk.push(entry);
  }
  const page: PublicRoomsPage = { chunk, total_room_count_estimate: chunk.length };
  const estimate = body.total_room_count_estimate;
  if (typeof estimate === 'number' && Number.isSafeInteger(estimate) && estimate >= 0) page.total_room_count_estimate = estimate;
  if (typeof body.next_batch === 'string' && body.next_batch !== '') page.next_batch = body.next_batch;
  if (typeof body.prev_batch === 'string' && body.prev_batch !== '') page.prev_batch = body.prev_batch;
  return page;
}
