/**
 * The string formats of our schemas. Each check returns why a string does not fit
 * (undefined when it does), so ajv's format errors carry the parser's own words.
 */
import { parseCommunity, parseCommunityValue } from './community.ts';
import { parseDuration } from './duration.ts';
import { isParseError, parseAddressRange, parseCIDR, parseIP, parseIPv4, parseIPv6 } from './net.ts';

type FormatCheck = (text: string) => string | undefined;

function errorOf(result: unknown): string | undefined {
  return isParseError(result) ? result.error : undefined;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export const FORMAT_CHECKS: Readonly<Record<string, FormatCheck>> = {
  ip: (text) => errorOf(parseIP(text)),
  ipv4: (text) => errorOf(parseIPv4(text)),
  ipv6: (text) => errorOf(parseIPv6(text)),
  cidr: (text) => errorOf(parseCIDR(text)),
  'ip-range': (text) => errorOf(parseAddressRange(text)),
  'go-duration': (text) => errorOf(parseDuration(text)),
  'bgp-community': (text) => errorOf(parseCommunity(text)),
  'bgp-community-value': (text) => errorOf(parseCommunityValue(text)),
  'date-time': (text) =>
    RFC3339.test(text) && !Number.isNaN(Date.parse(text)) ? undefined : 'not an RFC 3339 date-time (2006-01-02T15:04:05Z)',
};
