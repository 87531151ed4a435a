import { sql, type FragmentSqlToken } from 'slonik';
import { z } from 'zod';
import { groupCteNames, groupStatement, type GroupPart } from './group-statement';

const row = z.object({ member: z.number() });

function writes(i: number, stream: string, ids: readonly string[]): FragmentSqlToken {
  const cte = groupCteNames(i);
  return sql.fragment`${cte('rows')} AS (
      INSERT INTO public.t (stream, event_id, ids) SELECT ${stream}, event_id, ${sql.array([...ids], 'text')} FROM ${cte('appended')}),
    ${cte('flag')} AS (SELECT ${i % 2 === 0} AS even)`;
}

function part(i: number, stream = `s${i}`): GroupPart {
  return { stream, expected: 'any', payload: `[{"id":"e${i}"}]`, writes: writes(i, stream, [`a${i}`, `b${i}`]) };
}

/** The placeholder numbers in the order they appear in the text. */
function placeholders(text: string): number[] {
  return [...text.matchAll(/\$slonik_(\d+)/g)].map((m) => Number(m[1]));
}

describe('groupStatement', () => {
  it('binds every member\'s append arguments and writes values in order, one placeholder per value', () => {
    const parts = [part(0), part(1), part(2)];
    const statement = groupStatement(row, parts, { channel: 'chan', as: 'me' });
    expect(statement.values).toEqual([
      's0', 'any', '[{"id":"e0"}]', 's0', ['a0', 'b0'], true,
      's1', 'any', '[{"id":"e1"}]', 's1', ['a1', 'b1'], false,
      's2', 'any', '[{"id":"e2"}]', 's2', ['a2', 'b2'], true,
      'chan', 'me',
    ]);
    expect(placeholders(statement.sql)).toEqual(statement.values.map((_, i) => i + 1));
    expect(statement.sql).toContain('"m2_appended" AS (SELECT event_id, position, revision, written');
    expect(statement.sql).toContain('FROM "m1_appended"');
    expect(statement.sql).toContain('"m1_rows" AS');
    expect(statement.sql).toContain('pg_notify($slonik_19, $slonik_20)');
    expect(statement.sql).toMatch(/SELECT 2::int AS member, event_id, position, revision, written FROM "m2_appended" UNION ALL SELECT -1/);
    expect(statement.parser).toBe(row);
  });

  it('keeps one text per shape: the same members give the same text, other values or no NOTIFY another', () => {
    const first = groupStatement(row, [part(0), part(1)], undefined);
    const again = groupStatement(row, [part(0, 'x'), part(1, 'y')], undefined);
    expect(again.sql).toBe(first.sql);
    expect(again.values[0]).toBe('x');
    expect(first.sql).not.toContain('pg_notify');
    const notifying = groupStatement(row, [part(0), part(1)], { channel: 'c', as: 'a' });
    expect(notifying.sql).not.toBe(first.sql);
    expect(groupStatement(row, [part(0)], undefined).sql).not.toBe(first.sql);
  });

  it('composes writes whose placeholders are not in order with slonik instead', () => {
    const odd: FragmentSqlToken = { ...sql.fragment`SELECT 1`, sql: 'x AS (SELECT $slonik_2, $slonik_1)', values: ['b', 'a'] };
    const statement = groupStatement(row, [part(0), { stream: 's9', expected: '3', payload: '[]', writes: odd }], undefined);
    const numbers = placeholders(statement.sql);
    expect(new Set(numbers).size).toBe(statement.values.length);
    expect(statement.sql).toContain('x AS (SELECT');
    // The member index is bound as a value in the composed form.
    expect(statement.values).toEqual(expect.arrayContaining(['s9', '3', '[]', 'a', 'b', 0, 1]));
  });
});
