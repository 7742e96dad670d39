/**
 * Start-up cost of `render` (compiled binary) against a compiled hello-world
 * Bun binary, median of N runs each, interleaved run by run so machine noise
 * hits both alike, in the same run. Goal (issue 11): ratio <= 1.8.
 */
import { fmt, helloWorldBinary, median, requireProduct, result, timeInterleaved } from "./lib.ts";

const runs = Number(process.env.RUNS ?? 30);
const bin = requireProduct();
const hello = helloWorldBinary();
const ex = "deploy/examples";
const GOAL = 1.8;
const [render, helloRuns] = timeInterleaved([[bin, "render", "--tenant-file", `${ex}/tenant.yaml`, "--secret-file", `${ex}/secret.yaml`], [hello]], runs);
const renderMs = median(render!);
const helloMs = median(helloRuns!);
const ratio = renderMs / helloMs;
console.log(`render (compiled)       median ${fmt(renderMs)} ms over ${runs} runs`);
console.log(`hello-world (compiled)  median ${fmt(helloMs)} ms over ${runs} runs`);
console.log(`ratio ${fmt(ratio, 2)} (goal <= ${GOAL}: ${ratio <= GOAL ? "met" : "NOT met"})`);
result([{ figure: "render start-up (median)", value: +renderMs.toFixed(1), unit: "ms", baseline: +helloMs.toFixed(1), baselineLabel: "compiled hello-world", goal: `ratio <= ${GOAL}`, met: ratio <= GOAL }]);
