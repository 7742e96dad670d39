/**
 * The atomic config-file write: mode, no rewrite when unchanged, no partial
 * reads, no stray temp files; each with the sidecar's fsyncs on the thread
 * pool and with validate's blocking ones.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, rm, stat, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic as write } from "../src/config/atomic-write.ts";

const isRoot = process.getuid?.() === 0;
/** strace present and allowed to trace (a container may forbid ptrace). */
const canStrace = !!Bun.which("strace") && Bun.spawnSync(["strace", "-qq", "-o", "/dev/null", "true"]).exitCode === 0;
let dir = "";
beforeAll(async () => (dir = await mkdtemp(join(tmpdir(), "atomic-"))));
afterAll(() => rm(dir, { recursive: true, force: true }));

for (const blockingFsync of [false, true]) {
  const flavour = blockingFsync ? "blocking" : "pooled";
  const writeFileAtomic = (path: string, content: string) => write(path, content, { blockingFsync });
  describe(`${flavour} fsyncs`, () => {
    test("writes with mode 0600, creates the directory, reports whether it wrote", async () => {
      const file = join(dir, `sub-${flavour}`, "config.env");
      expect(await writeFileAtomic(file, "export A=\"1\"\n")).toBe(true);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(await readFile(file, "utf8")).toBe('export A="1"\n');
    });

    test("unchanged content is not rewritten (same inode, same mtime)", async () => {
      const file = join(dir, `same.env-${flavour}`);
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

    test("a concurrent reader (another process) never sees a partial or empty file", async () => {
      const file = join(dir, `race.env-${flavour}`);
      const contents = Array.from({ length: 200 }, (_, i) => `export N="${i}"\n${"x".repeat(20_000 + i)}\n`);
      await writeFileAtomic(file, contents[0]!);
      // The reader runs in a process of its own, so blocking writes race it too. Each content
      // starts with its number and has a length of its own: a torn read shows in its length.
      const script = join(dir, `reader-${flavour}.js`);
      await writeFile(
        script,
        `const fs = require("node:fs");
        const file = process.argv[2];
        let reads = 0, bad = 0;
        while (!fs.existsSync(file + ".stop")) {
          const text = fs.readFileSync(file, "utf8");
          const n = Number(/^export N="(\\d+)"/.exec(text)?.[1]);
          reads++;
          if (!(n >= 0) || text.length !== 12 + String(n).length + 20001 + n) bad++;
        }
        console.log(JSON.stringify({ reads, bad }));`,
      );
      const reader = Bun.spawn([process.execPath, script, file], { stdout: "pipe", stderr: "inherit" });
      await Bun.sleep(100); // the reader is reading
      for (const c of contents) await writeFileAtomic(file, c);
      await writeFile(`${file}.stop`, "");
      const { reads, bad } = JSON.parse(await new Response(reader.stdout).text());
      expect(await reader.exited).toBe(0);
      expect(reads).toBeGreaterThan(10);
      expect(bad).toBe(0);
    });

    test.skipIf(!canStrace)("the content is on disk before it replaces the old file: fsync, rename, fsync of the directory (SPEC 3), traced", async () => {
      const sub = join(dir, `traced-${flavour}`);
      const script = join(dir, `traced-${flavour}.ts`);
      const trace = join(dir, `traced-${flavour}.strace`);
      await writeFile(
        script,
        `import { writeFileAtomic } from ${JSON.stringify(new URL("../src/config/atomic-write.ts", import.meta.url).pathname)};
    await writeFileAtomic(${JSON.stringify(join(sub, "config.env"))}, "export A=\\"1\\"\\n", { blockingFsync: ${blockingFsync} });`,
      );
      const child = Bun.spawnSync(["strace", "-f", "-qq", "-e", "trace=openat,fsync,fdatasync,rename,renameat,renameat2", "-o", trace, process.execPath, script], { stderr: "pipe" });
      expect(child.stderr.toString()).toBe("");
      expect(child.exitCode).toBe(0);
      // "<tid> <call>(<args>) = <result>": keep the calls on this write's files, as [tid, call, fd or path].
      const calls: [string, string, string][] = [];
      const fdTarget = new Map<string, string>();
      for (const line of (await readFile(trace, "utf8")).split("\n")) {
        const m = /^(\d+) +(\w+)\((.*)\) += (-?\d+)/.exec(line);
        if (!m) continue;
        const [, tid, call, args, ret] = m as unknown as [string, string, string, string, string];
        const path = /"([^"]+)"/.exec(args)?.[1] ?? "";
        const ours = path === sub || path.startsWith(`${sub}/`);
        if (call === "openat" && ours && Number(ret) >= 0) {
          fdTarget.set(ret, path === sub ? "dir" : "temp file");
          calls.push([tid, "open", fdTarget.get(ret)!]);
        } else if (call.startsWith("rename") && ours) calls.push([tid, "rename", ""]);
        else if (/sync$/.test(call) && fdTarget.has(args)) calls.push([tid, call, fdTarget.get(args)!]);
      }
      expect(calls.map(([, call, what]) => `${call} ${what}`.trim())).toEqual(["open temp file", "fsync temp file", "rename", "open dir", "fsync dir"]);
      // Blocking fsyncs run on the main thread; pooled ones never do, so a slow disk cannot stall the probe loop.
      const main = calls[0]![0];
      const fsyncThreads = calls.filter(([, call]) => call === "fsync").map(([tid]) => tid === main);
      expect(fsyncThreads).toEqual(blockingFsync ? [true, true] : [false, false]);
    });

    test.skipIf(isRoot)("a read-only directory: the write fails, the old file stays", async () => {
      // Root ignores directory permissions, hence the full-filesystem tests below.
      const sub = join(dir, `ro-${flavour}`);
      const file = join(sub, "config.env");
      await writeFileAtomic(file, "good\n");
      await chmod(sub, 0o555);
      try {
        await expect(writeFileAtomic(file, "new\n")).rejects.toThrow();
      } finally {
        await chmod(sub, 0o755);
      }
      expect(await readFile(file, "utf8")).toBe("good\n");
      expect((await readdir(sub)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    });

    // Both failures below happen while the temp file is being written, so they run the
    // path that unlinks it: without the unlink the half-written file stays behind.
    const tempFiles = async (d: string) => (await readdir(d)).filter((f) => f.endsWith(".tmp"));

    test.skipIf(!isRoot)("as root: a write that fills the filesystem (a 64 KiB tmpfs) fails, the old file stays, the temp file is removed", async () => {
      const mnt = await mkdtemp(join(tmpdir(), "atomic-full-"));
      const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "atomic-write-test", mnt], { stderr: "pipe" });
      expect(mount.stderr.toString()).toBe("");
      expect(mount.exitCode).toBe(0);
      try {
        const file = join(mnt, "config.env");
        await writeFileAtomic(file, "good\n");
        await expect(writeFileAtomic(file, "x".repeat(128 * 1024))).rejects.toThrow(/ENOSPC|no space/i);
        expect(await readFile(file, "utf8")).toBe("good\n");
        expect(await tempFiles(mnt)).toEqual([]);
        // The space is given back: a half-written temp file left behind would still hold most of the 64 KiB.
        expect(await writeFileAtomic(file, "y".repeat(40 * 1024))).toBe(true);
        expect((await stat(file)).size).toBe(40 * 1024);
      } finally {
        Bun.spawnSync(["umount", mnt]);
        await rm(mnt, { recursive: true, force: true });
      }
    });

    test.skipIf(!Bun.which("prlimit"))("a write over RLIMIT_FSIZE (in a child process) fails, the old file stays, the temp file is removed", async () => {
      const sub = join(dir, `fsize-${flavour}`);
      const file = join(sub, "config.env");
      await writeFileAtomic(file, "good\n");
      const script = join(dir, `fsize-child-${flavour}.ts`);
      await writeFile(
        script,
        `import { writeFileAtomic } from ${JSON.stringify(new URL("../src/config/atomic-write.ts", import.meta.url).pathname)};
    await writeFileAtomic(${JSON.stringify(file)}, "x".repeat(128 * 1024), { blockingFsync: ${blockingFsync} }).then(() => console.log("written"), (e) => console.log(e.code));`,
      );
      // Bun ignores SIGXFSZ, so the write returns EFBIG instead of killing the child.
      const child = Bun.spawnSync(["prlimit", "--fsize=65536", process.execPath, script], { stderr: "pipe" });
      expect(child.stderr.toString()).toBe("");
      expect(child.stdout.toString()).toBe("EFBIG\n");
      expect(await readFile(file, "utf8")).toBe("good\n");
      expect(await tempFiles(sub)).toEqual([]);
    });
  });
}
