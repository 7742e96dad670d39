/**
 * The project is Apache-2.0 (LICENSE). Every package npm installs, as
 * package-lock.json records it, carries a licence that may be combined with
 * and shipped under Apache-2.0 (permissive; no copyleft), so a dependency
 * change that brings in, say, GPL or AGPL code fails here first.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";

const ROOT = new URL("../", import.meta.url).pathname;
const PERMISSIVE = new Set(["MIT", "ISC", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "Python-2.0", "Unlicense", "BlueOak-1.0.0", "CC0-1.0"]);

test("LICENSE is the Apache License 2.0, and package.json says so", () => {
  const text = readFileSync(`${ROOT}LICENSE`, "utf8");
  expect(text).toContain("Apache License");
  expect(text).toContain("Version 2.0, January 2004");
  expect(text).toContain("END OF TERMS AND CONDITIONS");
  expect(JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")).license).toBe("Apache-2.0");
});

test("every locked dependency has a permissive licence compatible with Apache-2.0", () => {
  const lock = JSON.parse(readFileSync(`${ROOT}package-lock.json`, "utf8")) as { packages: Record<string, { license?: string }> };
  const odd = Object.entries(lock.packages)
    .filter(([path]) => path !== "")
    .filter(([, p]) => !(p.license ?? "").split(/ OR | AND |[()]/).filter(Boolean).every((l) => PERMISSIVE.has(l.trim())))
    .map(([path, p]) => `${path}: ${p.license ?? "no licence recorded"}`);
  expect(odd).toEqual([]);
});
