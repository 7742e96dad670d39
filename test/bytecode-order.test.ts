/**
 * The committed bytecode layout profiles (scripts/bytecode-order/) still
 * describe the code: a fresh recording of each command's run, from this
 * tree, must be covered by the committed profile. A stale profile does not
 * break the binary, it only makes it bigger in memory (the functions it
 * misses are laid out after the recorded ones), so without this check the
 * idle RSS would creep back up unnoticed. When it fails: run
 * `npm run profile` and commit scripts/bytecode-order/.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BYTECODE_ORDER_DIR, BYTECODE_ORDER_PROFILES } from "../scripts/build-flags.ts";

const ROOT = resolve(import.meta.dir, "..");
const fresh = mkdtempSync(join(tmpdir(), "bytecode-order-test-"));
afterAll(() => rmSync(fresh, { recursive: true, force: true }));

/** The function hashes of a profile (its first line is the format version). */
const hashes = (file: string) => new Set(readFileSync(file, "utf8").trim().split("\n").slice(1));

/** Measured: a one-line change in one module leaves 99.9% of a recording matched; an old profile falls well below this. */
const MIN_COVERAGE = 0.95;

test("the committed bytecode order profiles cover a fresh recording of each command", () => {
  const r = Bun.spawnSync([process.execPath, "scripts/record-bytecode-order.ts", "--out", fresh], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  expect(r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
  for (const name of BYTECODE_ORDER_PROFILES) {
    const now = hashes(join(fresh, `${name}.order`));
    const committed = hashes(join(BYTECODE_ORDER_DIR, `${name}.order`));
    expect(now.size).toBeGreaterThan(1000); // a real run, not an empty file
    const covered = [...now].filter((h) => committed.has(h)).length / now.size;
    expect({ profile: name, covered: covered >= MIN_COVERAGE ? "enough" : `${(covered * 100).toFixed(1)}%: run npm run profile` }).toEqual({ profile: name, covered: "enough" });
  }
}, 120_000);
