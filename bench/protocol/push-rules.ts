/**
 * What the push rule engine costs per event in a 100-member room: one message evaluated for
 * 99 members, each with the default rules plus a keyword rule and a room rule of their own
 * (compiled once, as the push projection keeps them), a third of the messages mentioning
 * someone. Prints microseconds per event (all 99 evaluations) and evaluations per second.
 *
 *   node -r ./test/support/register-ts.cjs bench/protocol/push-rules.ts
 */
import { compilePushRules, effectivePushRules, evaluatePushRules } from '@hs/protocol';

const MEMBERS = 100;
const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const room = '!bench:example.org';
const users = Array.from({ length: MEMBERS }, (_, i) => `@user${i}:example.org`);
const compiled = users.map((userId, i) =>
  compilePushRules(
    userId,
    effectivePushRules(userId, {
      global: {
        content: [{ rule_id: 'kw', default: false, enabled: true, pattern: `keyword${i}`, actions: ['notify', { set_tweak: 'highlight' }] }],
        room: i % 10 === 0 ? [{ rule_id: room, default: false, enabled: true, actions: [] }] : [],
      },
    }),
  ),
);

function message(n: number) {
  const content: Record<string, unknown> = { msgtype: 'm.text', body: `message number ${n} about nothing in particular, said by someone` };
  if (n % 3 === 0) content['m.mentions'] = { user_ids: [users[n % MEMBERS]] };
  return { type: 'm.room.message', sender: users[n % MEMBERS], room_id: room, content };
}

function run(events: number): number {
  let notified = 0;
  for (let n = 0; n < events; n++) {
    const event = message(n);
    for (let u = 0; u < MEMBERS; u++) {
      if (users[u] === event.sender) continue;
      const outcome = evaluatePushRules(compiled[u], event, { memberCount: MEMBERS, displayName: `User ${u}`, senderPowerLevel: 0 });
      if (outcome.notify) notified++;
    }
  }
  return notified;
}

run(2000);
const started = process.hrtime.bigint();
const notified = run(EVENTS);
const ns = Number(process.hrtime.bigint() - started);
const perEventUs = ns / 1000 / EVENTS;
console.log(`push rules, ${MEMBERS}-member room: ${perEventUs.toFixed(1)} µs per event (${MEMBERS - 1} evaluations), ` +
  `${Math.round(((MEMBERS - 1) * EVENTS) / (ns / 1e9)).toLocaleString('en')} evaluations/s, ${notified} notified`);
