/**
 * The receipt checks of many PDUs at once (a send_join or state answer brings tens of
 * thousands): the results checkIncomingPdu gives one by one, with the Ed25519 verifications
 * done in libuv's thread pool while the calling thread runs the other checks of the next PDUs.
 */
import { verifyBytesInPool } from '../crypto/ed25519';
import { eventSignatureInput } from '../events/signing';
import { checkIncomingPdu, type PduCheckOptions, type PduCheckResult } from './pdu-checks';

/** PDUs checked before the signatures of the previous ones are awaited (so the pool holds at most two such runs). */
const RUN = 500;

export async function checkIncomingPdus(raws: readonly unknown[], roomVersionId: string, options: PduCheckOptions): Promise<PduCheckResult[]> {
  const results: PduCheckResult[] = new Array<PduCheckResult>(raws.length);
  let previous: Promise<unknown> = Promise.resolve();
  for (let start = 0; start < raws.length; start += RUN) {
    const run: Promise<void>[] = [];
    for (let i = start; i < Math.min(raws.length, start + RUN); i++) {
      // Every signature is taken as valid here and verified in the pool; the checks of a PDU
      // with a signature that does not verify run again with the real answers.
      const verifications: Promise<boolean>[] = [];
      results[i] = checkIncomingPdu(raws[i], roomVersionId, {
        ...options,
        verifySignature: (pdu, rules, serverName, keyId, publicKey) => {
          const input = eventSignatureInput(pdu, rules, serverName, keyId);
          verifications.push(input ? verifyBytesInPool(publicKey, input.message, input.signature) : Promise.resolve(false));
          return true;
        },
      });
      if (verifications.length === 0) continue;
      run.push(
        Promise.all(verifications).then((answers) => {
          if (answers.every(Boolean)) return;
          let next = 0;
          results[i] = checkIncomingPdu(raws[i], roomVersionId, { ...options, verifySignature: () => answers[next++] ?? false });
        }),
      );
    }
    await previous;
    previous = Promise.all(run);
  }
  await previous;
  return results;
}
