/**
 * Checks for flag values (SPEC 2: "checked before anything starts"). Each
 * returns the reason a value is refused, or undefined when it is fine, so the
 * parser can name the flag in one usage error before any server or request
 * is started.
 */
import { isLoopbackHost, parseAddress } from "../runtime/index.ts";

export type ValueCheck = (value: string) => string | undefined;

export const checkAddress: ValueCheck = (value) => {
  try {
    parseAddress(value);
    return undefined;
  } catch {
    return "want HOST:PORT, [IPv6]:PORT or :PORT with a port from 0 to 65535";
  }
};

export const checkHttpUrl: ValueCheck = (value) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "not a URL (want http://HOST[:PORT] or https://HOST[:PORT])";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `scheme ${url.protocol.slice(0, -1)} is not http or https`;
  if (!url.hostname) return "the URL has no host";
  if (url.username || url.password) return "the URL must not carry credentials";
  return undefined;
};

/** Kubernetes namespaces are DNS-1123 labels. */
export const checkNamespace: ValueCheck = (value) =>
  value.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value)
    ? undefined
    : "not a valid namespace (a DNS-1123 label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit)";

export const checkDuration: ValueCheck = (value) =>
  parseDuration(value) === undefined ? "not a duration (e.g. 60s, 2m, 1m30s, 500ms, 0)" : undefined;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration subset that people write: `0`, or number+unit groups (ms, s, m, h). */
export function parseDuration(value: string): number | undefined {
  if (value === "0") return 0;
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(value)) return undefined;
  let total = 0;
  for (const [, n, , unit] of value.matchAll(/(\d+(\.\d+)?)(ms|s|m|h)/g)) total += Number(n) * UNIT_MS[unit!]!;
  return total;
}

/**
 * Loopback only: 127.0.0.0/8, ::1 and `localhost`. An empty host (`:4222`:
 * every IPv4 and IPv6 address), 0.0.0.0 or [::] is every interface.
 */
export function isLoopbackAddress(value: string): boolean {
  return isLoopbackHost(parseAddress(value).hostname);
}
