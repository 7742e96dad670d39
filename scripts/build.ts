/**
 * `npm run build`: one standalone executable (flags in ./build-flags.ts),
 * with version, commit and build time stamped in.
 * Usage: bun scripts/build.ts [--target bun-linux-x64] [--outfile PATH] [--compile-executable-path BUN]
 * --compile-executable-path: the Bun runtime of the target, for cross-compiling
 * without Bun's own download (see scripts/build-all.ts for why).
 */
import { $ } from "bun";
import pkg from "../package.json" with { type: "json" };
import { COMPILE_FLAGS, bytecodeOrderFlag } from "./build-flags.ts";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const target = arg("target", "bun");
const outfile = arg("outfile", "dist/minio-operator-sidecar");
const runtime = arg("compile-executable-path", "");
const runtimeArgs = runtime ? [`--compile-executable-path=${runtime}`] : [];
// COMMIT: for builds without a .git directory (the Containerfile passes its REVISION build-arg).
const commit = process.env.COMMIT || (await $`git rev-parse --short=12 HEAD`.nothrow().quiet().text()).trim() || "unknown";
const dirty = !process.env.COMMIT && (await $`git status --porcelain --untracked-files=no`.nothrow().quiet().text()).trim() ? "-dirty" : "";
const version = process.env.VERSION || pkg.version;
const time = process.env.SOURCE_DATE_EPOCH
  ? new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000).toISOString()
  : new Date().toISOString();

const defines = {
  __BUILD_VERSION__: version,
  __BUILD_COMMIT__: commit + dirty,
  __BUILD_TIME__: time,
};
const defineArgs = Object.entries(defines).flatMap(([k, v]) => ["--define", `${k}=${JSON.stringify(v)}`]);

await $`bun build src/main.ts ${COMPILE_FLAGS} ${bytecodeOrderFlag()} --target=${target} ${runtimeArgs} ${defineArgs} --outfile ${outfile}`;
console.log(`built ${outfile} ${version} (${commit}${dirty}) for ${target}`);
