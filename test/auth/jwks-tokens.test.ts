import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnauthenticatedError, UserTokens } from '../../src/auth/user-tokens.js';

/** An issuer's JWKS endpoint on loopback, whose keys the test changes. */
async function jwksServer(): Promise<{ url: string; keys: JWK[]; fetches: () => number; close: () => Promise<void> }> {
  const keys: JWK[] = [];
  let fetches = 0;
  const server: Server = createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/.well-known/jwks.json`, keys, fetches: () => fetches, close: () => new Promise((r) => server.close(() => r())) };
}

async function issuerKey(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

const sign = (key: CryptoKey | Uint8Array, kid: string, alg = 'ES256', sub = 'alice') =>
  new SignJWT({ role: 'user' }).setProtectedHeader({ alg, kid }).setSubject(sub).setIssuedAt().setExpirationTime('10m').sign(key);

describe('bearer tokens from an external issuer (AUTH_JWKS_URL)', () => {
  let issuer: Awaited<ReturnType<typeof jwksServer>>;
  beforeAll(async () => {
    issuer = await jwksServer();
  });
  afterAll(() => issuer?.close());

  it('accepts a token signed with a key of the JWKS, and refuses other keys and an HS256 token made with the local secret', async () => {
    const current = await issuerKey('k1');
    const stranger = await issuerKey('k1'); // same kid, another key: the signature decides
    issuer.keys.splice(0, issuer.keys.length, current.jwk);
    const secret = new TextEncoder().encode('local-secret-local-secret-local-secret-0123');
    const tokens = new UserTokens({ key: secret, jwksUrl: issuer.url });

    const credential = await tokens.fromHeader(`Bearer ${await sign(current.privateKey, 'k1')}`);
    expect(credential.actor).toEqual({ id: 'alice', role: 'user' });
    await expect(tokens.fromHeader(`Bearer ${await sign(stranger.privateKey, 'k1', 'ES256', 'mallory')}`)).rejects.toBeInstanceOf(UnauthenticatedError);
    // With a JWKS configured, a token signed with AUTH_SECRET's key is not one of the issuer's.
    await expect(tokens.fromHeader(`Bearer ${await sign(secret, 'k1', 'HS256', 'mallory')}`)).rejects.toThrow(/not valid/);
  });

  it('stops honouring a cached token once the issuer withdraws its key (within jwksRefreshMs)', async () => {
    const withdrawn = await issuerKey('old');
    const kept = await issuerKey('new');
    issuer.keys.splice(0, issuer.keys.length, withdrawn.jwk, kept.jwk);
    const tokens = new UserTokens({ key: new Uint8Array(32), jwksUrl: issuer.url, jwksRefreshMs: 300 });
    const oldToken = `Bearer ${await sign(withdrawn.privateKey, 'old')}`;
    const newToken = `Bearer ${await sign(kept.privateKey, 'new', 'ES256', 'bob')}`;

    await tokens.fromHeader(oldToken);
    await tokens.fromHeader(newToken);
    // Verified once: the request path takes both from the cache, without asking the issuer again.
    const fetched = issuer.fetches();
    expect(tokens.knownFromHeader(oldToken)?.actor.id).toBe('alice');
    await tokens.fromHeader(oldToken);
    expect(issuer.fetches()).toBe(fetched);

    issuer.keys.splice(0, 1); // the issuer withdraws "old" (compromised)
    await new Promise((r) => setTimeout(r, 400));
    expect(tokens.knownFromHeader(oldToken)).toBeUndefined();
    await expect(tokens.fromHeader(oldToken)).rejects.toBeInstanceOf(UnauthenticatedError);
    // Its sibling signed with the kept key still works (verified again against the fresh JWKS).
    expect((await tokens.fromHeader(newToken)).actor.id).toBe('bob');
    expect(issuer.fetches()).toBeGreaterThan(fetched);
  });
});
