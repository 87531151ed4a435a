/** Queries of the search projection (views in `proj_search`). */
import { sql, type CommonQueryMethods } from 'slonik';
import { readActive } from '@hs/eventstore';
import { SEARCH_CONFIG, SEARCH_PROJECTION } from './search.projector';

export type SearchOrder = 'rank' | 'recent';

/** Where a scan of the candidates stopped: the last candidate it read. */
export interface SearchCursor {
  rank: number;
  position: bigint;
}

export interface SearchCandidate {
  event_id: string;
  room_id: string;
  position: bigint;
  rank: number;
}

export interface SearchCandidatesRequest {
  /** A text search query (`searchQueryText`). */
  query: string;
  rooms: readonly string[];
  keys: readonly string[];
  senders?: readonly string[];
  notSenders?: readonly string[];
  order: SearchOrder;
  /** Only candidates after this one in the order. */
  after?: SearchCursor;
  limit: number;
}

/** Position up to which the search projection has applied the store. */
export async function searchPosition(conn: CommonQueryMethods): Promise<bigint> {
  return (await readActive(conn, SEARCH_PROJECTION))?.checkpoint ?? 0n;
}

/** The words of a search term (letters and digits, lower case). */
export function searchTermWords(term: string): string[] {
  return term
    .normalize('NFKC')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word.length > 0);
}

/**
 * The text search query of a search term: every word required, each matching as a prefix
 * (after stemming). Undefined when the term has no word.
 */
export function searchQueryText(term: string): string | undefined {
  const words = searchTermWords(term);
  return words.length === 0 ? undefined : words.map((w) => `${w}:*`).join(' & ');
}

function conditions(request: Omit<SearchCandidatesRequest, 'order' | 'after' | 'limit'>) {
  const parts = [
    sql.fragment`e.vector @@ ${tsquery(request.query)}`,
    sql.fragment`e.room_id = ANY(${sql.array([...request.rooms], 'text')})`,
    sql.fragment`e.key = ANY(${sql.array([...request.keys], 'text')})`,
  ];
  if (request.senders !== undefined) parts.push(sql.fragment`e.sender = ANY(${sql.array([...request.senders], 'text')})`);
  if (request.notSenders !== undefined && request.notSenders.length > 0) {
    parts.push(sql.fragment`NOT (e.sender = ANY(${sql.array([...request.notSenders], 'text')}))`);
  }
  return sql.join(parts, sql.fragment` AND `);
}

/** The query as an expression of constants, so that the planner can use the index on `vector`. */
const tsquery = (text: string) => sql.fragment`to_tsquery(${SEARCH_CONFIG}::regconfig, ${text})`;

/**
 * Indexed events matching the query in the rooms, in the order asked (`rank`: best first by
 * `ts_rank`, then newest; `recent`: newest first by store position), after the cursor; and
 * how many match in all, cursor aside (counted in the same scan; 0 when none is after the
 * cursor, see `countSearchCandidates`).
 */
export async function searchCandidates(conn: CommonQueryMethods, request: SearchCandidatesRequest): Promise<{ candidates: SearchCandidate[]; total: number }> {
  if (request.rooms.length === 0 || request.keys.length === 0 || request.limit <= 0) return { candidates: [], total: 0 };
  const after = request.after;
  const cursor =
    after === undefined
      ? sql.fragment`TRUE`
      : request.order === 'recent'
        ? sql.fragment`c.position < ${after.position}`
        : sql.fragment`(c.rank < ${after.rank}::real OR (c.rank = ${after.rank}::real AND c.position < ${after.position}))`;
  const recent = request.order === 'recent';
  const order = (alias: string) => (recent ? sql.fragment`${sql.identifier([alias, 'position'])} DESC` : sql.fragment`${sql.identifier([alias, 'rank'])} DESC, ${sql.identifier([alias, 'position'])} DESC`);
  // Newest first ranks only the page's rows; best first ranks every match.
  const rows = (await conn.any(sql.unsafe`
    SELECT p.event_id, p.room_id, p.position, ${recent ? sql.fragment`ts_rank(p.vector, ${tsquery(request.query)})` : sql.fragment`p.rank`} AS rank, p.total FROM (
      SELECT c.* FROM (
        SELECT e.event_id, e.room_id, e.position, e.vector, ${recent ? sql.fragment`0::real` : sql.fragment`ts_rank(e.vector, ${tsquery(request.query)})`} AS rank,
               count(*) OVER () AS total
          FROM proj_search.entries e
         WHERE ${conditions(request)}) c
       WHERE ${cursor}
       ORDER BY ${order('c')} LIMIT ${request.limit}) p
     ORDER BY ${order('p')}`)) as unknown as (SearchCandidate & { total: bigint | number })[];
  return {
    candidates: rows.map(({ total: _total, ...candidate }) => candidate),
    total: rows.length > 0 ? Number(rows[0].total) : 0,
  };
}

/** How many indexed events match the query in the rooms (before visibility is applied). */
export async function countSearchCandidates(conn: CommonQueryMethods, request: Omit<SearchCandidatesRequest, 'order' | 'after' | 'limit'>): Promise<number> {
  if (request.rooms.length === 0 || request.keys.length === 0) return 0;
  const count = await conn.oneFirst(sql.unsafe`
    SELECT count(*) FROM proj_search.entries e WHERE ${conditions(request)}`);
  return Number(count);
}

const START = '\u0001';
const STOP = '\u0002';

/** The text with the markers (and NUL, which text cannot hold) made spaces. */
function withoutMarkers(text: string): string {
  return text.split('\u0000').join(' ').split(START).join(' ').split(STOP).join(' ');
}

/**
 * The words of the texts that the query matched (as `ts_headline` marks them), lower-cased,
 * each once: what clients highlight in the results.
 */
export async function searchHighlights(conn: CommonQueryMethods, query: string, texts: readonly string[]): Promise<string[]> {
  if (texts.length === 0) return [];
  const marked = (await conn.anyFirst(sql.unsafe`
    SELECT ts_headline(${SEARCH_CONFIG}::regconfig, t.text, ${tsquery(query)}, ${`StartSel=${START}, StopSel=${STOP}, HighlightAll=true`})
      FROM unnest(${sql.array(texts.map(withoutMarkers), 'text')}) AS t(text)`)) as unknown as string[];
  const words = new Set<string>();
  for (const text of marked) {
    // Every piece after a start marker begins with a highlighted word, up to its stop marker.
    for (const piece of text.split(START).slice(1)) {
      const word = piece.split(STOP)[0];
      if (word.length > 0) words.add(word.toLowerCase());
    }
  }
  return [...words].sort();
}
