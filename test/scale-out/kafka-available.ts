/**
 * Whether the scale-out suites can run here: they need the Kafka jars
 * (test/scale-out/install-kafka.sh) and, for the homeserver processes, PostgreSQL
 * (TEST_DATABASE_URL). Without them the suites are skipped with the reason, except on CI
 * (CI=true), where a missing part fails the run.
 */
import { kafkaLibs } from '../support/kafka-broker';

export function scaleOutPrerequisites(needsPostgres: boolean): string | null {
  const kafka = kafkaLibs();
  if ('missing' in kafka) return kafka.missing;
  if (needsPostgres && !process.env.TEST_DATABASE_URL) return 'TEST_DATABASE_URL is not set (several processes share one PostgreSQL)';
  return null;
}

/** `describe`, or `describe.skip` with a warning when a prerequisite is missing (a failing test on CI). */
export function describeScaleOut(name: string, needsPostgres: boolean, body: () => void): void {
  const missing = scaleOutPrerequisites(needsPostgres);
  if (missing === null) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('has what it needs to run', () => {
        throw new Error(`the scale-out suite cannot run: ${missing}`);
      });
    });
    return;
  }
  console.warn(`${name}: skipped, ${missing}`);
  describe.skip(name, body);
}
