/**
 * `spec.features.domains` entries read the way the operator reads them
 * (SPEC 3.2, 3.3): github.com/miekg/dns `IsDomainName` on the entry with its
 * scheme added, and the host as Go's `url.Parse` returns it. Written from
 * those functions' rules, not from WHATWG URL, which lowercases and punycodes
 * hosts (`Bücher.example` would become `xn--bcher-kva.example`, a
 * MINIO_DOMAIN the operator never writes).
 */

const MAX_NAME = 256; // octets of the fully qualified name, its trailing dot included
const MAX_LABEL = 63;
const utf8 = new TextEncoder();

const isDigit = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x39;

/** Whether the last byte is a dot not escaped by a backslash (an even run of `\` before it). */
function endsInDot(b: Uint8Array): boolean {
  if (b[b.length - 1] !== 0x2e) return false;
  let slashes = 0;
  for (let i = b.length - 2; i >= 0 && b[i] === 0x5c; i--) slashes++;
  return slashes % 2 === 0;
}

/**
 * miekg/dns `IsDomainName`: deliberately liberal about which bytes may
 * appear (DNS is 8-bit), strict about structure. Counted in UTF-8 octets:
 * no empty label and no leading dot (except the root, "."), labels of 1 to
 * 63 octets, at most 255 octets in all (256 with the trailing dot). `\X`
 * counts as the one octet X (so `\.` is a dot inside a label) and `\DDD` as
 * one octet; a trailing lone `\` is invalid.
 */
export function isDomainName(name: string): boolean {
  if (name === "") return false;
  const raw = utf8.encode(name);
  const b = endsInDot(raw) ? raw : Uint8Array.from([...raw, 0x2e]);
  let wire = 0; // length octet + label octets of the labels so far
  let begin = 0; // where the current label starts, moved on by escapes so i - begin counts octets
  let wasDot = false;
  let escaped = false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === 0x5c) {
      escaped = !escaped;
      if (wire + 1 > MAX_NAME) return false;
      const ddd = isDigit(b[i + 1]) && isDigit(b[i + 2]) && isDigit(b[i + 3]);
      i += ddd ? 3 : 1;
      begin += ddd ? 3 : 1;
      wasDot = false;
    } else if (c === 0x2e) {
      escaped = false;
      if (i === 0 && b.length > 1) return false;
      if (wasDot) return false;
      wasDot = true;
      const label = i - begin;
      if (label > MAX_LABEL) return false;
      wire += 1 + label;
      if (wire > MAX_NAME) return false;
      begin = i + 1;
    } else {
      escaped = false;
      wasDot = false;
    }
  }
  return !escaped;
}

// What Go's url.Parse accepts in a host (port cut off): letters, digits, unreserved marks, the
// sub-delimiters and `]<>"`; `[` only opens an IP literal. Bytes above 0x7f pass as written
// (Go does not punycode). `%` escapes are refused outright: Go would decode them, and no DNS
// name needs one.
const GO_HOST = /^[A-Za-z0-9\-._~!$&'()*+,;=\]<>"\u0080-\u{10ffff}]*$/u;
const GO_USERINFO = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%]*$/;
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The host of `scheme://authority/...` as the operator takes it: Go's
 * `url.Parse(u).Host` cut at its first `:`, case and Unicode untouched.
 * Undefined where Go's url.Parse fails (control bytes, a bad port, a second
 * colon, a byte not allowed in a host, a malformed `%` escape) and, stricter
 * than the operator, where it would write no DNS name at all: an empty host
 * or an IP literal (`[::1]`, which the operator would turn into `[`).
 */
export function urlHost(url: string): string | undefined {
  const start = url.indexOf("://");
  if (start < 0 || CONTROL.test(url)) return undefined;
  const [beforeFragment = "", fragment = ""] = splitOnce(url.slice(start + 3), "#");
  const [rest = ""] = splitOnce(beforeFragment, "?");
  const slash = rest.indexOf("/");
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? "" : rest.slice(slash);
  if (BAD_ESCAPE.test(path) || BAD_ESCAPE.test(fragment)) return undefined;
  const at = authority.lastIndexOf("@");
  const userinfo = at < 0 ? "" : authority.slice(0, at);
  if (!GO_USERINFO.test(userinfo) || BAD_ESCAPE.test(userinfo)) return undefined;
  const hostPort = authority.slice(at + 1);
  // Current Go allows one colon in an http(s) host, before the port.
  const [host = "", port, extra] = hostPort.split(":");
  if (extra !== undefined || (port !== undefined && !/^\d*$/.test(port))) return undefined;
  if (!GO_HOST.test(host)) return undefined;
  return host || undefined;
}

function splitOnce(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ""] : [s.slice(0, i), s.slice(i + 1)];
}
