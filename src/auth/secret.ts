import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The instance's signing secret: AUTH_SECRET when set (every instance of a deployment must share
 * it), else one generated on first start and kept under DATA_DIR, like a framework's
 * secret_key_base, so the embedded default needs no setup.
 */
export function resolveSecret(
  configured: string | undefined,
  dataDir: string,
  kept: { file: string; generate: () => string } = { file: 'secret.key', generate: () => randomBytes(32).toString('base64url') },
): string {
  if (configured) return configured;
  const file = join(dataDir, kept.file);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = kept.generate();
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return secret;
}

/** A key for one purpose, derived from the secret: a user token can never pass as a file token. */
export function deriveKey(secret: string, purpose: 'user-token' | 'file-token'): Uint8Array {
  return createHmac('sha256', secret).update(`quire:${purpose}`).digest();
}

/** The webhook signing secret: WEBHOOK_SECRET, else a Standard Webhooks `whsec_` secret generated under DATA_DIR. */
export function resolveWebhookSecret(configured: string | undefined, dataDir: string): string {
  return resolveSecret(configured, dataDir, { file: 'webhook-secret.key', generate: () => `whsec_${randomBytes(32).toString('base64')}` });
}
