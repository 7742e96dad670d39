/** The atomic config-file write: mode, no rewrite when unchanged, no partial reads, no stray temp files. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, rm, stat, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../src/config/atomic-write.ts";

let dir = "";
beforeAll(async () => (dir = await mkdtemp(join(tmpdir(), "atomic-"))));
afterAll(() => rm(dir, { recursive: true, force: true }));

test("writes with mode 0640, creates the directory, reports whether it wrote", async () => {
  const file = join(dir, "sub", "config.env");
  expect(await writeFileAtomic(file, "export A=\"1\"\n")).toBe(true);
  expect((await stat(file)).mode & 0o777).toBe(0o640);
  expect(await readFile(file, "utf8")).toBe('export A="1"\n');
});

test("unchanged content is not rewritten (same inode, same mtime)", async () => {
  const file = join(dir, "same.env");
  await writeFileAtomic(file, "x\n");
  const before = await stat(file);
  await Bun.sleep(5);
  expect(await writeFileAtomic(file, "x\n")).toBe(false);
  const after = await stat(file);
  expect(after.ino).toBe(before.ino);
  expect(after.mtimeMs).toBe(before.mtimeMs);
  expect(await writeFileAtomic(file, "y\n")).toBe(true);
  expect((await stat(file)).ino).not.toBe(before.ino); // replaced by rename, not rewritten in place
});

test("a concurrent reader never sees a partial or empty file", async () => {
  const file = join(dir, "race.env");
  const contents = Array.from({ length: 200 }, (_, i) => `export N="${i}"\n${"x".repeat(20_000 + i)}\n`);
  await writeFileAtomic(file, contents[0]!);
  let done = false;
  let reads = 0;
  const bad: string[] = [];
  const reader = (async () => {
    while (!done) {
      const text = await readFile(file, "utf8");
      reads++;
      if (!contents.includes(text)) bad.push(`${text.length} bytes`);
    }
  })();
  for (const c of contents) await writeFileAtomic(file, c);
  done = true;
  await reader;
  expect(reads).toBeGreaterThan(10);
  expect(bad).toEqual([]);
});

test("a failed write leaves the old file and no temp file behind", async () => {
  const sub = join(dir, "ro");
  const file = join(sub, "config.env");
  await writeFileAtomic(file, "good\n");
  await chmod(sub, 0o555);
  try {
    if (process.getuid?.() === 0) {
      // root ignores directory permissions; simulate the failure with a directory in the way instead.
      await chmod(sub, 0o755);
      const blocked = join(dir, "blocked");
      await writeFile(blocked, "not a directory");
      await expect(writeFileAtomic(join(blocked, "config.env"), "new\n")).rejects.toThrow();
    } else {
      await expect(writeFileAtomic(file, "new\n")).rejects.toThrow();
    }
  } finally {
    await chmod(sub, 0o755);
  }
  expect(await readFile(file, "utf8")).toBe("good\n");
  expect((await readdir(sub)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
});
