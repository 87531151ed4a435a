/**
 * Which servers are in a room, read from the write model: the servers with at least one
 * member whose membership is `join`, in the state after an event (its state group, which never
 * changes) or in the room's current state. The federation sender sends a room's events and
 * ephemeral data to these servers.
 */
import { z } from 'zod';
import { sql, type CommonQueryMethods } from '../write-model/sql';

const groupRow = z.object({ event_id: z.string(), state_group: z.string() });
const serverRow = z.object({ server: z.string() });

export class JoinedServersReader {
  constructor(private readonly db: CommonQueryMethods) {}

  /**
   * The state group after each of these events; events the write model does not hold, outliers
   * and rejected events (which have none) are absent from the answer.
   */
  async stateGroupsOf(eventIds: readonly string[], connection: CommonQueryMethods = this.db): Promise<Map<string, string>> {
    if (eventIds.length === 0) return new Map();
    const rows = await connection.any(sql.type(groupRow)`
      SELECT event_id, state_group FROM room.events
       WHERE event_id = ANY(${sql.array([...eventIds], 'text')}) AND state_group IS NOT NULL AND NOT rejected`);
    return new Map(rows.map((row) => [row.event_id, row.state_group]));
  }

  /** The servers with a joined member in a state group (sorted; empty for an unknown group). */
  async joinedServersInGroup(groupId: string, connection: CommonQueryMethods = this.db): Promise<string[]> {
    const rows = await connection.anyFirst(sql.type(serverRow)`
      WITH RECURSIVE chain (group_id, prev_group, n) AS (
        SELECT group_id, prev_group, 0 FROM room.state_groups WHERE group_id = ${groupId}
        UNION ALL
        SELECT g.group_id, g.prev_group, c.n + 1 FROM room.state_groups g JOIN chain c ON g.group_id = c.prev_group
      ), members AS (
        SELECT DISTINCT ON (e.state_key) e.state_key, e.event_id
          FROM chain c JOIN room.state_group_entries e ON e.group_id = c.group_id
         WHERE e.type = 'm.room.member'
         ORDER BY e.state_key, c.n ASC
      )
      SELECT DISTINCT substr(m.state_key, strpos(m.state_key, ':') + 1) AS server
        FROM members m JOIN room.events ev ON ev.event_id = m.event_id
       WHERE ev.pdu -> 'content' ->> 'membership' = 'join' AND strpos(m.state_key, ':') > 0
       ORDER BY 1`);
    return [...rows];
  }

  /** The servers with a joined member in the room's current state (sorted). */
  async joinedServers(roomId: string, connection: CommonQueryMethods = this.db): Promise<string[]> {
    const rows = await connection.anyFirst(sql.type(serverRow)`
      SELECT DISTINCT substr(state_key, strpos(state_key, ':') + 1) AS server FROM room.current_state
       WHERE room_id = ${roomId} AND type = 'm.room.member' AND membership = 'join' AND strpos(state_key, ':') > 0
       ORDER BY 1`);
    return [...rows];
  }
}
