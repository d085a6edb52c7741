import { SignJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FileTokens, InvalidFileTokenError, type FileClaims } from '../../src/storage/file-token.js';

const key = new TextEncoder().encode('file-token-test-key-file-token-test-key');
const claims: FileClaims = { reportId: 'r-1', key: 'reports/r-1.pdf', location: 'volume', region: 'iad', machine: 'm1', sha256: 'ab'.repeat(32), filename: 'Q3 €.pdf' };

describe('FileTokens', () => {
  afterEach(() => vi.useRealTimers());

  it('writes the same token jose SignJWT writes for the same claims and time', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-03T06:00:00.400Z'));
    const { token, expiresAt } = await new FileTokens(key).sign(claims, 300);
    const exp = Math.floor(Date.now() / 1000) + 300;
    const jose = await new SignJWT({ key: claims.key, loc: claims.location, rg: claims.region, mc: claims.machine, h: claims.sha256, fn: claims.filename })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(claims.reportId)
      .setAudience('quire:file')
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(key);
    expect(token).toBe(jose);
    expect((await new FileTokens(key).verify(jose)).key).toBe(claims.key);
    expect(expiresAt.getTime()).toBe(exp * 1000);
  });

  it('verifies what it signs, object-store links included; refuses another key, a changed claim, another header or audience, an expired link', async () => {
    const tokens = new FileTokens(key);
    const { token, expiresAt } = await tokens.sign(claims, 60);
    expect(await tokens.verify(token)).toEqual({ ...claims, expiresAt });
    const object = { ...claims, location: 'object' as const, region: null, machine: null, sha256: '' };
    const signed = await tokens.sign(object, 60);
    expect(await tokens.verify(signed.token)).toEqual({ ...object, expiresAt: signed.expiresAt });

    await expect(new FileTokens(new TextEncoder().encode('another-key-another-key-another-key!')).verify(token)).rejects.toThrow(InvalidFileTokenError);
    const [h, p, s] = token.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), key: 'reports/other.pdf' })).toString('base64url');
    await expect(tokens.verify(`${h}.${forged}.${s}`)).rejects.toMatchObject({ reason: 'invalid' });

    // Only the header it writes: another algorithm, or none, is refused whatever the signature.
    const none = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
    await expect(tokens.verify(`${none}.${p}.`)).rejects.toMatchObject({ reason: 'invalid' });
    await expect(tokens.verify(`${none}.${p}.${s}`)).rejects.toMatchObject({ reason: 'invalid' });
    await expect(tokens.verify(`${h}.${p}`)).rejects.toMatchObject({ reason: 'invalid' });
    // Another audience (a user token signed with the same key would be one) is refused.
    const otherAudience = await new SignJWT({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), aud: 'quire:user' }).setProtectedHeader({ alg: 'HS256' }).sign(key);
    await expect(tokens.verify(otherAudience)).rejects.toMatchObject({ reason: 'invalid' });

    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - 3600_000);
    const old = await tokens.sign(claims, 60);
    vi.useRealTimers();
    await expect(tokens.verify(old.token)).rejects.toMatchObject({ reason: 'expired' });
    // Expired from the second of `exp` on, as jose has it.
    vi.useFakeTimers({ toFake: ['Date'] });
    const edge = await tokens.sign(claims, 10);
    vi.setSystemTime(edge.expiresAt.getTime() - 1);
    expect((await tokens.verify(edge.token)).reportId).toBe('r-1');
    vi.setSystemTime(edge.expiresAt.getTime());
    await expect(tokens.verify(edge.token)).rejects.toMatchObject({ reason: 'expired' });
  });
});
