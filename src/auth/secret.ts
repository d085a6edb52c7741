import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The instance's signing secret: AUTH_SECRET when set (every instance of a deployment must share
 * it), else one generated on first start and kept under DATA_DIR, like a framework's
 * secret_key_base, so the embedded default needs no setup.
 */
export function resolveSecret(configured: string | undefined, dataDir: string, name = 'secret.key'): string {
  if (configured) return configured;
  const file = join(dataDir, name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return secret;
}

/** A key for one purpose, derived from the secret: a user token can never pass as a file token. */
export function deriveKey(secret: string, purpose: 'user-token' | 'file-token'): Uint8Array {
  return createHmac('sha256', secret).update(`quire:${purpose}`).digest();
}
