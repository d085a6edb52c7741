import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, SignJWT, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import type { Actor, Role } from '../actor.js';
import { QuireError } from '../errors.js';
import type { TokenRevocations } from './token-revocations.js';

export class UnauthenticatedError extends QuireError {
  readonly code = 'UNAUTHENTICATED';
  constructor(message = 'a valid bearer token is required') {
    super(message);
    this.name = 'UnauthenticatedError';
  }
}

const Claims = z.object({
  sub: z.string().min(1).max(200),
  role: z.enum(['user', 'auditor', 'admin']).default('user'),
  jti: z.string().min(1).max(200).optional(),
  iat: z.number().optional(),
  /** The operator lets this client send any GraphQL document, also under PERSISTED_DOCUMENTS=require. */
  arbitrary_documents: z.boolean().optional(),
});

/** A verified bearer token: who it names, and what its expiry and revocation are checked by. */
export interface Credential {
  actor: Actor;
  /** The token's id (`quire token` always sets one; a token from an external issuer may not have one). */
  jti?: string | undefined;
  issuedAtMs?: number | undefined;
  expiresAtMs: number;
  /** The token's `arbitrary_documents` claim (src/api/graphql/persisted-documents.ts). */
  arbitraryDocuments?: boolean;
}

export interface UserTokenOptions {
  /** HS256 key (derived from AUTH_SECRET); also what `quire token` signs with. */
  key: Uint8Array;
  /** When set, tokens are checked against this JWKS (RS256/ES256…) instead. */
  jwksUrl?: string;
  /**
   * With a JWKS: how long its keys, and a token verified with them, are trusted before the JWKS
   * is asked again (default a minute) — a key the issuer removes stops working within about this.
   */
  jwksRefreshMs?: number;
  issuer?: string;
  audience?: string;
  /** Revoked tokens, checked on every verification (cached or not). Absent only in the CLI's signer. */
  revocations?: TokenRevocations;
}

// The scheme is case-insensitive (RFC 9110 §11.1): `bearer x` is the same credential as `Bearer x`.
const BEARER = /^(?:Bearer\s+)?([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/i;

/** The JWT of an `Authorization: Bearer <jwt>` header (or a bare token), or undefined. */
function bearerToken(header: string | undefined | null): string | undefined {
  return header ? BEARER.exec(header.trim())?.[1] : undefined;
}

const DEFAULT_JWKS_REFRESH_MS = 60_000;

/**
 * Bearer tokens: JWTs with `sub`, `role`, `jti`, a required `exp` and an optional
 * `arbitrary_documents`, checked with jose. A token that verified is remembered (by its exact
 * text, until its own expiry; with a JWKS, until the keys are re-read): clients send the same
 * token with every request, and the signature check was a tenth of a request's CPU. Revocation is
 * checked after the cache, on every call.
 */
export class UserTokens {
  private readonly jwks: JWTVerifyGetKey | undefined;
  private readonly verified: LRUCache<string, Credential>;

  constructor(private readonly options: UserTokenOptions) {
    const refreshMs = options.jwksRefreshMs ?? DEFAULT_JWKS_REFRESH_MS;
    this.jwks = options.jwksUrl
      ? createRemoteJWKSet(new URL(options.jwksUrl), { cacheMaxAge: refreshMs, cooldownDuration: Math.min(30_000, refreshMs) })
      : undefined;
    // HS256 tokens are remembered until their own expiry; JWKS ones only until the keys are asked
    // again, so a key the issuer withdrew (compromised) is not honoured from this cache for hours.
    this.verified = new LRUCache<string, Credential>({ max: 10_000, ...(this.jwks ? { ttl: refreshMs } : {}) });
  }

  async verify(token: string): Promise<Credential> {
    const credential = await this.verifySignature(token);
    if (this.options.revocations) {
      await this.options.revocations.ready();
      if (this.isRevoked(credential)) throw new UnauthenticatedError('the bearer token has been revoked');
    }
    return credential;
  }

  isRevoked(credential: Credential): boolean {
    return this.options.revocations?.isRevoked({ subject: credential.actor.id, jti: credential.jti, issuedAtMs: credential.issuedAtMs }) ?? false;
  }

  /** Calls `listener` whenever revocations change (open subscriptions re-check their token); returns the unsubscribe function. */
  onRevocation(listener: () => void): () => void {
    return this.options.revocations?.onChange(listener) ?? (() => {});
  }

  private async verifySignature(token: string): Promise<Credential> {
    const known = this.verified.get(token);
    if (known) {
      if (known.expiresAtMs > Date.now()) return known;
      this.verified.delete(token);
      throw new UnauthenticatedError('the bearer token has expired');
    }
    try {
      const verifyOptions = {
        requiredClaims: ['exp', 'sub'],
        ...(this.options.issuer ? { issuer: this.options.issuer } : {}),
        ...(this.options.audience ? { audience: this.options.audience } : {}),
      };
      const { payload } = this.jwks
        ? await jwtVerify(token, this.jwks, verifyOptions)
        : await jwtVerify(token, this.options.key, { ...verifyOptions, algorithms: ['HS256'] });
      const claims = Claims.parse(payload);
      const credential: Credential = {
        actor: { id: claims.sub, role: claims.role },
        jti: claims.jti,
        issuedAtMs: claims.iat === undefined ? undefined : claims.iat * 1000,
        expiresAtMs: (payload.exp as number) * 1000,
        ...(claims.arbitrary_documents ? { arbitraryDocuments: true } : {}),
      };
      this.verified.set(token, credential);
      return credential;
    } catch (err) {
      throw new UnauthenticatedError(err instanceof errors.JWTExpired ? 'the bearer token has expired' : 'the bearer token is not valid');
    }
  }

  /** Reads `Authorization: Bearer <jwt>` (or a bare token, as graphql-ws connectionParams may carry). */
  async fromHeader(header: string | undefined | null): Promise<Credential> {
    const token = bearerToken(header);
    if (token === undefined) throw new UnauthenticatedError();
    return this.verify(token);
  }

  /**
   * The request path's fast path, without a promise: the credential of a token that verified
   * before, has not expired and is not revoked (once the revocations were read). Undefined
   * otherwise — then fromHeader decides, and says why a token is refused.
   */
  knownFromHeader(header: string | undefined | null): Credential | undefined {
    const token = bearerToken(header);
    const known = token === undefined ? undefined : this.verified.get(token);
    if (!known || known.expiresAtMs <= Date.now()) return undefined;
    const { revocations } = this.options;
    if (revocations && (!revocations.isReady || this.isRevoked(known))) return undefined;
    return known;
  }

  /** Mints an HS256 token (the `quire token` command, tests). */
  async sign(actor: { id: string; role: Role }, ttlSeconds: number, options: { arbitraryDocuments?: boolean } = {}): Promise<string> {
    let jwt = new SignJWT({ role: actor.role, ...(options.arbitraryDocuments ? { arbitrary_documents: true } : {}) })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(actor.id)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds);
    if (this.options.issuer) jwt = jwt.setIssuer(this.options.issuer);
    if (this.options.audience) jwt = jwt.setAudience(this.options.audience);
    return jwt.sign(this.options.key);
  }
}
