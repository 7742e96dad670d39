/**
 * Compiled probe binaries: a few lines of imports, built exactly like the
 * product (scripts/build-flags.ts), that either exit at once (`--exit`, for
 * start-up time) or idle (`--idle`, for resident memory). In a compiled Bun
 * binary it is evaluating modules that costs memory, so a probe that imports
 * what the sidecar imports and does nothing else measures that cost alone.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { COMPILE_FLAGS, bytecodeOrderFlag } from "../scripts/build-flags.ts";
import { dropPageCache, median } from "./lib.ts";

export interface Probe {
  name: string;
  /** Module source: imports and whatever must be kept alive; the idle/exit tail is appended. */
  source: string;
}

const TAIL = `
if (process.argv[2] !== "--idle") process.exit(0);
setInterval(() => {}, 1 << 30);
console.log("ready");
`;

/** Build each probe into `dir`; returns name -> binary path. */
export function buildProbes(dir: string, probes: Probe[]): Map<string, string> {
  mkdirSync(dir, { recursive: true });
  const bins = new Map<string, string>();
  const order = bytecodeOrderFlag();
  for (const p of probes) {
    const entry = resolve(dir, `${p.name}.ts`);
    const bin = resolve(dir, p.name);
    writeFileSync(entry, `${p.source}\n${TAIL}`);
    const r = spawnSync(process.execPath, ["build", entry, ...COMPILE_FLAGS, order, "--outfile", bin], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`cannot build probe ${p.name}: ${r.stderr}`);
    bins.set(p.name, bin);
  }
  return bins;
}

export interface Rss {
  rss: number;
  anon: number;
  file: number;
}

/** VmRSS, RssAnon and RssFile of a running process, in MiB (Linux). */
export function rssOf(pid: number): Rss {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) / 1024;
  return { rss: kb("VmRSS"), anon: kb("RssAnon"), file: kb("RssFile") };
}

/** Start `bin --idle`, resolve once it printed `ready`. */
export function startIdle(bin: string): Promise<ChildProcess> {
  const proc = spawn(bin, ["--idle"], { stdio: ["ignore", "pipe", "inherit"] });
  process.on("exit", () => proc.exitCode === null && proc.kill("SIGKILL"));
  return new Promise((resolveReady, reject) => {
    proc.stdout!.on("data", (d: Buffer) => d.toString().includes("ready") && resolveReady(proc));
    proc.once("exit", (code) => reject(new Error(`${bin} exited ${code} before ready`)));
  });
}

/**
 * Idle RSS of every binary: all started together each round (idle processes
 * do not disturb each other's memory), each from a cold page cache, read
 * `idleMs` after ready, median per binary over `rounds`.
 */
export async function idleRss(bins: Map<string, string>, idleMs: number, rounds: number): Promise<Map<string, Rss>> {
  const samples = new Map<string, Rss[]>([...bins.keys()].map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) {
    const procs = new Map<string, ChildProcess>();
    for (const bin of bins.values()) dropPageCache(bin); // RSS from read-in pages (bench/lib.ts says why)
    for (const [name, bin] of bins) procs.set(name, await startIdle(bin));
    await new Promise((res) => setTimeout(res, idleMs));
    for (const [name, proc] of procs) {
      samples.get(name)!.push(rssOf(proc.pid!));
      proc.kill("SIGKILL");
    }
  }
  return new Map(
    [...samples].map(([name, xs]) => [name, { rss: median(xs.map((x) => x.rss)), anon: median(xs.map((x) => x.anon)), file: median(xs.map((x) => x.file)) }]),
  );
}

/** Start-up wall time (ms) of `bin --exit`, interleaved across binaries run by run so drift hits all alike; median per binary. */
export function startupMs(bins: Map<string, string>, runs: number, warmup = 3): Map<string, number> {
  const times = new Map<string, number[]>([...bins.keys()].map((k) => [k, []]));
  for (let i = 0; i < runs + warmup; i++) {
    for (const [name, bin] of bins) {
      const t0 = performance.now();
      const r = spawnSync(bin, ["--exit"], { stdio: "ignore" });
      const ms = performance.now() - t0;
      if (r.status !== 0) throw new Error(`${bin} --exit exited ${r.status}`);
      if (i >= warmup) times.get(name)!.push(ms);
    }
  }
  return new Map([...times].map(([k, xs]) => [k, median(xs)]));
}

export const probeDir = (name: string) => join("dist", "bench", name);
