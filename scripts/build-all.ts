/**
 * `npm run build:all`: the host binary plus the release targets
 *   dist/minio-operator-sidecar-linux-x64       (glibc, x86-64)
 *   dist/minio-operator-sidecar-linux-arm64     (glibc, aarch64)
 *   dist/minio-operator-sidecar-linux-x64-musl  (musl, x86-64)
 * and dist/SHA256SUMS for them.
 *
 * Why not plain `bun build --target=...`: for a foreign target Bun downloads
 * the target runtime itself, from registry.npmjs.org hard-coded (measured with
 * Bun 1.4.5: it ignores BUN_CONFIG_REGISTRY and npm's registry setting) and
 * with no integrity check. Behind a registry mirror or air-gapped that fails.
 * Instead we fetch the runtime package (@oven/bun-linux-*, the same packages
 * `bun`'s optionalDependencies name) with `npm pack`, which honours npm's
 * registry, cache and --offline settings, check it against the integrity
 * recorded in package-lock.json, and hand it to Bun with
 * --compile-executable-path. A target whose runtime cannot be had is skipped
 * with a message and the script still exits 0, so the other targets ship; a
 * runtime that does not match the lockfile fails the build (exit 1). The host's
 * own target uses the running Bun, which `npm ci` installed and checked.
 */
import { $ } from "bun";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

type Target = { target: string; pkg: string; outfile: string; arch: "x64" | "arm64"; libc: "glibc" | "musl" };

const TARGETS: Target[] = [
  { target: "bun-linux-x64", pkg: "@oven/bun-linux-x64", outfile: "dist/minio-operator-sidecar-linux-x64", arch: "x64", libc: "glibc" },
  { target: "bun-linux-arm64", pkg: "@oven/bun-linux-aarch64", outfile: "dist/minio-operator-sidecar-linux-arm64", arch: "arm64", libc: "glibc" },
  { target: "bun-linux-x64-musl", pkg: "@oven/bun-linux-x64-musl", outfile: "dist/minio-operator-sidecar-linux-x64-musl", arch: "x64", libc: "musl" },
];

// Runtimes are ~100 MB each; node_modules/.cache is already ignored by git and
// cleared by `npm ci`, after which npm's own cache makes the re-fetch local.
const CACHE = process.env.BUN_RUNTIME_CACHE || "node_modules/.cache/bun-runtimes";
const version = Bun.version; // the runtime must match the compiler that writes the bytecode

// Node's process report names the glibc the process runs on; on musl it has none.
const report = process.report?.getReport?.() as { header?: { glibcVersionRuntime?: string } } | undefined;
const hostLibc = report?.header?.glibcVersionRuntime ? "glibc" : "musl";
const isHost = (t: Target) => process.platform === "linux" && process.arch === t.arch && hostLibc === t.libc;

/** sha512 integrity ("sha512-<base64>") that package-lock.json pins for a package, if any. */
function lockedIntegrity(pkg: string): string | undefined {
  const lock = JSON.parse(readFileSync("package-lock.json", "utf8")) as { packages: Record<string, { version?: string; integrity?: string }> };
  const entry = lock.packages[`node_modules/${pkg}`];
  return entry?.version === version ? entry.integrity : undefined;
}

/** The runtime cannot be fetched (offline, not mirrored): skip the target. Anything else fails the build. */
class Unavailable extends Error {}

/**
 * Path of the target's Bun runtime, fetched through npm into CACHE. Throws
 * Unavailable when npm cannot get it, and a plain Error when what it got does
 * not match package-lock.json: a tampered runtime must stop the build, not be skipped.
 */
async function runtimeFor(t: Target): Promise<string> {
  const dir = join(CACHE, `${basename(t.pkg)}-${version}`);
  const bin = join(dir, "bun");
  if (existsSync(bin)) return bin;
  // Fetched into a scratch directory and moved into place only once checked,
  // so the cache never holds a half-fetched or unverified runtime.
  const tmp = `${dir}.partial-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  try {
    // --prefer-offline: a tarball already in npm's cache is used without asking the registry.
    const pack = await $`npm pack ${`${t.pkg}@${version}`} --pack-destination ${tmp} --prefer-offline --json`.nothrow().quiet();
    if (pack.exitCode !== 0) {
      const reason = pack.stderr.toString().split("\n").find((l) => /npm (error|ERR!)/.test(l) && !/A complete log/.test(l));
      throw new Unavailable(`npm pack ${t.pkg}@${version} failed: ${reason?.trim() || `exit ${pack.exitCode}`}`);
    }
    const tgz = join(tmp, (JSON.parse(pack.stdout.toString()) as { filename: string }[])[0]!.filename);
    const want = lockedIntegrity(t.pkg);
    if (want) {
      const got = `sha512-${new Bun.CryptoHasher("sha512").update(readFileSync(tgz)).digest("base64")}`;
      if (got !== want) throw new Error(`${t.pkg}@${version}: integrity ${got} differs from package-lock.json's ${want}`);
    } else {
      console.log(`note: package-lock.json pins no ${t.pkg}@${version}; relying on npm's registry integrity check`);
    }
    await $`tar -xzf ${tgz} -C ${tmp} package/bin/bun`.quiet();
    mkdirSync(dir, { recursive: true });
    renameSync(join(tmp, "package/bin/bun"), bin);
    return bin;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Checks the ELF header: machine and dynamic loader must be the target's, so a
 * build that silently embedded the wrong runtime is caught before it ships.
 */
function checkElf(file: string, t: Target) {
  const head = readFileSync(file).subarray(0, 1 << 16);
  const machine = head.readUInt16LE(18);
  const wantMachine = t.arch === "x64" ? 0x3e : 0xb7;
  if (head.readUInt32BE(0) !== 0x7f454c46 || machine !== wantMachine) {
    throw new Error(`${file}: ELF machine 0x${machine.toString(16)}, expected 0x${wantMachine.toString(16)}`);
  }
  const interp = head.toString("latin1").match(/\/lib(?:64)?\/ld-[\w.-]+\.so\.\d/)?.[0] ?? "none";
  if (/musl/.test(interp) !== (t.libc === "musl")) throw new Error(`${file}: loader ${interp} does not fit ${t.libc}`);
  return interp;
}

const build = (args: string[]) => $`bun scripts/build.ts ${args}`;

await build([]); // dist/minio-operator-sidecar for the host, as `npm run build`

const built: string[] = ["dist/minio-operator-sidecar"];
const skipped: string[] = [];
for (const t of TARGETS) {
  let runtimeArgs: string[] = [];
  if (!isHost(t)) {
    try {
      runtimeArgs = ["--compile-executable-path", await runtimeFor(t)];
    } catch (err) {
      rmSync(t.outfile, { force: true }); // never ship a stale binary from an earlier build next to fresh ones
      if (!(err instanceof Unavailable)) {
        console.error(`build:all: ${t.target}: ${(err as Error).message}`);
        process.exit(1);
      }
      skipped.push(t.target);
      console.log(`skip ${t.target}: ${(err as Error).message}`);
      continue;
    }
  }
  await build(["--target", t.target, "--outfile", t.outfile, ...runtimeArgs]);
  const interp = checkElf(t.outfile, t);
  if (isHost(t)) await $`${t.outfile} --version`.quiet(); // runnable here: prove it starts
  console.log(`ok ${t.outfile} (${t.arch}, ${t.libc}, loader ${interp})`);
  built.push(t.outfile);
}

const sums = built.map((f) => `${new Bun.CryptoHasher("sha256").update(readFileSync(f)).digest("hex")}  ${basename(f)}`);
writeFileSync("dist/SHA256SUMS", sums.join("\n") + "\n");
console.log(`built ${built.length} binaries (dist/SHA256SUMS)${skipped.length ? `; skipped ${skipped.join(", ")}` : ""}`);
