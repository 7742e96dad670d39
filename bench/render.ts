/**
 * Start-up cost of `render` (compiled binary) against a compiled hello-world
 * Bun binary, median of N runs each, in the same run. Goal: ratio <= 2.0.
 */
import { fmt, helloWorldBinary, median, requireProduct, result, timeCommand } from "./lib.ts";

const runs = Number(process.env.RUNS ?? 30);
const bin = requireProduct();
const hello = helloWorldBinary();
const ex = "deploy/examples";
const renderMs = median(timeCommand([bin, "render", "--tenant-file", `${ex}/tenant.yaml`, "--secret-file", `${ex}/secret.yaml`], runs));
const helloMs = median(timeCommand([hello], runs));
console.log(`render (compiled)       median ${fmt(renderMs)} ms over ${runs} runs`);
console.log(`hello-world (compiled)  median ${fmt(helloMs)} ms over ${runs} runs`);
console.log(`ratio ${fmt(renderMs / helloMs, 2)} (goal <= 2.0)`);
result([{ figure: "render start-up (median)", value: +renderMs.toFixed(1), unit: "ms", baseline: +helloMs.toFixed(1), baselineLabel: "compiled hello-world", goal: "ratio <= 2.0" }]);
