/**
 * Whether the scale-out suites can run here: they need the Kafka jars and, for the homeserver
 * processes, PostgreSQL (TEST_DATABASE_URL). Missing jars are installed on the spot
 * (test/scale-out/install-kafka.sh: Maven Central, Java 17 and Maven). What still misses fails
 * the suite with the reason.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { kafkaLibs } from '../support/kafka-broker';

/** Installs the jars when they are missing; the reason they are still missing, or null. */
function ensureKafkaJars(): string | null {
  const before = kafkaLibs();
  if (!('missing' in before)) return null;
  const install = spawnSync('bash', [join(__dirname, 'install-kafka.sh')], { encoding: 'utf8', timeout: 600_000 });
  const after = kafkaLibs();
  if (!('missing' in after)) return null;
  const output = `${install.stdout ?? ''}${install.stderr ?? ''}`.trim().split('\n').slice(-3).join(' / ');
  return `${after.missing}; installing them failed (${install.error?.message ?? `exit ${install.status}`}${output ? `: ${output}` : ''})`;
}

export function scaleOutPrerequisites(needsPostgres: boolean): string | null {
  if (needsPostgres && !process.env.TEST_DATABASE_URL) return 'TEST_DATABASE_URL is not set (several processes share one PostgreSQL)';
  return ensureKafkaJars();
}

/**
 * `describe`, or, when a prerequisite is missing, a suite whose one test fails with the reason.
 * (Without TEST_DATABASE_URL outside CI, jest.config.js does not select the suite that needs
 * PostgreSQL, as it leaves out nothing else that runs on the embedded database.)
 */
export function describeScaleOut(name: string, needsPostgres: boolean, body: () => void): void {
  const missing = scaleOutPrerequisites(needsPostgres);
  if (missing === null) {
    describe(name, body);
    return;
  }
  describe(name, () => {
    it('has what it needs to run', () => {
      throw new Error(`the scale-out suite cannot run: ${missing}`);
    });
  });
}
