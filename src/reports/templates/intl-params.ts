import { z } from 'zod';

function validLocale(l: string): boolean {
  try {
    return Intl.getCanonicalLocales(l).length === 1 && Intl.NumberFormat.supportedLocalesOf(l).length === 1;
  } catch {
    return false;
  }
}

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Checked up front: a bad locale would otherwise throw inside the render worker. */
export const Locale = z.string().max(35).refine(validLocale, 'a supported BCP 47 locale such as en-US').default('en-US');
export const TimeZone = z.string().max(64).refine(validTimeZone, 'an IANA time zone such as Europe/Berlin').default('UTC');
