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
 * 1000 gained no more). The sidecar goes back to the normal policy once it
 * is serving (normalJit in src/runtime/index.ts). Higher policies for the
 * sidecar's steady state cut its RSS (4: idle -2.7, after the workload -3
 * MiB; 1000: 72 -> 59 MiB) but slowed the webhook towards or past its goal
 * (1000: 1.13x -> 1.35x of the bare API calls; /ready p50 0.36 -> 0.83 ms).
 * No gain, measured: --smol (--compile-exec-argv), a periodic full GC,
 * --bytecode-order profiles, Elysia's aot: false; dropping --bytecode
 * (RSS -2 MiB but render 12 -> 21 ms) and --bytecode-depth=0 (-1.7 MiB)
 * trade start-up for little memory.
 */
export const COMPILE_FLAGS = ["--compile", "--splitting", "--minify", "--sourcemap=none", "--bytecode", "--format=esm", "--compile-jit-policy=8"];
