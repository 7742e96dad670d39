/**
 * `validate` end to end (the init container's whole job): the compiled
 * binary reads the example Tenant and Secret from the local fake API server
 * over https (CA in the kubeconfig), validates, writes the file and exits.
 * Median wall time of N runs (each into a fresh directory, as a new pod's
 * emptyDir), next to the compiled hello-world binary measured in the same
 * run, interleaved run by run. Goal (issue 11): median <= 4.0x hello-world.
 *
 *   npm run build && bun bench/validate.ts        (RUNS=15 by default)
 *
 * The API server runs in its own process (scripts/dev-cluster.ts): timing
 * uses spawnSync, which would block an in-process server.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dropPageCache, fmt, helloWorldBinary, median, percentile, requireProduct, result, spawnReady, timeCommand } from "./lib.ts";
import { spawnSync } from "node:child_process";

const runs = Number(process.env.RUNS ?? 15);
const GOAL = 4.0;
const bin = requireProduct();
const hello = helloWorldBinary();
const dir = mkdtempSync(join(tmpdir(), "bench-validate-"));
// Both timed from pages read back from disk, as a pod's are (timeInterleaved in ./lib.ts says why).
dropPageCache(bin);
dropPageCache(hello);
const kubeconfig = join(dir, "kubeconfig.yaml");

// The fake API server with deploy/examples (https with its own CA), in a child process.
const { proc: cluster, url } = await spawnReady(["scripts/dev-cluster.ts", "--kubeconfig", kubeconfig, "--port", "0"], "dev-cluster");

try {
  const validateCmd = (out: string) => [bin, "validate", "--tenant", "myminio", "--namespace", "minio-tenant", "--kubeconfig", kubeconfig, "--config-file", `${out}/config.env`];
  // Each run writes into a directory of its own (a fresh emptyDir), so every run really writes.
  const timeValidate = (i: number) => timeCommand(validateCmd(join(dir, `out-${i}`)), 1, 0)[0]!;
  const timeHello = () => {
    const t0 = performance.now();
    if (spawnSync(hello, { stdio: "ignore" }).status !== 0) throw new Error("hello-world failed");
    return performance.now() - t0;
  };
  for (let i = 0; i < 3; i++) timeValidate(-1 - i), timeHello(); // warm-up (page cache, TLS session set-up paths)
  // Interleaved, one of each in turn: machine noise hits both alike.
  const validateMs: number[] = [];
  const helloMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    validateMs.push(timeValidate(i));
    helloMs.push(timeHello());
  }
  const versionMs = timeCommand([bin, "--version"], runs);

  const v = median(validateMs);
  const h = median(helloMs);
  console.log(`API server: ${url} (fake, https, in a separate process)`);
  console.log(`validate (compiled)     median ${fmt(v)} ms  p90 ${fmt(percentile(validateMs, 90))} ms  min ${fmt(Math.min(...validateMs))} ms over ${runs} runs`);
  console.log(`--version (compiled)    median ${fmt(median(versionMs))} ms over ${runs} runs (start-up of the same binary, no cluster)`);
  console.log(`hello-world (compiled)  median ${fmt(h)} ms over ${runs} runs (baseline)`);
  console.log(`ratio validate/hello-world ${fmt(v / h, 2)}`);
  console.log(`goal: validate median <= ${GOAL}x hello-world: ${v / h <= GOAL ? "met" : "NOT met"} (${fmt(v / h, 2)}x)`);
  result([
    { figure: `validate end to end (https + CA, file written; median of ${runs})`, value: +v.toFixed(1), unit: "ms", baseline: +h.toFixed(1), baselineLabel: "compiled hello-world", goal: `ratio <= ${GOAL}`, met: v / h <= GOAL },
  ]);
} finally {
  cluster.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
