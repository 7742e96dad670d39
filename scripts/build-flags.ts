import { existsSync } from "node:fs";
import { join } from "node:path";

/**
 * How the product binary is compiled, in one place: scripts/build.ts uses it
 * and so do the benches' probe binaries (bench/probes.ts), so that a probe
 * measures what the product pays.
 * --splitting keeps lazily imported commands out of the start-up path
 * (--version 32 -> 16 ms); --bytecode cut start-up ~120 -> ~35 ms (SPEC 7).
 * --compile-jit-policy=8: JavaScriptCore tiers code up 8x later, so the
 * run-once start-up code of `validate` and `render` stays in the
 * interpreter instead of being JIT-compiled for nothing (measured,
 * interleaved: validate 31.8 -> 27.7 ms, render 15.0 -> 12.5 ms; 100 and
 * 1000 gained no more). The sidecar keeps it for its whole life: it is idle
 * nearly all the time and its request paths still get compiled, only
 * later. Measured against going back to the normal policy (1) once serving
 * (compiled, cold page cache, 2026-12-02): RSS after the workload 64.3 ->
 * 60.7 MiB, idle 47.8 -> 47.1 MiB, and the latencies within the noise of
 * this machine (webhook 1.33/1.35x -> 1.22/1.28x of the bare API calls,
 * /ready p99 overhead 2.47/2.26 -> 2.02/1.60 ms; policy 2 and 4 fell in
 * between). Earlier, with far higher policies (1000: 72 -> 59 MiB), the
 * webhook slowed to 1.35x and /ready p50 0.36 -> 0.83 ms.
 * No gain, measured: --smol (--compile-exec-argv), a periodic full GC,
 * Elysia's aot: false; dropping --bytecode
 * (RSS -2 MiB but render 12 -> 21 ms) and --bytecode-depth=0 (-1.7 MiB)
 * trade start-up for little memory.
 *
 * --no-compile-autoload-*: by default a Bun executable reads `.env` and
 * `bunfig.toml` from whatever directory it is started in. Both were live
 * here: a `.env` beside a user's manifests changed what `render` printed
 * (CLUSTER_DOMAIN), and a `bunfig.toml` with `preload` ran a script from
 * that directory inside the sidecar, which holds the ServiceAccount token.
 * The binary's configuration is its flags and the pod's environment only
 * (test/compiled-binary.test.ts). tsconfig and package.json autoloading
 * are off by default; they are named anyway, so a changed default cannot
 * turn them on.
 */
export const NO_AUTOLOAD_FLAGS = [
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
  "--no-compile-autoload-tsconfig",
  "--no-compile-autoload-package-json",
];

export const COMPILE_FLAGS = [
  "--compile",
  "--splitting",
  "--minify",
  "--sourcemap=none",
  "--bytecode",
  "--format=esm",
  "--compile-jit-policy=8",
  ...NO_AUTOLOAD_FLAGS,
];

/**
 * Bytecode layout profiles (--bytecode-order), recorded by
 * ./record-bytecode-order.ts and committed: the bytecode each command's run
 * used is placed together at the front, so a process faults in fewer pages
 * of its own file. Measured (compiled, cold page cache, 2026-12-02, 4
 * rounds): idle sidecar 46.5 -> 44.4 MiB, all of it file-backed (37.8 ->
 * 35.7); render's page faults 1650 -> 1595 (a render-only profile; render 2.28 -> 2.19x hello-world). (An earlier "no gain" was
 * measured on binaries just written, whose pages the kernel charges in
 * large folios whatever the layout: bench/lib.ts, dropPageCache.)
 * Most important first: the sidecar (every pod, its whole
 * life), then validate (every pod start), then render.
 */
export const BYTECODE_ORDER_PROFILES = ["sidecar", "validate", "render"] as const;
export const BYTECODE_ORDER_DIR = join(import.meta.dir, "bytecode-order");

/** `--bytecode-order=...` for the committed profiles; a missing one is an error, not a silently slower build. */
export function bytecodeOrderFlag(): string {
  const files = BYTECODE_ORDER_PROFILES.map((name) => join(BYTECODE_ORDER_DIR, `${name}.order`));
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length) throw new Error(`bytecode order profile missing: ${missing.join(", ")} (run: bun scripts/record-bytecode-order.ts)`);
  return `--bytecode-order=${files.join(",")}`;
}
