/**
 * How the product binary is compiled, in one place: scripts/build.ts uses it
 * and so do the benches' probe binaries (bench/probes.ts), so that a probe
 * measures what the product pays.
 * --splitting keeps lazily imported commands out of the start-up path
 * (--version 32 -> 16 ms); --bytecode cut start-up ~120 -> ~35 ms (SPEC 7).
 */
export const COMPILE_FLAGS = ["--compile", "--splitting", "--minify", "--sourcemap=none", "--bytecode", "--format=esm"];
