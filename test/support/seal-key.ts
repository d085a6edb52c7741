import { generateSealKey } from '../../src/audit/seal-key.js';
import type { SealTrust } from '../../src/audit/seal.js';

/** A seal signing key for tests that seal a bare database (a runtime has its own: runtime.sealKeys). */
export const testSigner = generateSealKey().signer;

/** What a verifier that trusts testSigner passes. */
export const testTrust: SealTrust = { publicKeys: [testSigner] };
