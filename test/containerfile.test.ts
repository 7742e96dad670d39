/**
 * The Containerfile's build stage gets only the files it COPYs, so a script
 * that imports a file nobody copied builds here and fails in the image
 * build (it did: scripts/build.ts imports ./build-flags.ts, which the
 * Containerfile did not copy). There is no container engine on this
 * machine, so this test does what the build stage does, in a directory
 * holding exactly the copied files (and the installed node_modules): build
 * the binary, run --version, write the notices; then checks that what the
 * final stage copies exists.
 */
import { afterAll, expect, test } from "bun:test";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "containerfile-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const stages = readFileSync(join(ROOT, "Containerfile"), "utf8").split(/^FROM /m).slice(1);

/** A stage's `COPY [--from=STAGE] a b dest` lines: the sources, the destination and the stage copied from. */
function copies(stage: string): Array<{ sources: string[]; dest: string; from?: string }> {
  return stage
    .split("\n")
    .filter((l) => l.startsWith("COPY "))
    .map((l) => {
      const words = l.split(/\s+/).slice(1);
      const from = words[0]?.startsWith("--from=") ? words.shift()!.slice(7) : undefined;
      return { sources: words.slice(0, -1), dest: words.at(-1)!, from };
    });
}

test("the build stage's COPYs are enough to build the binary and its notices", () => {
  expect(stages.length).toBe(2);
  const ctx = join(work, "src");
  for (const c of copies(stages[0]!)) {
    for (const s of c.sources) {
      // Docker's rules: a directory's contents go into the destination; a file into it when it ends in "/".
      const target = statSync(join(ROOT, s)).isDirectory() ? join(ctx, c.dest) : c.dest.endsWith("/") ? join(ctx, c.dest, basename(s)) : join(ctx, c.dest);
      cpSync(join(ROOT, s), target, { recursive: true });
    }
  }
  // `bun install --production` in the image; the installed tree here (a superset) stands in for it.
  symlinkSync(join(ROOT, "node_modules"), join(ctx, "node_modules"));
  const env = { ...process.env, COMMIT: "containerfile-test", VERSION: "0.0.0-test" };
  const build = Bun.spawnSync([process.execPath, "scripts/build.ts"], { cwd: ctx, env, stderr: "pipe", stdout: "pipe" });
  expect(build.stderr.toString()).not.toContain("Could not resolve");
  expect(build.exitCode).toBe(0);
  const version = Bun.spawnSync([join(ctx, "dist/minio-operator-sidecar"), "--version"], { stdout: "pipe" });
  expect(version.stdout.toString()).toContain("0.0.0-test");
  const notices = Bun.spawnSync([process.execPath, "scripts/notices.ts", "--out", "dist/THIRD-PARTY-NOTICES.md"], { cwd: ctx, stderr: "pipe" });
  expect(notices.exitCode).toBe(0);
  const text = readFileSync(join(ctx, "dist/THIRD-PARTY-NOTICES.md"), "utf8");
  for (const dep of Object.keys(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).dependencies)) expect(text).toContain(`| ${dep} |`);
  expect(text).toContain("JavaScriptCore");

  // The final stage copies from the build stage's /src (WORKDIR) and from the context.
  for (const c of copies(stages[1]!)) {
    for (const s of c.sources) expect(existsSync(c.from ? join(ctx, s.replace(/^\/src\//, "")) : join(ROOT, s))).toBe(true);
  }
}, 120_000);
