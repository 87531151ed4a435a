/**
 * POST /_matrix/client/v3/search (client-server API, "Server Side Search"), room events only:
 * the search projection finds the candidates (full-text match in the rooms the searcher is or
 * was in, ranked or newest first); the sync projection says which of them the searcher may
 * see (history visibility at each event), serves them (redacted events are left out) and
 * their context and state. Both are read in one snapshot.
 */
import type { CommonQueryMethods } from 'slonik';
import { encodePaginationToken } from '@hs/contracts';
import {
  countSearchCandidates,
  SEARCHABLE_KEYS,
  searchCandidates,
  searchHighlights,
  searchQueryText,
  searchableText,
  type SearchCandidate,
  type SearchCursor,
  type SearchOrder,
} from '@hs/projections/search';
import {
  containsUrl,
  eventMatches,
  fromIgnored,
  roomMatches,
  SyncQueryError,
  type ClientEvent,
  type EventRow,
  type RoomEventFilter,
  type RoomVisibility,
  type SyncQueries,
  type Viewer,
} from '@hs/projections/sync';

export interface RoomEventsCriteria {
  search_term: string;
  keys?: readonly string[];
  filter?: RoomEventFilter;
  order_by?: SearchOrder;
  event_context?: { before_limit?: number; after_limit?: number; include_profile?: boolean };
  include_state?: boolean;
  groupings?: { group_by?: readonly { key?: string }[] };
}

export interface SearchResult {
  rank: number;
  result: ClientEvent;
  context?: {
    events_before: ClientEvent[];
    events_after: ClientEvent[];
    start?: string;
    end?: string;
    profile_info?: Record<string, { displayname?: string; avatar_url?: string }>;
  };
}

export interface RoomEventsResults {
  count: number;
  highlights: string[];
  results: SearchResult[];
  state?: Record<string, ClientEvent[]>;
  groups?: Record<string, Record<string, { results: string[]; order: number; next_batch?: string }>>;
  next_batch?: string;
}

export interface SearchResponse {
  search_categories: { room_events?: RoomEventsResults };
}

/** Results per page when the filter gives no limit, and the most a page gives. */
export const DEFAULT_SEARCH_LIMIT = 10;
export const MAX_SEARCH_LIMIT = 100;
const DEFAULT_CONTEXT = 5;
const MAX_CONTEXT = 100;
/** Candidates read per scan step (some may be invisible to the searcher). */
const CANDIDATE_PAGE = 50;

/** The token of the next page: the order and where the scan of candidates stopped. */
export function encodeSearchToken(order: SearchOrder, cursor: SearchCursor): string {
  return Buffer.from(JSON.stringify({ o: order, r: cursor.rank, p: cursor.position.toString() })).toString('base64url');
}

export function parseSearchToken(token: string, order: SearchOrder): SearchCursor {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown; r?: unknown; p?: unknown };
    if (parsed.o === order && typeof parsed.r === 'number' && Number.isFinite(parsed.r) && typeof parsed.p === 'string' && /^-?[0-9]{1,19}$/.test(parsed.p)) {
      return { rank: parsed.r, position: BigInt(parsed.p) };
    }
  } catch {
    // Not a token of ours: answered below.
  }
  throw new SyncQueryError('M_INVALID_PARAM', 'next_batch is not a token of this search');
}

function limitOf(value: number | undefined, fallback: number, max: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) throw new SyncQueryError('M_INVALID_PARAM', `${name} must be a non-negative integer`);
  return Math.min(value, max);
}

export class RoomEventSearch {
  constructor(private readonly queries: SyncQueries) {}

  async search(viewer: Viewer, criteria: RoomEventsCriteria, nextBatch?: string): Promise<RoomEventsResults> {
    const order: SearchOrder = criteria.order_by ?? 'rank';
    const keys = criteria.keys ?? Object.values(SEARCHABLE_KEYS);
    const unknown = keys.find((k) => !Object.values(SEARCHABLE_KEYS).includes(k));
    if (unknown !== undefined) throw new SyncQueryError('M_INVALID_PARAM', `keys: ${JSON.stringify(unknown)} is not searchable (content.body, content.name, content.topic)`);
    const filter = criteria.filter;
    const limit = limitOf(filter?.limit, DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT, 'filter.limit');
    const before = limitOf(criteria.event_context?.before_limit, DEFAULT_CONTEXT, MAX_CONTEXT, 'before_limit');
    const after = limitOf(criteria.event_context?.after_limit, DEFAULT_CONTEXT, MAX_CONTEXT, 'after_limit');
    let cursor = nextBatch === undefined ? undefined : parseSearchToken(nextBatch, order);
    const query = searchQueryText(criteria.search_term);
    const empty: RoomEventsResults = { count: 0, highlights: [], results: [] };
    if (query === undefined) return empty;

    return this.queries.snapshot(async (conn) => {
      // The rooms the searcher is or was in (not forgotten); history visibility decides per event.
      const memberships = (await this.queries.membershipsOf(conn, viewer.userId)).filter(
        (m) => !m.forgotten && m.membership !== 'invite' && m.membership !== 'knock' && roomMatches(m.room_id, filter),
      );
      const rooms = memberships.map((m) => m.room_id);
      if (rooms.length === 0) return empty;
      const visibilities = await this.queries.visibilities(conn, rooms, viewer.userId);
      const request = { query, rooms, keys, senders: filter?.senders, notSenders: filter?.not_senders };
      let count: number | undefined;
      const found: { candidate: SearchCandidate; row: EventRow }[] = [];
      let exhausted = false;
      while (found.length < limit) {
        const { candidates: page, total } = await searchCandidates(conn, { ...request, order, after: cursor, limit: CANDIDATE_PAGE });
        // Counted with the first page; past the last match, counted alone.
        count ??= page.length > 0 || cursor === undefined ? total : await countSearchCandidates(conn, request);
        const rows = new Map((await this.queries.eventRows(conn, page.map((c) => c.event_id))).map((r) => [r.event_id, r]));
        for (const candidate of page) {
          cursor = { rank: candidate.rank, position: candidate.position };
          const row = rows.get(candidate.event_id);
          const visibility = visibilities.get(candidate.room_id);
          if (!row || !visibility || !this.shows(row, visibility, viewer, filter)) continue;
          found.push({ candidate, row });
          if (found.length === limit) break;
        }
        if (page.length < CANDIDATE_PAGE && found.length < limit) {
          exhausted = true;
          break;
        }
      }
      const results: SearchResult[] = [];
      for (const { candidate, row } of found) {
        const result: SearchResult = { rank: candidate.rank, result: this.queries.format(row, viewer) };
        if (criteria.event_context) {
          result.context = await this.context(conn, row, visibilities.get(row.room_id) as RoomVisibility, viewer, filter, before, after, criteria.event_context.include_profile === true);
        }
        results.push(result);
      }
      const texts = found.map(({ row }) => searchableText(row.type, row.event.content)?.text).filter((t): t is string => t !== undefined);
      const response: RoomEventsResults = { count: count ?? 0, highlights: await searchHighlights(conn, query, texts), results };
      if (!exhausted && cursor !== undefined && found.length > 0) response.next_batch = encodeSearchToken(order, cursor);
      if (criteria.include_state) response.state = await this.state(conn, found.map((f) => f.row.room_id), memberships, viewer);
      const groups = this.groups(criteria, found.map((f) => f.row), response.next_batch);
      if (groups) response.groups = groups;
      return response;
    });
  }

  /** Whether the searcher sees the event: in the timeline, not redacted, visible at its position, not ignored, passing the filter. */
  private shows(row: EventRow, visibility: RoomVisibility, viewer: Viewer, filter: RoomEventFilter | undefined): boolean {
    return (
      row.in_timeline &&
      row.redacted_because === null &&
      visibility.canSee(row) &&
      !fromIgnored(row, viewer.ignored) &&
      eventMatches(row, filter) &&
      (filter?.contains_url === undefined || filter.contains_url === containsUrl(row.event.content))
    );
  }

  private async context(
    conn: CommonQueryMethods,
    row: EventRow,
    visibility: RoomVisibility,
    viewer: Viewer,
    filter: RoomEventFilter | undefined,
    beforeLimit: number,
    afterLimit: number,
    includeProfile: boolean,
  ): Promise<NonNullable<SearchResult['context']>> {
    const timelineFilter = filter ? { ...filter, rooms: undefined, not_rooms: undefined, limit: undefined } : undefined;
    const options = { filter: timelineFilter, ignored: viewer.ignored };
    const before = await this.queries.visibleTimeline(conn, row.room_id, visibility, { ...options, from: row.position - 1n, dir: 'b', limit: beforeLimit });
    const after = await this.queries.visibleTimeline(conn, row.room_id, visibility, { ...options, from: row.position, dir: 'f', limit: afterLimit });
    const first = before.rows[before.rows.length - 1]?.position ?? row.position;
    const last = after.rows[after.rows.length - 1]?.position ?? row.position;
    const context: NonNullable<SearchResult['context']> = {
      events_before: this.queries.formatAll(before.rows, viewer),
      events_after: this.queries.formatAll(after.rows, viewer),
      start: encodePaginationToken(first - 1n),
      end: encodePaginationToken(last),
    };
    if (includeProfile) {
      const senders = [...new Set([row, ...before.rows, ...after.rows].map((r) => r.sender))];
      const members = await this.queries.stateAt(conn, row.room_id, row.position, { keys: senders.map((s) => ({ type: 'm.room.member', state_key: s })) });
      const profiles: NonNullable<NonNullable<SearchResult['context']>['profile_info']> = {};
      for (const member of members) {
        const content = member.event.content;
        profiles[member.state_key as string] = {
          ...(typeof content.displayname === 'string' ? { displayname: content.displayname } : {}),
          ...(typeof content.avatar_url === 'string' ? { avatar_url: content.avatar_url } : {}),
        };
      }
      context.profile_info = profiles;
    }
    return context;
  }

  /** The current state of the results' rooms the searcher is joined to (of the others: the state as they left it is not given). */
  private async state(
    conn: CommonQueryMethods,
    roomIds: readonly string[],
    memberships: readonly { room_id: string; membership: string }[],
    viewer: Viewer,
  ): Promise<Record<string, ClientEvent[]>> {
    const joined = new Set(memberships.filter((m) => m.membership === 'join').map((m) => m.room_id));
    const state: Record<string, ClientEvent[]> = {};
    for (const roomId of new Set(roomIds)) {
      if (joined.has(roomId)) state[roomId] = this.queries.formatAll(await this.queries.currentState(conn, roomId), viewer);
    }
    return state;
  }

  /** The results grouped by room and/or sender, groups ordered by their best result. */
  private groups(criteria: RoomEventsCriteria, rows: readonly EventRow[], nextBatch: string | undefined): RoomEventsResults['groups'] {
    const keys = (criteria.groupings?.group_by ?? []).map((g) => g.key).filter((k): k is 'room_id' | 'sender' => k === 'room_id' || k === 'sender');
    if (keys.length === 0) return undefined;
    const groups: NonNullable<RoomEventsResults['groups']> = {};
    for (const key of new Set(keys)) {
      const byValue: Record<string, { results: string[]; order: number; next_batch?: string }> = {};
      for (const row of rows) {
        const value = row[key];
        const group = (byValue[value] ??= { results: [], order: Object.keys(byValue).length + 1, ...(nextBatch ? { next_batch: nextBatch } : {}) });
        group.results.push(row.event_id);
      }
      groups[key] = byValue;
    }
    return groups;
  }
}
