import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type Config } from '../config.js';

/**
 * The Ed25519 key that signs seals. The database never holds the private key: someone who can
 * write every table (the service's role, the owner, a superuser) can still not produce a seal an
 * auditor accepts, because the auditor checks it against a public key kept outside the database.
 *
 * Formats (all strings, so they fit an environment variable and a command line):
 *   private key  SEAL_SIGNING_KEY: the 32-byte Ed25519 seed, base64url (or base64), or a PKCS#8 PEM
 *   public key   the 32-byte raw Ed25519 public key, base64url (JWK "x")
 *   key id       the first 16 hex digits of sha256(raw public key)
 */
export interface SealPublicKey {
  readonly keyId: string;
  /** base64url of the raw 32-byte public key: what `quire audit digest` prints and auditors keep. */
  readonly publicKey: string;
  readonly key: KeyObject;
}

export interface SealSigner extends SealPublicKey {
  /** Signs a seal hash (64 hex digits): base64url Ed25519 signature. */
  sign(sealHash: string): string;
}

export class InvalidSealKeyError extends Error {
  override readonly name = 'InvalidSealKeyError';
}

/** The signed message: a domain tag, so a seal signature is never valid for anything else. */
function message(sealHash: string): Buffer {
  return Buffer.from(`quire-seal-v2:${sealHash}`, 'utf8');
}

// PKCS#8 DER of an Ed25519 private key is this fixed prefix followed by the 32-byte seed.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function publicKeyOf(key: KeyObject): SealPublicKey {
  const x = key.export({ format: 'jwk' }).x;
  if (!x) throw new InvalidSealKeyError('not an Ed25519 key');
  const raw = Buffer.from(x, 'base64url');
  return { keyId: createHash('sha256').update(raw).digest('hex').slice(0, 16), publicKey: x, key };
}

/** A signer from SEAL_SIGNING_KEY's value. */
export function sealSignerFrom(value: string): SealSigner {
  let privateKey: KeyObject;
  try {
    const text = value.trim();
    if (text.startsWith('-----BEGIN')) privateKey = createPrivateKey(text);
    else {
      const seed = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
      if (seed.length !== 32) throw new InvalidSealKeyError(`an Ed25519 seed is 32 bytes, this is ${seed.length}`);
      privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    }
  } catch (err) {
    throw new InvalidSealKeyError(`SEAL_SIGNING_KEY is not an Ed25519 private key: ${(err as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new InvalidSealKeyError('SEAL_SIGNING_KEY must be an Ed25519 key');
  const pub = publicKeyOf(createPublicKey(privateKey));
  return { ...pub, sign: (sealHash) => sign(null, message(sealHash), privateKey).toString('base64url') };
}

/** A public key from its base64url form (as printed by `quire audit digest` / `keygen`). */
export function sealPublicKeyFrom(value: string): SealPublicKey {
  const x = value.trim().replace(/^ed25519:/, '');
  try {
    if (Buffer.from(x, 'base64url').length !== 32) throw new Error('not 32 bytes');
    return publicKeyOf(createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' }));
  } catch (err) {
    throw new InvalidSealKeyError(`not an Ed25519 public key (base64url of 32 bytes): ${(err as Error).message}`);
  }
}

/** A new key: `privateKey` is the value for SEAL_SIGNING_KEY. */
export function generateSealKey(): { privateKey: string; signer: SealSigner } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_ED25519_PREFIX.length);
  const value = Buffer.from(seed).toString('base64url');
  return { privateKey: value, signer: sealSignerFrom(value) };
}

export function verifySealSignature(key: SealPublicKey, sealHash: string, signature: string): boolean {
  try {
    return verify(null, message(sealHash), key.key, Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}

/**
 * The deployment's seal signer: SEAL_SIGNING_KEY when set (required in production and on Fly,
 * config.ts), else a development key generated once and kept under DATA_DIR — next to the
 * generated AUTH_SECRET, so `quire audit verify` on the same machine checks what `quire serve`
 * sealed. `generated` tells the caller to warn: anyone who can read DATA_DIR can forge seals.
 */
export function resolveSealSigner(configured: string | undefined, dataDir: string): { signer: SealSigner; generated: boolean } {
  if (configured) return { signer: sealSignerFrom(configured), generated: false };
  const file = join(dataDir, 'seal-signing.key');
  if (existsSync(file)) return { signer: sealSignerFrom(readFileSync(file, 'utf8')), generated: true };
  mkdirSync(dataDir, { recursive: true });
  const { privateKey } = generateSealKey();
  try {
    writeFileSync(file, `${privateKey}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return { signer: sealSignerFrom(readFileSync(file, 'utf8')), generated: true };
}

/** The keys a verifier trusts: the signer's own, and older ones (SEAL_PUBLIC_KEYS) after a rotation. */
export function trustedSealKeys(signer: SealPublicKey | undefined, extra: readonly string[]): SealPublicKey[] {
  const keys = [...(signer ? [{ keyId: signer.keyId, publicKey: signer.publicKey, key: signer.key }] : []), ...extra.map(sealPublicKeyFrom)];
  return keys.filter((k, i) => keys.findIndex((o) => o.keyId === k.keyId) === i);
}

export interface SealKeys {
  signer: SealSigner;
  /** The keys a verifier in this process trusts: the signer's and SEAL_PUBLIC_KEYS. */
  trusted: SealPublicKey[];
  /** The signer is a development key kept under DATA_DIR (no SEAL_SIGNING_KEY). */
  generated: boolean;
}

/**
 * The public keys an offline check trusts when none is given on its command line: the configured
 * ones, and the development key under DATA_DIR if there is one (never created here).
 */
export function configuredPublicKeys(config: Pick<Config, 'seals' | 'dataDir'>): SealPublicKey[] {
  const dev = join(config.dataDir, 'seal-signing.key');
  return asConfigError(() => {
    const signer = config.seals.signingKey ? sealSignerFrom(config.seals.signingKey) : existsSync(dev) ? sealSignerFrom(readFileSync(dev, 'utf8')) : undefined;
    return trustedSealKeys(signer, config.seals.publicKeys);
  });
}

function asConfigError<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof InvalidSealKeyError) throw new ConfigError(`invalid configuration:\n  ${err.message}`);
    throw err;
  }
}

/** The configured seal keys; a bad SEAL_SIGNING_KEY or SEAL_PUBLIC_KEYS is a ConfigError. */
export function configuredSealKeys(config: Pick<Config, 'seals' | 'dataDir'>): SealKeys {
  return asConfigError(() => {
    const { signer, generated } = resolveSealSigner(config.seals.signingKey, config.dataDir);
    return { signer, generated, trusted: trustedSealKeys(signer, config.seals.publicKeys) };
  });
}
