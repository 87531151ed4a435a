/**
 * docker-compose.yml's scale-out profile, checked without a Docker engine: the file parses
 * (YAML merge keys as Compose reads them), every process's environment is a valid
 * configuration, the roles cover the server once each where they must, and Kafka runs in
 * KRaft mode where the processes look for it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVER_ROLES, parseConfig } from '@hs/config';
import YAML from 'yaml';

interface Service {
  image?: string;
  build?: string;
  profiles?: string[];
  environment?: Record<string, string | number>;
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  ports?: string[];
}

const text = readFileSync(join(__dirname, '../../docker-compose.yml'), 'utf8');
const compose = YAML.parse(text, { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const scaledOut = Object.entries(compose.services).filter(([, service]) => service.profiles?.includes('scale-out'));
const processes = scaledOut.filter(([, service]) => service.build !== undefined);

function configOf(service: Service) {
  const env = Object.fromEntries(Object.entries(service.environment ?? {}).map(([name, value]) => [name, String(value)]));
  return parseConfig('server_name: example.org\n', { baseDir: '/config', env });
}

describe('docker-compose.yml', () => {
  it('runs the single process by default and everything else under the scale-out profile', () => {
    expect(compose.services.homeserver.profiles).toBeUndefined();
    expect(compose.services.postgres.profiles).toBeUndefined();
    expect(scaledOut.map(([name]) => name).sort()).toEqual(['client', 'federation', 'kafka', 'projector', 'room-writer']);
    expect(JSON.stringify(compose.services).toLowerCase()).not.toContain('zookeeper');
  });

  it('gives every scaled-out process a valid configuration with its roles and the broker', () => {
    const kafka = compose.services.kafka;
    expect(kafka.environment?.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    const advertised = String(kafka.environment?.KAFKA_ADVERTISED_LISTENERS).replace('PLAINTEXT://', '');
    const holders = new Map<string, string[]>();
    for (const [name, service] of processes) {
      const config = configOf(service);
      expect(config.kafka.brokers).toEqual([advertised]);
      expect(config.database.url).toMatch(/@postgres:5432\//);
      expect(service.depends_on?.kafka.condition).toBe('service_healthy');
      expect(service.depends_on?.postgres.condition).toBe('service_healthy');
      for (const role of config.roles) holders.set(role, [...(holders.get(role) ?? []), name]);
    }
    expect([...holders.keys()].sort()).toEqual([...SERVER_ROLES].sort());
    // One process at a time for the projections and the senders; any number of clients and writers.
    for (const role of ['projector', 'federation-sender', 'pusher', 'appservice-sender']) {
      const [name, ...more] = holders.get(role) ?? [];
      expect(more).toEqual([]);
      expect(compose.services[name].deploy?.replicas ?? 1).toBe(1);
    }
    expect(compose.services.client.deploy?.replicas).toBeGreaterThan(1);
    expect(compose.services['room-writer'].deploy?.replicas).toBeGreaterThan(1);
  });

  it('keeps the single process valid on its own', () => {
    const config = configOf(compose.services.homeserver);
    expect(config.roles).toEqual([...SERVER_ROLES]);
    expect(config.kafka.brokers).toEqual([]);
  });
});
