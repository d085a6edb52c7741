import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Where a completion webhook may go (SSRF): https only in production (http too elsewhere, for
 * local receivers), a host on the configured allow-list, no credentials in the URL, and in
 * production no private, loopback, link-local or otherwise non-public address — checked when the
 * report is requested and again, on the address actually connected to, at every delivery (DNS
 * rebinding: a name that resolved to a public address yesterday may point inside today).
 */
export interface CallbackPolicy {
  /** Host names, exact or `*.example.com` (its subdomains, not itself); empty = no callbacks. */
  allowedHosts: readonly string[];
  production: boolean;
}

/** Why a callback URL is refused (the caller's input: it becomes InvalidParamsError at the edge). */
export class CallbackUrlRefusedError extends Error {
  override readonly name = 'CallbackUrlRefusedError';
}

const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d; then SIIT (::ffff:0:a.b.c.d), NAT64 (well-known and
  // local-use), 6to4 and Teredo: each embeds an IPv4 address not checked here, so none counts as public.
  ['::', 96],
  ['::ffff:0:0:0', 96],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv6');
}

/** False for loopback, private, link-local, CGNAT, documentation, multicast and reserved addresses (IPv4-mapped IPv6 too). */
export function isPublicAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return isPublicAddress(mapped);
  const family = isIP(address);
  if (family === 0) return false;
  return !NOT_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

function hostAllowed(host: string, allowed: readonly string[]): boolean {
  return allowed.some((entry) => (entry.startsWith('*.') ? host.endsWith(entry.slice(1)) && host.length > entry.length - 1 : host === entry));
}

/** The URL's host as connected to: lower case, IPv6 without brackets. */
export function callbackHost(url: URL): string {
  return url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
}

/** The checks that need no DNS: scheme, credentials, allow-list, and an address given literally. Throws CallbackUrlRefusedError. */
export function checkCallbackUrlShape(raw: string, policy: CallbackPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CallbackUrlRefusedError('not an absolute URL');
  }
  if (raw.length > 2048) throw new CallbackUrlRefusedError('at most 2048 characters');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && !policy.production)) {
    throw new CallbackUrlRefusedError(policy.production ? 'must be https' : 'must be https (or http outside production)');
  }
  if (url.username || url.password) throw new CallbackUrlRefusedError('must not carry credentials');
  const host = callbackHost(url);
  if (!hostAllowed(host, policy.allowedHosts)) {
    throw new CallbackUrlRefusedError(policy.allowedHosts.length === 0 ? 'callbacks are not enabled here (WEBHOOK_ALLOWED_HOSTS is empty)' : `host ${host} is not on the allow-list`);
  }
  // `localhost.` is localhost too (a fully qualified name): the check does not rely on DNS to say so.
  const name = host.replace(/\.$/, '');
  if (policy.production && (name === 'localhost' || name.endsWith('.localhost') || (isIP(host) !== 0 && !isPublicAddress(host)))) {
    throw new CallbackUrlRefusedError(`host ${host} is not a public address`);
  }
  return url;
}

/**
 * Every check, DNS included (in production a host name must resolve, and only to public
 * addresses). Returns the URL as it will be stored.
 */
export async function checkCallbackUrl(raw: string, policy: CallbackPolicy): Promise<string> {
  const url = checkCallbackUrlShape(raw, policy);
  const host = callbackHost(url);
  if (policy.production && isIP(host) === 0) {
    let addresses: { address: string }[];
    try {
      addresses = await lookup(host, { all: true });
    } catch {
      throw new CallbackUrlRefusedError(`host ${host} does not resolve`);
    }
    if (addresses.length === 0 || addresses.some((a) => !isPublicAddress(a.address))) throw new CallbackUrlRefusedError(`host ${host} resolves to an address that is not public`);
  }
  return url.toString();
}
