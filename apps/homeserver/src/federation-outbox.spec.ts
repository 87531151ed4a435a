import { BUS_TOPICS, InProcessBus, type Bus } from '@hs/bus';
import type { Edu } from '@hs/federation-sender';
import pino from 'pino';
import { busFederationOutbox, serveFederationOutbox, type FederationOutbox } from './federation-outbox';

/** The same bus seen from another process (its own process id). */
function otherProcess(bus: Bus, processId: string): Bus {
  return {
    processId,
    kind: bus.kind,
    publish: (topic, key, value) => bus.publish(topic, key, value),
    subscribe: (topic, handler) => bus.subscribe(topic, handler),
    consume: (topic, group, handler) => bus.consume(topic, group, handler),
    holds: (topic, group, key) => bus.holds(topic, group, key),
    close: () => bus.close(),
  };
}

function recordingOutbox() {
  const queued: Array<{ destinations: string[]; edu: Edu; key?: string }> = [];
  const reachable: string[] = [];
  const outbox: FederationOutbox = {
    enqueueEdu: (destinations, edu, key) => queued.push({ destinations: [...destinations], edu, ...(key !== undefined ? { key } : {}) }),
    markReachable: (server) => reachable.push(server),
  };
  return { outbox, queued, reachable };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('the federation outbox over the bus', () => {
  const logger = pino({ level: 'silent' });

  it('hands EDUs of a process without the sender to the sender, in order, keys kept', async () => {
    const bus = new InProcessBus();
    const sender = recordingOutbox();
    const stop = await serveFederationOutbox(otherProcess(bus, 'sender'), sender.outbox, logger);
    const outbox = busFederationOutbox(bus, logger);
    const toDevice: Edu = { edu_type: 'm.direct_to_device', content: { sender: '@a:here', type: 'm.room_key_request', message_id: 'm1', messages: { '@b:there': { DEV: { n: 1 } } } } };
    const typing: Edu = { edu_type: 'm.typing', content: { room_id: '!r:here', user_id: '@a:here', typing: true } };
    outbox.enqueueEdu(['there.org'], toDevice);
    outbox.enqueueEdu(new Set(['one.org', 'two.org']), typing, 'm.typing !r:here @a:here');
    outbox.enqueueEdu([], typing);
    await settle();
    expect(sender.queued).toEqual([
      { destinations: ['there.org'], edu: toDevice },
      { destinations: ['one.org', 'two.org'], edu: typing, key: 'm.typing !r:here @a:here' },
    ]);
    await stop();
    await bus.close();
  });

  it('announces a server that reached us at most every ten seconds', async () => {
    const bus = new InProcessBus();
    const sender = recordingOutbox();
    const stop = await serveFederationOutbox(otherProcess(bus, 'sender'), sender.outbox, logger);
    let now = 1_000_000;
    const outbox = busFederationOutbox(bus, logger, () => now);
    outbox.markReachable('there.org');
    outbox.markReachable('there.org');
    outbox.markReachable('else.org');
    now += 10_001;
    outbox.markReachable('there.org');
    await settle();
    expect(sender.reachable).toEqual(['there.org', 'else.org', 'there.org']);
    await stop();
    await bus.close();
  });

  it('ignores messages that are not valid', async () => {
    const bus = new InProcessBus();
    const sender = recordingOutbox();
    const warnings: string[] = [];
    const watching = pino({ level: 'warn' }, { write: (line: string) => warnings.push((JSON.parse(line) as { msg: string }).msg) });
    const senderBus = otherProcess(bus, 'sender');
    const stop = await serveFederationOutbox(senderBus, sender.outbox, watching);
    await bus.publish(BUS_TOPICS.federationOutbox, 'outbox', { destinations: 'there.org', edu: { edu_type: 'm.typing', content: {} } });
    await bus.publish(BUS_TOPICS.federationOutbox, 'outbox', { destinations: ['there.org'], edu: { edu_type: 'm.typing', content: [] } });
    await bus.publish(BUS_TOPICS.federationOutbox, 'outbox', { destinations: ['there.org'], edu: { edu_type: 'm.typing', content: {} }, key: 7 });
    await bus.publish(BUS_TOPICS.federationOutbox, 'outbox', { reachable: 42 });
    await settle();
    expect(sender.queued).toEqual([]);
    expect(sender.reachable).toEqual([]);
    expect(warnings).toEqual(Array(4).fill('a federation outbox message that is not valid was ignored'));
    await stop();
    await bus.close();
  });
});
