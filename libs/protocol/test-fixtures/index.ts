/**
 * The Matrix specification's test vectors (v1.19, Apache-2.0, see LICENSE.matrix-spec), kept
 * here as the project's own fixture so tests run without the shared spec copy.
 */
import vectors from './spec-test-vectors.json';

export interface SpecVectorCase {
  readonly name: string;
  readonly kind: 'canonical_json' | 'unpadded_base64' | 'json_signing' | 'event_signing' | 'identity_lookup_sha256';
  readonly input: unknown;
  readonly expected: unknown;
  readonly expected_signature?: string;
  readonly expected_content_hash_sha256?: string;
}

export const SPEC_SIGNING_KEY = vectors.signing_key;

export function specVectors(kind: SpecVectorCase['kind']): SpecVectorCase[] {
  return (vectors.cases as SpecVectorCase[]).filter((c) => c.kind === kind);
}
