/** Shared helpers for bench scripts: timing child processes, percentiles, a compiled hello-world baseline. */
import { mkdirSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { NO_AUTOLOAD_FLAGS } from "../scripts/build-flags.ts";

/**
 * Every bench measures the binary as it runs in a pod, and a pod's
 * environment has no NODE_EXTRA_CA_CERTS. A development machine or CI
 * runner may set it (this one points it at the whole system bundle), and
 * then Bun parses ~200 KB of extra CA certificates at the first TLS
 * handshake: +3 ms on every `validate` here, which no pod pays. Children
 * inherit process.env, so removing it here covers every bench.
 */
delete process.env.NODE_EXTRA_CA_CERTS;

export const median = (xs: number[]) => percentile(xs, 50);
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i] ?? NaN;
}

/** Wall time in ms of each of `runs` executions (after `warmup` untimed runs). */
export function timeCommand(cmd: string[], runs: number, warmup = 3): number[] {
  const out: number[] = [];
  for (let i = 0; i < runs + warmup; i++) {
    const t0 = performance.now();
    const r = spawnSync(cmd[0]!, cmd.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${cmd.join(" ")} exited ${r.status}: ${r.stderr}`);
    if (i >= warmup) out.push(ms);
  }
  return out;
}

/**
 * Wall times in ms of several commands, run one after the other in turn
 * (`runs` rounds after `warmup`), so drift and other load hit all alike.
 * Each executable is first dropped from the page cache (dropPageCache), so
 * all are timed from pages read back from disk, as a pod's are: a binary
 * just written by the build sits in large folios and starts faster (render
 * 1.5x hello-world just after the build, 1.75x once read back, 2026-12-06),
 * and the build writes the product's binary far more often than the
 * baseline's.
 */
export function timeInterleaved(cmds: string[][], runs: number, warmup = 3): number[][] {
  for (const exe of new Set(cmds.map((c) => c[0]!))) dropPageCache(exe);
  const out = cmds.map(() => [] as number[]);
  for (let i = 0; i < runs + warmup; i++) {
    cmds.forEach((cmd, k) => {
      const ms = timeCommand(cmd, 1, 0)[0]!;
      if (i >= warmup) out[k]!.push(ms);
    });
  }
  return out;
}

/**
 * A compiled Bun hello-world for baselines: compiled, minified, bytecode, and
 * like the product reading no `.env` or `bunfig.toml` from the directory it
 * starts in (the benches start in the repository, which has a bunfig.toml).
 * Rebuilt when its flags change.
 */
export function helloWorldBinary(): string {
  const dir = "dist/bench";
  const bin = `${dir}/hello-world`;
  const flags = ["--compile", "--minify", "--bytecode", "--format=esm", ...NO_AUTOLOAD_FLAGS];
  const stamp = `${bin}.flags`;
  if (!existsSync(bin) || !existsSync(stamp) || readFileSync(stamp, "utf8") !== flags.join(" ")) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/hello.ts`, 'console.log("hello world");\n');
    const r = spawnSync("bun", ["build", `${dir}/hello.ts`, ...flags, "--outfile", bin], { stdio: "inherit" });
    if (r.status !== 0) throw new Error("cannot build the hello-world baseline");
    writeFileSync(stamp, flags.join(" "));
  }
  return bin;
}

/**
 * Drop `file` from the page cache (posix_fadvise DONTNEED, through GNU dd's
 * `iflag=nocache`), so that the next process started from it faults its
 * pages in from a read, not from what the last write left behind. Every
 * bench that reads a resident-memory figure calls this before each start.
 *
 * Why: on this machine's kernel (6.18, ext4 with large folios) a file just
 * written in one piece sits in the page cache in large folios, and a
 * process that maps it is charged whole folios. The same sidecar binary
 * idled at 53.0 MiB right after `npm run build` and at 48.2 MiB once its
 * pages had been read back from disk (hello-world: 25.7 vs 23.1 MiB), all
 * of the difference file-backed: so a bench run right after a build read
 * ~5 MiB more than one run after other builds had pushed the file out,
 * which was the swing between full runs. Read-in pages are the state that
 * repeats, and the one of a node that has run pods from the image before.
 * bench/rss.ts also prints the just-written figure, so the other state is
 * not hidden. A no-op, with a warning, where dd cannot do it.
 */
export function dropPageCache(file: string): void {
  const r = spawnSync("dd", [`if=${file}`, "iflag=nocache", "count=0", "status=none"], { encoding: "utf8" });
  if (r.status !== 0) console.warn(`could not drop ${file} from the page cache (${r.error?.message ?? r.stderr.trim()}): RSS figures may read high`);
}

/** The binary every bench measures; PRODUCT_BIN points the benches at another build (e.g. one made with other flags, to compare). */
export const PRODUCT = process.env.PRODUCT_BIN || "dist/minio-operator-sidecar";
export function requireProduct(): string {
  if (!existsSync(PRODUCT)) throw new Error(`${PRODUCT} missing: run npm run build first`);
  return PRODUCT;
}

export const fmt = (n: number, digits = 1) => n.toFixed(digits);

/** Resident set size of a running process, from /proc (Linux). */
export function rssKiB(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) : NaN;
}

export interface Figure {
  figure: string;
  value: number;
  unit: string;
  baseline?: number;
  baselineLabel?: string;
  goal?: string;
  /** Whether `goal` is met; bench/REPORT.md marks every row that has a goal "met" or "NOT met". */
  met?: boolean;
}

/**
 * The last line of every bench script: `RESULT [...]`, one JSON array of
 * figures, which `npm run bench` collects into bench/REPORT.md.
 */
export function result(figures: Figure[]): void {
  console.log(`RESULT ${JSON.stringify(figures)}`);
}

/**
 * Start a helper process (dev-cluster, a stub) that prints `ready <url>`
 * once listening; it is killed when this script exits, whatever happens.
 */
export async function spawnReady(args: string[], label: string): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  process.on("exit", () => proc.exitCode === null && proc.kill("SIGKILL"));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    proc.stdout!.on("data", (d: Buffer) => {
      out += d;
      const m = /ready (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.once("exit", (code) => reject(new Error(`${label} exited ${code}`)));
  });
  return { proc, url };
}

/**
 * A markdown section for bench/REPORT.md (a table that is not one figure per
 * row, e.g. bench/attribution.ts): `TABLE {"title", "markdown"}` on one line.
 */
export function table(title: string, markdown: string): void {
  console.log(`TABLE ${JSON.stringify({ title, markdown })}`);
}
