/**
 * Benchmark: Ed25519 event signature verification (node:crypto vs tweetnacl) and canonical
 * JSON encoding. Prints figures; run with `npm run build && node dist/bench/protocol/verify.js`.
 */
import { cpus } from 'node:os';
import nacl from 'tweetnacl';
import {
  canonicalJson,
  canonicalJsonBytes,
  decodeBase64,
  generateSigningKey,
  redactEvent,
  signEvent,
  verifyEventSignature,
  verifyJsonSignature,
  type Pdu,
} from '@hs/protocol';

const EVENTS = 10_000;
const ROOM_VERSION = '10';
const SERVER = 'bench.example';

function makeEvents(): Pdu[] {
  const key = generateSigningKey('bench');
  const events: Pdu[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const unsigned: Pdu = {
      room_id: '!bench:bench.example',
      sender: `@user${i % 50}:bench.example`,
      type: 'm.room.message',
      content: { msgtype: 'm.text', body: `message number ${i} with some text to make it realistic`, 'm.mentions': {} },
      origin_server_ts: 1_700_000_000_000 + i,
      depth: i + 3,
      prev_events: ['$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg'],
      auth_events: ['$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '$bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', '$ccccccccccccccccccccccccccccccccccccccccccc'],
      hashes: { sha256: '' },
      signatures: {},
      unsigned: { age: 10 },
    };
    events.push(signEvent(unsigned, ROOM_VERSION, SERVER, key));
  }
  return events;
}

function rate(count: number, ms: number): string {
  return `${Math.round((count / ms) * 1000).toLocaleString('en-US')}/s`;
}

function time(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function main(): void {
  const key = generateSigningKey('bench');
  const events = makeEvents().map((e) => signEvent({ ...e, signatures: {} }, ROOM_VERSION, SERVER, key));
  const keyId = key.keyId;
  console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores), node ${process.version}`);
  console.log(`${EVENTS.toLocaleString('en-US')} signed m.room.message events, room version ${ROOM_VERSION}`);

  // Full event check with node:crypto: redact + canonical JSON + ed25519 verify.
  let ok = 0;
  const full = time(() => {
    for (const e of events) if (verifyEventSignature(e, ROOM_VERSION, SERVER, keyId, key.publicKey)) ok++;
  });
  if (ok !== EVENTS) throw new Error(`only ${ok} of ${EVENTS} verified`);
  console.log(`event signatures verified (redact + canonical JSON + ed25519, node:crypto): ${rate(EVENTS, full)} (${full.toFixed(0)} ms)`);

  // Ed25519 alone: the canonical bytes prepared first, so only the verify is timed.
  const prepared = events.map((e) => {
    const redacted = redactEvent(e, ROOM_VERSION);
    const sig = decodeBase64(e.signatures[SERVER][keyId]);
    delete redacted.signatures;
    return { bytes: canonicalJsonBytes(redacted, { strict: true }), sig, redacted: { ...redacted, signatures: e.signatures } };
  });
  ok = 0;
  const nodeOnly = time(() => {
    for (const p of prepared) if (verifyJsonSignature(p.redacted, SERVER, keyId, key.publicKey, { strict: true })) ok++;
  });
  if (ok !== EVENTS) throw new Error('node:crypto verification failed');
  console.log(`JSON signatures verified (canonical JSON + ed25519, node:crypto): ${rate(EVENTS, nodeOnly)} (${nodeOnly.toFixed(0)} ms)`);

  // tweetnacl on the same prepared bytes (a slower pure-JS implementation, for comparison).
  const naclCount = Math.min(EVENTS, 1_000);
  ok = 0;
  const naclMs = time(() => {
    for (let i = 0; i < naclCount; i++) if (nacl.sign.detached.verify(prepared[i].bytes, prepared[i].sig, key.publicKey)) ok++;
  });
  if (ok !== naclCount) throw new Error('tweetnacl verification failed');
  console.log(`ed25519 verifies with tweetnacl (bytes prepared, ${naclCount.toLocaleString('en-US')} events): ${rate(naclCount, naclMs)} (${naclMs.toFixed(0)} ms)`);

  // Canonical JSON encoding of whole events.
  let bytes = 0;
  const encode = time(() => {
    for (const e of events) bytes += canonicalJson(e, { strict: true }).length;
  });
  console.log(`canonical JSON encodes (whole event, strict): ${rate(EVENTS, encode)} (${encode.toFixed(0)} ms, ${Math.round(bytes / EVENTS)} chars each)`);
}

main();
