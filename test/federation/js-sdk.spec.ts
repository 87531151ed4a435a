/**
 * matrix-js-sdk clients on two federating instances (over HTTPS on loopback): a remote invite,
 * a join over federation, a conversation, a display name, a topic and a leave, each seen by
 * the other side's client.
 */
import { join } from 'node:path';
import { runClientScript, type ClientReport } from '../support/client-script';
import { Federation, type FederatedInstance } from './support/instances';

interface FederatedReport extends ClientReport {
  conversation: string[];
  aliceTimeline: string[];
  bobTimeline: string[];
  bobNameSeenByAlice: string;
}

describe('matrix-js-sdk clients on two federating instances', () => {
  const federation = new Federation();
  let a: FederatedInstance;
  let b: FederatedInstance;

  beforeAll(async () => {
    await federation.prepare(2);
    a = await federation.start(0);
    b = await federation.start(1);
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([a, b].filter(Boolean).map((instance) => instance.server.close()));
    federation.dispose();
  }, 60_000);

  it('invite, join, converse, rename, change the topic and leave across servers', async () => {
    const report = await runClientScript<FederatedReport>(process.execPath, [join(__dirname, 'clients/js-sdk-federated.mjs')], [a.server.url, b.server.url]);
    expect(report.error).toBeUndefined();
    expect(report.steps).toEqual(['synced', 'invited', 'joined', 'conversation', 'displayname', 'topic', 'left']);
    // Each client saw the whole conversation, each sender's messages in the order sent. (The
    // senders did not wait for each other, so the two servers' messages interleave as they
    // arrived: /sync keeps the order in which this server accepted them.)
    for (const timeline of [report.aliceTimeline, report.bobTimeline]) {
      expect([...timeline].sort()).toEqual([...report.conversation].sort());
      for (const sender of ['alice', 'bob']) {
        expect(timeline.filter((body) => body.startsWith(sender))).toEqual(report.conversation.filter((body) => body.startsWith(sender)));
      }
    }
    expect(report.bobNameSeenByAlice).toBe('Bob from afar');
  }, 300_000);
});
