/**
 * The text of a grouped append statement (see `PostgresEventStore.appendWithWrites`), put
 * together once per shape.
 *
 * Nesting slonik fragments renumbers the placeholders of the nested text at every level (a
 * regular expression over the whole text each time): for a group of eight appends with their
 * writes that was several passes over ten kilobytes of SQL for every statement, about 8% of
 * the server's thread under a stream of messages. Here each member's writes fragment is built
 * as usual, split once at its placeholders (by text, which is the same for every message), and
 * the statement's template (the literal parts between the values) is kept per shape: the
 * number of members, each member's writes text and whether the statement notifies, with its
 * placeholders numbered; only the values are gathered for each statement.
 */
import { sql, type FragmentSqlToken, type IdentifierSqlToken, type PrimitiveValueExpression, type QuerySqlToken } from 'slonik';
import type { ZodTypeAny } from 'zod';

/**
 * Names the common table expressions of one append inside a grouped statement: `cte('appended')`
 * is that append's records `(event_id, position, revision, written)`; any other name gives an
 * identifier unique to the append, for the caller's own writes.
 */
export type AppendCteNames = (name: string) => IdentifierSqlToken;
/** The caller's writes of one append: common table expressions `name AS (...)`, comma separated. */
export type AppendWrites = (cte: AppendCteNames) => FragmentSqlToken;

/** The writes of one member as the grouped statement takes them. */
export interface GroupPart {
  readonly stream: string;
  /** The expected revision as `eventstore.append` takes it. */
  readonly expected: string;
  /** The events as a JSON array. */
  readonly payload: string;
  /** The member's common table expressions (built with {@link groupCteNames}). */
  readonly writes: FragmentSqlToken;
}

/** The placeholders slonik writes into a fragment's text. */
const PLACEHOLDER = /\$slonik_(\d+)/g;
/** Writes texts and statement templates kept at most; both start over beyond that. */
const CACHE_LIMIT = 256;

interface Split {
  /** Small number naming the text in template keys. */
  readonly id: number;
  /** The literal parts around the placeholders (one more than the values). */
  readonly segments: readonly string[];
}

const splits = new Map<string, Split | null>();
let nextSplitId = 0;
const templates = new Map<string, string>();
const cteNames: AppendCteNames[] = [];

/**
 * The names of member `index`'s common table expressions: `m<index>_<name>`, each identifier
 * built once.
 */
export function groupCteNames(index: number): AppendCteNames {
  let names = cteNames[index];
  if (!names) {
    const built = new Map<string, IdentifierSqlToken>();
    names = (name) => {
      let identifier = built.get(name);
      if (!identifier) {
        identifier = sql.identifier([`m${index}_${name}`]);
        built.set(name, identifier);
      }
      return identifier;
    };
    cteNames[index] = names;
  }
  return names;
}

/**
 * The fragment's text split at its placeholders, when they are `$slonik_1` … `$slonik_<n>` in
 * order, one per value (what slonik's tag produces); null otherwise.
 */
function splitOf(fragment: FragmentSqlToken): Split | null {
  const known = splits.get(fragment.sql);
  if (known !== undefined) return known;
  const segments: string[] = [];
  let last = 0;
  let expected = 1;
  let ordered = true;
  for (const match of fragment.sql.matchAll(PLACEHOLDER)) {
    if (Number(match[1]) !== expected++) {
      ordered = false;
      break;
    }
    segments.push(fragment.sql.slice(last, match.index));
    last = match.index + match[0].length;
  }
  segments.push(fragment.sql.slice(last));
  const split = ordered && segments.length === fragment.values.length + 1 ? { id: nextSplitId++, segments } : null;
  if (splits.size >= CACHE_LIMIT) splits.clear();
  splits.set(fragment.sql, split);
  return split;
}

/** The literal parts of a statement, built between the values it binds. */
class TemplateBuilder {
  readonly parts: string[] = [''];

  text(literal: string): void {
    this.parts[this.parts.length - 1] += literal;
  }

  value(): void {
    this.parts.push('');
  }
}

function buildTemplate(splitsOfParts: readonly Split[], notify: boolean): string {
  const t = new TemplateBuilder();
  t.text('WITH ');
  splitsOfParts.forEach((split, i) => {
    if (i > 0) t.text(', ');
    t.text(`"m${i}_appended" AS (SELECT event_id, position, revision, written\n        FROM eventstore.append(`);
    t.value();
    t.text(', ');
    t.value();
    t.text(', ');
    t.value();
    t.text('::json, false)), ');
    split.segments.forEach((segment, s) => {
      if (s > 0) t.value();
      t.text(segment);
    });
  });
  if (notify) {
    t.text(', notified AS (SELECT pg_notify(');
    t.value();
    t.text(', ');
    t.value();
    t.text('))');
  }
  t.text('\n    ');
  t.text(splitsOfParts.map((_, i) => `SELECT ${i}::int AS member, event_id, position, revision, written FROM "m${i}_appended"`).join(' UNION ALL '));
  if (notify) t.text(` UNION ALL SELECT -1, '', 0, 0, false FROM notified`);
  t.text('\n    ORDER BY member, revision');
  return t.parts.reduce((text, part, i) => `${text}$slonik_${i}${part}`);
}

/**
 * The slonik composition, for writes whose text does not split (not produced by slonik's tag):
 * the same statement, built by nesting fragments.
 */
function composed<T extends ZodTypeAny>(parser: T, parts: readonly GroupPart[], notify: { channel: string; as: string } | undefined): QuerySqlToken<T> {
  const ctes = parts.map(
    (part, i) => sql.fragment`${groupCteNames(i)('appended')} AS (SELECT event_id, position, revision, written
        FROM eventstore.append(${part.stream}, ${part.expected}, ${part.payload}::json, false)), ${part.writes}`,
  );
  const selects = parts.map(
    (_, i) => sql.fragment`SELECT ${i}::int AS member, event_id, position, revision, written FROM ${groupCteNames(i)('appended')}`,
  );
  if (notify) {
    ctes.push(sql.fragment`notified AS (SELECT pg_notify(${notify.channel}, ${notify.as}))`);
    selects.push(sql.fragment`SELECT -1, '', 0, 0, false FROM notified`);
  }
  return sql.type(parser)`WITH ${sql.join(ctes, sql.fragment`, `)}
    ${sql.join(selects, sql.fragment` UNION ALL `)}
    ORDER BY member, revision`;
}

/**
 * One statement for a group of appends with their writes: per member `m<i>_appended` (its
 * `eventstore.append` call) and its writes, then every member's records tagged with its index
 * (`member`), ordered by member and revision; with `notify`, one `pg_notify` at commit. The
 * append calls run one after the other inside the statement's transaction, so their positions
 * are consecutive (the transaction-local index of `eventstore.append`).
 */
export function groupStatement<T extends ZodTypeAny>(
  parser: T,
  parts: readonly GroupPart[],
  notify: { channel: string; as: string } | undefined,
): QuerySqlToken<T> {
  const partSplits: Split[] = [];
  for (const part of parts) {
    const split = splitOf(part.writes);
    if (split === null) return composed(parser, parts, notify);
    partSplits.push(split);
  }
  const key = `${notify ? 'n' : '-'}${partSplits.map((s) => s.id).join(',')}`;
  let template = templates.get(key);
  if (!template) {
    template = buildTemplate(partSplits, notify !== undefined);
    if (templates.size >= CACHE_LIMIT) templates.clear();
    templates.set(key, template);
  }
  const values: PrimitiveValueExpression[] = [];
  for (const part of parts) {
    values.push(part.stream, part.expected, part.payload);
    for (const value of part.writes.values) values.push(value);
  }
  if (notify) values.push(notify.channel, notify.as);
  // slonik's tag binds primitive values only (a writes fragment's text[] parameters are
  // arrays): the query token is the tag's own, with the statement's text and values.
  return { ...sql.type(parser)`SELECT 1`, sql: template, values };
}
