/**
 * Third-party notices for the image: the licence of every npm package the
 * product depends on at run time (package.json `dependencies` and theirs,
 * as installed), with each package's own licence file, and the runtime the
 * compiled binary carries (Bun, with JavaScriptCore under the LGPL). The
 * Containerfile writes it to /licenses/ next to our own LICENSE, so an image
 * copied into an air-gapped registry still says what it contains.
 * The list is a superset of what the bundler keeps (it does not try to
 * tell which files of a package were tree-shaken away).
 *
 *   bun scripts/notices.ts [--out dist/THIRD-PARTY-NOTICES.md]
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

interface Pkg {
  name: string;
  version: string;
  license: string;
  dir: string;
}

const ROOT = resolve(import.meta.dir, "..");
const out = process.argv.includes("--out") ? process.argv[process.argv.indexOf("--out") + 1]! : join(ROOT, "dist", "THIRD-PARTY-NOTICES.md");

/** Node's resolution: the nearest node_modules/NAME from `from` upwards. */
function locate(name: string, from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "node_modules", name, "package.json"))) return join(dir, "node_modules", name);
    if (dirname(dir) === dir) return undefined;
  }
}

function licenseOf(pj: { license?: unknown; licenses?: unknown }): string {
  if (typeof pj.license === "string") return pj.license;
  const list = (Array.isArray(pj.licenses) ? pj.licenses : [pj.license ?? pj.licenses]).filter(Boolean) as Array<{ type?: string } | string>;
  return list.map((l) => (typeof l === "string" ? l : (l.type ?? "?"))).join(" OR ") || "UNKNOWN";
}

const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string>; devDependencies: { bun: string } };
const found = new Map<string, Pkg>();
const missing: string[] = [];
const visit = (name: string, from: string) => {
  const dir = locate(name, from);
  if (!dir) return void missing.push(name);
  if (found.has(dir)) return;
  const pj = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  found.set(dir, { name: pj.name ?? name, version: pj.version ?? "?", license: licenseOf(pj), dir });
  for (const d of Object.keys(pj.dependencies ?? {})) visit(d, dir);
};
for (const d of Object.keys(root.dependencies)) visit(d, ROOT);
// Only the `dependencies` of each package are followed (never optional or peer ones), so anything missing was not installed.
if (missing.length) {
  console.error(`notices: not installed: ${missing.join(", ")} (run npm ci first)`);
  process.exit(1);
}

const pkgs = [...found.values()].sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
const licenseText = (dir: string) => {
  const files = readdirSync(dir).filter((f) => /^(licen[cs]e|copying|notice)/i.test(f)).sort();
  return files.map((f) => readFileSync(join(dir, f), "utf8").trim()).join("\n\n");
};

const md = [
  "# Third-party notices",
  "",
  "minio-operator-sidecar itself is Apache-2.0 (LICENSE, next to this file).",
  "",
  "## The runtime inside the binary",
  "",
  `The binary is built with \`bun build --compile\` and so contains the Bun ${root.devDependencies.bun} runtime (MIT).`,
  "Bun statically links JavaScriptCore and WebKit's WTF, which are under the GNU LGPL 2 (parts BSD), and",
  "further libraries under their own licences (among them BoringSSL, mimalloc, uSockets/uWebSockets,",
  "zlib, brotli, zstd, c-ares, simdutf, libdeflate). Their list and licence texts are on Bun's licence page,",
  "https://bun.com/docs/project/license, for this version; WebKit's sources are at https://github.com/oven-sh/WebKit.",
  "The LGPL lets you replace JavaScriptCore: rebuild this project (`npm run build`) against a Bun built",
  "with your modified JavaScriptCore (`--compile-executable-path`).",
  "",
  `## npm packages (${pkgs.length})`,
  "",
  "| package | version | licence |",
  "| --- | --- | --- |",
  ...pkgs.map((p) => `| ${p.name} | ${p.version} | ${p.license} |`),
  "",
  ...pkgs.flatMap((p) => {
    const text = licenseText(p.dir);
    return [`### ${p.name}@${p.version} (${p.license})`, "", text ? ["```", text, "```"].join("\n") : `No licence file in the package; its package.json declares ${p.license}.`, ""];
  }),
];
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, md.join("\n"));
console.log(`wrote ${out} (${pkgs.length} packages)`);
