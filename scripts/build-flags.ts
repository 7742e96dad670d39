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
 * --bytecode-order profiles, Elysia's aot: false; dropping --bytecode
 * (RSS -2 MiB but render 12 -> 21 ms) and --bytecode-depth=0 (-1.7 MiB)
 * trade start-up for little memory.
 */
export const COMPILE_FLAGS = ["--compile", "--splitting", "--minify", "--sourcemap=none", "--bytecode", "--format=esm", "--compile-jit-policy=8"];
