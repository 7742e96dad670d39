/**
 * The domain rules of SPEC 3.2/3.3 at their edges: miekg/dns `IsDomainName`
 * and the host Go's url.Parse yields. Every expectation here was also checked
 * against the Go functions themselves (miekg/dns v1.1.64, the operator's
 * version, and Go's net/url).
 */
import { describe, expect, test } from "bun:test";
import { isDomainName, urlHost } from "../src/tenant/domain-name.ts";

/** A name of exactly `octets` octets, no trailing dot: labels of 63 `y` and a last one of 1 to 63. */
function nameOf(octets: number): string {
  let name = "";
  while (octets - name.length > 64) name += `${"y".repeat(63)}.`;
  const left = octets - name.length;
  name += left === 64 ? `${"y".repeat(62)}.y` : "y".repeat(left);
  expect(name.length).toBe(octets);
  expect(name).not.toMatch(/\.\.|\.$/);
  return name;
}

describe("isDomainName (miekg/dns)", () => {
  test.each([
    ["a plain name", "s3.example.com", true],
    ["a trailing dot", "s3.example.com.", true],
    ["the root", ".", true],
    ["empty", "", false],
    ["an empty label", "minio..example.com", false],
    ["a leading dot", ".example.com", false],
    ["two trailing dots", "example.com..", false],
    // Liberal about bytes: DNS is 8-bit, so hyphens, spaces and the URL's own `:` and `/` pass.
    ["hyphens anywhere", "-a-.-b-", true],
    ["a URL with port and path", "https://s3.example.com:9000/path", true],
  ])("%s: %j", (_, name, ok) => {
    expect(isDomainName(name)).toBe(ok);
  });

  test("labels of 63 octets pass, 64 fail, wherever the label is", () => {
    const l63 = "x".repeat(63);
    const l64 = "x".repeat(64);
    expect(isDomainName(l63)).toBe(true);
    expect(isDomainName(`${l63}.example.com`)).toBe(true);
    expect(isDomainName(`s3.${l63}.com`)).toBe(true);
    expect(isDomainName(`s3.example.${l63}`)).toBe(true);
    expect(isDomainName(l64)).toBe(false);
    expect(isDomainName(`${l64}.example.com`)).toBe(false);
    expect(isDomainName(`s3.${l64}.com`)).toBe(false);
    expect(isDomainName(`s3.example.${l64}.`)).toBe(false);
  });

  test("multi-byte characters count in octets: 31 × ü + 1 (63 octets) pass, 32 × ü (64) fail", () => {
    expect(isDomainName(`s3.${"ü".repeat(31)}a.com`)).toBe(true);
    expect(isDomainName(`s3.${"ü".repeat(32)}.com`)).toBe(false);
    expect(isDomainName(`s3.${"€".repeat(21)}.com`)).toBe(true); // 63 octets in 21 characters
    expect(isDomainName(`s3.${"€".repeat(22)}.com`)).toBe(false);
  });

  test("at most 255 octets in all, 256 with the trailing dot", () => {
    expect(isDomainName(nameOf(255))).toBe(true);
    expect(isDomainName(`${nameOf(255)}.`)).toBe(true);
    expect(isDomainName(nameOf(256))).toBe(false);
    expect(isDomainName(`${nameOf(256)}.`)).toBe(false);
    // Counted in octets too: 254 ASCII + one 2-octet character is 256.
    expect(isDomainName(`${nameOf(253)}.ü`)).toBe(false);
    expect(isDomainName(`${nameOf(252)}.ü`)).toBe(true);
  });

  test("`\\.` is a dot inside a label, not a separator", () => {
    expect(isDomainName("a\\.b")).toBe(true);
    expect(isDomainName("a\\..b")).toBe(true); // label "a." then "b": no empty label
    expect(isDomainName("a..b")).toBe(false);
    expect(isDomainName("a\\.")).toBe(true); // the escaped dot is not the trailing one
    expect(isDomainName(`a\\.${"x".repeat(61)}`)).toBe(true); // `\.` is one octet: 63
    expect(isDomainName(`a\\.${"x".repeat(62)}`)).toBe(false); // 64
  });

  test("`\\DDD` is one octet; any other `\\X` is X; a lone trailing `\\` fails", () => {
    expect(isDomainName("\\065".repeat(63))).toBe(true); // 63 octets written in 252 characters
    expect(isDomainName("\\065".repeat(64))).toBe(false);
    expect(isDomainName("a\\999")).toBe(true); // three digits, whatever their value
    expect(isDomainName(`\\12${"x".repeat(60)}`)).toBe(true); // `\1` then "2": 62 octets
    expect(isDomainName(`\\12${"x".repeat(62)}`)).toBe(false); // 64
    expect(isDomainName("a\\")).toBe(false);
    expect(isDomainName("a\\\\")).toBe(true); // an escaped backslash
    // An escaped backslash, then a `\` that escapes the dot the function itself appends: accepted.
    expect(isDomainName("a\\\\\\")).toBe(true);
    expect(isDomainName("a\\\\.")).toBe(true); // trailing dot after an escaped backslash
  });
});

describe("urlHost (Go's url.Parse, as the operator uses it)", () => {
  test.each([
    ["port and path dropped", "https://s3.example.com:9000/path?q#f", "s3.example.com"],
    ["case kept", "https://S3.Example.COM", "S3.Example.COM"],
    ["Unicode kept, not punycoded", "https://Bücher.example", "Bücher.example"],
    ["a trailing dot kept", "http://s3.example.com.", "s3.example.com."],
    ["user info dropped", "https://user:pa55@s3.example.com", "s3.example.com"],
    ["an empty port", "https://s3.example.com:", "s3.example.com"],
  ])("%s: %j", (_, url, host) => {
    expect(urlHost(url)).toBe(host);
  });

  test.each([
    ["a space (Go: invalid character in host)", "https://bad domain.com"],
    ["a backslash escape in the host", "https://s3\\.example.com"],
    ["a tab (Go: control character)", "https://a\tb.com"],
    ["a port that is not a number", "https://s3.example.com:http"],
    ["two colons", "https://a:b:9000"],
    ["a bad % escape in the path", "https://s3.example.com/%zz"],
    ["an empty host", "https://"],
    ["an empty host with a port", "https://:9000"],
    ["an IP literal", "https://[::1]:9000"],
    ["an unclosed IP literal", "http://[bad"],
    ["a % escape in the host", "https://s3%2eexample.com"],
  ])("%s: undefined", (_, url) => {
    expect(urlHost(url)).toBeUndefined();
  });
});
