/**
 * Where the compiled sidecar's idle memory and start-up time go, by module
 * group (issue 11). In a compiled Bun binary, evaluating a module is what
 * costs: its bytecode and the Bun built-ins it touches become resident pages.
 * So a probe binary that imports what the sidecar imports, and does nothing,
 * measures that cost; probes that add one group at a time, in one run, give
 * each group's share:
 *
 *   runtime floor      a compiled hello-world (same flags, idling)
 *   node built-ins     the node: modules our own code imports
 *   TypeBox, Elysia, pino, prom-client, client-node, other packages
 *                      exactly the bindings src/ imports from each (found by
 *                      scanning the modules the sidecar command loads)
 *   our code           every module of the sidecar command, evaluated, not run
 *   running sidecar    the product binary itself, serving against the fake
 *                      API server (its state: servers, watches, caches)
 *   runtime services   apart, over the floor: what the sidecar asks of Bun
 *                      with none of its modules (three HTTP servers, an
 *                      https GET with a cluster CA, two watch streams held
 *                      open), the part of "running" no module cut removes
 *
 * Each step is cumulative (a library's share is what it adds to the ones
 * above it); "alone" is the group on top of the floor by itself, which shows
 * the overlap (node:http costs once, whoever imports it first). "JS" is the
 * minified JavaScript the group puts in the product's start-up chunks
 * (from the bundler's metafile). Start-up: median wall time of `--exit`
 * runs, interleaved. RSS: VmRSS median of ROUNDS, IDLE_MS after ready, with
 * the file-backed part (binary pages touched) shown apart.
 *
 *   npm run build && bun bench/attribution.ts    (IDLE_MS=10000 ROUNDS=3 RUNS=15)
 * Ends with the RESULT line and a TABLE line (markdown) for bench/REPORT.md.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { startFakeApiServer } from "../test/fake-apiserver/index.ts";
import { startSidecar } from "../test/support/sidecar.ts";
import { dropPageCache, fmt, median, requireProduct, result, table } from "./lib.ts";

const signed = (x: number) => `${x < 0 ? "−" : "+"}${fmt(Math.abs(x))}`;
import { buildProbes, idleRss, probeDir, rssOf, startupMs, type Probe, type Rss } from "./probes.ts";
import { loadAll } from "js-yaml";

const IDLE_MS = Number(process.env.IDLE_MS ?? 10_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const RUNS = Number(process.env.RUNS ?? 15);
const ROOT = resolve(import.meta.dir, "..");
const bin = requireProduct();

/** The modules the `sidecar` command evaluates: main.ts, then what it imports for the command (SPEC 2). */
const ENTRIES = ["src/main.ts", "src/log/logger.ts", "src/kube/client.ts", "src/commands/sidecar.ts"];

const isBuiltin = (spec: string) => spec.startsWith("node:") || spec.startsWith("bun:") || builtinModules.includes(spec);
const packageOf = (spec: string) => (spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);

interface Group {
  name: string;
  match: (spec: string) => boolean;
  /** npm packages whose code counts for this group (the group's own and their dependencies). */
  roots: string[];
}
const GROUPS: Group[] = [
  { name: "node built-ins", match: isBuiltin, roots: [] },
  { name: "TypeBox", match: (s) => packageOf(s) === "@sinclair/typebox", roots: ["@sinclair/typebox"] },
  { name: "Elysia", match: (s) => packageOf(s) === "elysia", roots: ["elysia"] },
  { name: "pino", match: (s) => packageOf(s) === "pino", roots: ["pino"] },
  { name: "prom-client", match: (s) => packageOf(s) === "prom-client", roots: ["prom-client"] },
  { name: "client-node", match: (s) => ["@kubernetes/client-node", "node-fetch", "hpagent", "socks-proxy-agent"].includes(packageOf(s)), roots: ["@kubernetes/client-node"] },
  { name: "other packages", match: () => true, roots: [] },
];

// ---- what src/ imports, per group ----------------------------------------------------

interface ImportLine {
  spec: string;
  /** The value bindings imported (type-only ones dropped); all absent for a bare `import "x"`. */
  defaultName?: string;
  namespace?: boolean;
  /** Exported names imported by name. */
  named: string[];
}

/** Static imports of the modules reachable from ENTRIES (relative imports followed, type-only skipped). */
function scanImports(): { external: ImportLine[]; files: string[] } {
  const seen = new Set<string>();
  const external: ImportLine[] = [];
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/^import\s+(type\s+)?(?:([\s\S]*?)\s+from\s+)?["']([^"']+)["'];?/gm)) {
      const [, typeOnly, clause = "", spec] = m;
      if (typeOnly) continue;
      if (spec!.startsWith(".")) {
        visit(resolve(dirname(file), spec!));
        continue;
      }
      const line = parseClause(spec!, clause.trim());
      if (line) external.push(line);
    }
  };
  for (const e of ENTRIES) visit(resolve(ROOT, e));
  return { external, files: [...seen] };
}

/** `D`, `* as NS`, `{ a, b as c, type T }` and combinations; undefined when only types are imported. */
function parseClause(spec: string, clause: string): ImportLine | undefined {
  if (!clause) return { spec, named: [] };
  const m = /^(?:([\w$]+)\s*,?\s*)?(?:\{([\s\S]*)\}|\*\s+as\s+[\w$]+)?$/.exec(clause);
  if (!m) throw new Error(`cannot read import clause "${clause}" from ${spec}`);
  const named = (m[2] ?? "").split(",").map((x) => x.trim()).filter((x) => x && !x.startsWith("type ")).map((x) => x.split(/\s+as\s+/)[0]!);
  const line: ImportLine = { spec, defaultName: m[1], namespace: clause.includes("* as"), named };
  return line.defaultName || line.namespace || named.length ? line : undefined;
}

/** A probe body importing `lines`, every binding renamed (two files may import one name from two modules) and kept alive. */
function importSource(lines: ImportLine[], prefix: string): string {
  const out: string[] = [];
  const keep: string[] = [];
  lines.forEach((l, i) => {
    const from = JSON.stringify(l.spec);
    if (!l.defaultName && !l.namespace && !l.named.length) return void out.push(`import ${from};`);
    const id = `${prefix}${i}`;
    if (l.namespace) {
      out.push(`import * as ${id}_ns from ${from};`);
      keep.push(`${id}_ns`);
    }
    const parts: string[] = [];
    if (l.defaultName) {
      parts.push(`${id}_default`);
      keep.push(`${id}_default`);
    }
    if (l.named.length) {
      parts.push(`{ ${l.named.map((n, k) => `${n} as ${id}_${k}`).join(", ")} }`);
      keep.push(...l.named.map((_, k) => `${id}_${k}`));
    }
    if (parts.length) out.push(`import ${parts.join(", ")} from ${from};`);
  });
  out.push(`(globalThis as Record<string, unknown>).__keep_${prefix} = [${keep.join(", ")}];`);
  return out.join("\n");
}

// ---- JS bytes per group, from the product's metafile -----------------------------------

function jsBytesPerGroup(): Map<string, number> {
  const dir = mkdtempSync(join(tmpdir(), "attribution-meta-"));
  try {
    const meta = join(dir, "meta.json");
    const r = spawnSync(process.execPath, ["build", "src/main.ts", "--splitting", "--minify", "--format=esm", "--target=bun", "--outdir", join(dir, "out"), `--metafile=${meta}`], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`metafile build failed: ${r.stderr}`);
    const m = JSON.parse(readFileSync(meta, "utf8")) as {
      outputs: Record<string, { entryPoint?: string; imports?: Array<{ path: string; kind: string }>; inputs: Record<string, { bytesInOutput: number }> }>;
    };
    // Start-up chunks: the entry chunks the sidecar command loads and their static imports.
    const byPath = new Map(Object.entries(m.outputs).map(([k, v]) => [resolve(dir, "out", k), v]));
    const chunks = new Set<string>();
    const walk = (p: string) => {
      if (chunks.has(p)) return;
      chunks.add(p);
      for (const i of byPath.get(p)?.imports ?? []) if (i.kind === "import-statement" && !i.path.startsWith("node:")) walk(resolve(dirname(p), i.path));
    };
    for (const [p, o] of byPath) if (o.entryPoint && ENTRIES.includes(o.entryPoint)) walk(p);
    const owner = packageOwners();
    const bytes = new Map<string, number>();
    for (const p of chunks) {
      for (const [input, { bytesInOutput }] of Object.entries(byPath.get(p)?.inputs ?? {})) {
        const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1];
        const group = pkg ? (owner.get(pkg) ?? "other packages") : "our code";
        bytes.set(group, (bytes.get(group) ?? 0) + bytesInOutput);
      }
    }
    return bytes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** npm package -> group, through each group root's dependency tree (first group claiming a shared dependency keeps it). */
function packageOwners(): Map<string, string> {
  const owner = new Map<string, string>();
  for (const g of GROUPS) {
    const stack = [...g.roots];
    while (stack.length) {
      const pkg = stack.pop()!;
      if (owner.has(pkg)) continue;
      owner.set(pkg, g.name);
      const file = join(ROOT, "node_modules", pkg, "package.json");
      if (!existsSync(file)) continue;
      const deps = (JSON.parse(readFileSync(file, "utf8")) as { dependencies?: Record<string, string> }).dependencies ?? {};
      stack.push(...Object.keys(deps));
    }
  }
  return owner;
}

// ---- the running sidecar ----------------------------------------------------------------

async function runningSidecarRss(): Promise<Rss[]> {
  const objects = ["deploy/examples/tenant.yaml", "deploy/examples/secret.yaml"].flatMap((f) => loadAll(readFileSync(f, "utf8")) as never[]);
  const api = await startFakeApiServer({ objects });
  const work = mkdtempSync(join(tmpdir(), "attribution-"));
  const kubeconfig = join(work, "kubeconfig");
  await api.writeKubeconfig(kubeconfig, { namespace: "minio-tenant" });
  process.env.SIDECAR_BIN = bin;
  const out: Rss[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      dropPageCache(bin); // as the probes are (bench/lib.ts)
      const sc = await startSidecar({ kubeconfig, namespace: "minio-tenant", configFile: join(work, `config-${r}.env`) });
      await sc.waitForLog((l) => l.msg === "sidecar serving");
      await new Promise((res) => setTimeout(res, IDLE_MS));
      out.push(rssOf(sc.proc.pid!));
      await sc.stop();
    }
  } finally {
    await api.close();
    rmSync(work, { recursive: true, force: true });
  }
  return out;
}

// ---- run ----------------------------------------------------------------------------------

const { external, files } = scanImports();
const linesOf = (g: Group) => external.filter((l) => GROUPS.find((x) => x.match(l.spec)) === g);
const ours = files.filter((f) => !f.endsWith("/main.ts")); // main.ts runs the CLI on import; its imports are in the list anyway
const oursSource = ours.map((f, i) => `import * as our${i} from ${JSON.stringify(f)};`).join("\n") + `\n(globalThis as Record<string, unknown>).__ours = [${ours.map((_, i) => `our${i}`).join(", ")}];`;

const steps: Array<{ name: string; probe: string }> = [{ name: "runtime floor (hello-world)", probe: "p0-floor" }];
const probes: Probe[] = [{ name: "p0-floor", source: "" }];
let cumulative = "";
GROUPS.forEach((g, i) => {
  const src = importSource(linesOf(g), `g${i}_`);
  cumulative += `\n${src}`;
  probes.push({ name: `p${i + 1}-${g.name.replace(/\W+/g, "-")}`, source: cumulative });
  probes.push({ name: `alone-${g.name.replace(/\W+/g, "-")}`, source: src });
  steps.push({ name: g.name, probe: `p${i + 1}-${g.name.replace(/\W+/g, "-")}` });
});
probes.push({ name: "p9-our-code", source: `${cumulative}\n${oursSource}` });
steps.push({ name: "our code (evaluated)", probe: "p9-our-code" });

/** The runtime services probe: API_URL and API_CA come from the environment (a fake API server this script runs). */
const SERVICES_PROBE = `
for (let i = 0; i < 3; i++) {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("ok") });
  await fetch(s.url).then((r) => r.text());
}
const tls = { ca: process.env.API_CA };
const base = process.env.API_URL + "/api/v1/namespaces/minio-tenant/secrets";
await fetch(base + "/storage-configuration", { tls }).then((r) => r.text());
for (const q of ["a", "b"]) {
  const r = await fetch(base + "?watch=true&fieldSelector=metadata.name%3Dstorage-configuration&" + q + "=1", { tls });
  const reader = r.body!.getReader();
  (async () => { while (!(await reader.read()).done); })();
}`;
probes.push({ name: "services", source: SERVICES_PROBE });
const servicesApi = await startFakeApiServer({ objects: ["deploy/examples/secret.yaml"].flatMap((f) => loadAll(readFileSync(f, "utf8")) as never[]) });
process.env.API_URL = servicesApi.url;
process.env.API_CA = servicesApi.caPem;

console.log(`building ${probes.length} probe binaries (${steps.length - 1} groups, cumulative and alone)...`);
const bins = buildProbes(probeDir("attribution"), probes);
console.log(`idle RSS: ${ROUNDS} rounds, ${IDLE_MS / 1000} s after ready...`);
const rss = await idleRss(bins, IDLE_MS, ROUNDS);
const sidecarSamples = await runningSidecarRss();
const sidecar: Rss = { rss: median(sidecarSamples.map((s) => s.rss)), anon: median(sidecarSamples.map((s) => s.anon)), file: median(sidecarSamples.map((s) => s.file)) };
console.log(`start-up: ${RUNS} interleaved runs each...`);
// Not the services probe: its start-up is network round trips to a server in this process, which spawnSync would block.
const startup = startupMs(new Map([...bins].filter(([name]) => name !== "services")), RUNS);
const js = jsBytesPerGroup();
await servicesApi.close();

const rows: string[][] = [];
let prev: Rss | undefined;
let prevMs: number | undefined;
for (const s of steps) {
  const r = rss.get(s.probe)!;
  const ms = startup.get(s.probe)!;
  const group = GROUPS.find((g) => g.name === s.name);
  const alone = group ? rss.get(`alone-${group.name.replace(/\W+/g, "-")}`) : undefined;
  const aloneMs = group ? startup.get(`alone-${group.name.replace(/\W+/g, "-")}`) : undefined;
  const floor = rss.get("p0-floor")!;
  const floorMs = startup.get("p0-floor")!;
  const jsKey = s.name === "our code (evaluated)" ? "our code" : s.name;
  rows.push([
    s.name,
    fmt(r.rss),
    prev ? `${signed(r.rss - prev.rss)} (file ${signed(r.file - prev.file)}, anon ${signed(r.anon - prev.anon)})` : `(file ${fmt(r.file)}, anon ${fmt(r.anon)})`,
    alone ? signed(alone.rss - floor.rss) : "",
    fmt(ms),
    prevMs === undefined ? "" : signed(ms - prevMs),
    aloneMs === undefined ? "" : signed(aloneMs - floorMs),
    js.has(jsKey) ? `${fmt(js.get(jsKey)! / 1024, 0)} KiB` : "",
  ]);
  prev = r;
  prevMs = ms;
}
rows.push(["running sidecar (product binary, idle)", fmt(sidecar.rss), `${signed(sidecar.rss - prev!.rss)} (file ${signed(sidecar.file - prev!.file)}, anon ${signed(sidecar.anon - prev!.anon)})`, "", "", "", "", ""]);
const services = rss.get("services")!;
const floor = rss.get("p0-floor")!;
rows.push(["runtime services, no sidecar module (3 HTTP servers, https GET with a CA, 2 watch streams)", fmt(services.rss), "", `${signed(services.rss - floor.rss)} (file ${signed(services.file - floor.file)}, anon ${signed(services.anon - floor.anon)})`, "", "", "", ""]);

const header = ["module group (cumulative)", "idle RSS MiB", "added MiB", "alone MiB", "start-up ms", "added ms", "alone ms", "JS"];
const md = [
  `Idle RSS ${IDLE_MS / 1000} s after ready (median of ${ROUNDS}, each binary started from a cold page cache) and start-up (median of ${RUNS} interleaved runs) of compiled probe binaries, one group added per row; "alone" = that group by itself over the floor; JS = minified JavaScript in the sidecar's start-up chunks.`,
  "",
  `| ${header.join(" | ")} |`,
  `| ${header.map(() => "---").join(" | ")} |`,
  ...rows.map((r) => `| ${r.join(" | ")} |`),
].join("\n");
console.log(`\n${md}\n`);
for (const g of GROUPS) console.log(`  ${g.name}: ${linesOf(g).map((l) => `${l.spec} ${[l.defaultName, l.namespace ? "*" : "", ...l.named].filter(Boolean).join(",")}`).join("; ") || "(nothing)"}`);

result([
  { figure: "attribution: runtime floor idle RSS (compiled hello-world)", value: +fmt(rss.get("p0-floor")!.rss), unit: "MiB" },
  { figure: "attribution: all module groups evaluated, idle RSS", value: +fmt(rss.get("p9-our-code")!.rss), unit: "MiB" },
  { figure: "attribution: running sidecar idle RSS", value: +fmt(sidecar.rss), unit: "MiB" },
  { figure: "attribution: runtime services alone (3 servers, https client, 2 watches), idle RSS", value: +fmt(services.rss), unit: "MiB" },
]);
table("Where the sidecar's memory and start-up go (bench/attribution.ts)", md);
