/**
 * The chaos run's reader, in its own process so that it races the sidecar's
 * writes for real: reads FILE until STOPFILE exists and at least MIN reads
 * were made; every read must be a complete config file. Prints JSON counts.
 */
import { existsSync, readFileSync } from "node:fs";

const [file, stopFile, min] = process.argv.slice(2) as [string, string, string];
const LINE = /^export [A-Za-z_][A-Za-z0-9_]*=".*"$/;
let reads = 0;
let bad = 0;
const distinct = new Set<string>();

const complete = (text: string) =>
  text.endsWith("\n") &&
  text.includes('export MINIO_ARGS="') &&
  text.includes('export MINIO_STEP="') &&
  text.slice(0, -1).split("\n").every((l) => LINE.test(l));

while (reads < Number(min) || !existsSync(stopFile)) {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    // absent counts as a bad read: the file must exist from the first write on
  }
  reads++;
  if (!complete(text)) bad++;
  else distinct.add(text.match(/MINIO_STEP="(\d+)"/)?.[1] ?? "");
  // Yield now and then so the stop file check stays cheap but reads stay dense.
  if (reads % 500 === 0) await new Promise((r) => setTimeout(r, 1));
}
console.log(JSON.stringify({ reads, bad, distinct: distinct.size }));
