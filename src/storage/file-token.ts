import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { QuireError } from '../errors.js';

/** Where a signed /files link points: a machine's (or, before machines, a region's) volume, or the disk object store. */
export interface FileClaims {
  reportId: string;
  key: string;
  /** `volume`: the file is on `machine`'s volume in `region` (any machine of `region` when machine is null); `object`: in the disk object store. */
  location: 'volume' | 'object';
  region: string | null;
  machine: string | null;
  sha256: string;
  filename: string;
}

export class InvalidFileTokenError extends QuireError {
  readonly code = 'FORBIDDEN';
  constructor(readonly reason: 'expired' | 'invalid') {
    super(reason === 'expired' ? 'this download link has expired' : 'this download link is not valid');
    this.name = 'InvalidFileTokenError';
  }
}

const AUDIENCE = 'quire:file';
const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256' })).toString('base64url');
const Claims = z.object({
  sub: z.string(),
  key: z.string(),
  loc: z.enum(['volume', 'object']),
  rg: z.string().nullable(),
  // Absent in links signed before machines: region-level.
  mc: z.string().nullable().optional(),
  h: z.string(),
  fn: z.string(),
  exp: z.number(),
});
const Signed = Claims.extend({ aud: z.literal(AUDIENCE) });

/** Signs and checks the short-lived links quire serves itself at /files/<token> (HS256 JWTs). */
export class FileTokens {
  constructor(private readonly key: Uint8Array) {}

  /**
   * The same compact HS256 JWT jose's SignJWT writes (same header, claims in the same order), with
   * node:crypto's synchronous HMAC: jose imports the key and signs through WebCrypto on every call,
   * ~10% of a createDownloadUrl request's CPU.
   */
  async sign(claims: FileClaims, ttlSeconds: number): Promise<{ token: string; expiresAt: Date }> {
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + ttlSeconds;
    const payload = { key: claims.key, loc: claims.location, rg: claims.region, mc: claims.machine, h: claims.sha256, fn: claims.filename, sub: claims.reportId, aud: AUDIENCE, iat, exp };
    const signingInput = `${HEADER}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
    const signature = createHmac('sha256', this.key).update(signingInput).digest('base64url');
    return { token: `${signingInput}.${signature}`, expiresAt: new Date(exp * 1000) };
  }

  /**
   * Checks a link this class signed: exactly the header it writes (HS256, nothing else: no `alg`
   * choice, no `crit`), the HMAC compared in constant time, the audience, and `exp` (expired from
   * that second on, as jose has it). node:crypto rather than jose's WebCrypto path, which cost
   * /files most of its CPU on small files (bench/README.md).
   */
  async verify(token: string): Promise<FileClaims & { expiresAt: Date }> {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== HEADER) throw new InvalidFileTokenError('invalid');
    const expected = createHmac('sha256', this.key).update(`${parts[0]}.${parts[1]}`).digest();
    const given = Buffer.from(parts[2]!, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new InvalidFileTokenError('invalid');
    let payload: unknown;
    try {
      payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    } catch {
      throw new InvalidFileTokenError('invalid');
    }
    const parsed = Signed.safeParse(payload);
    if (!parsed.success) throw new InvalidFileTokenError('invalid');
    const c = parsed.data;
    if (Math.floor(Date.now() / 1000) >= c.exp) throw new InvalidFileTokenError('expired');
    return { reportId: c.sub, key: c.key, location: c.loc, region: c.rg, machine: c.mc ?? null, sha256: c.h, filename: c.fn, expiresAt: new Date(c.exp * 1000) };
  }
}
