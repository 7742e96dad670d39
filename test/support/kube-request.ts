/**
 * One GET through src/kube/kubeconfig.ts and node-fetch, for running the
 * loader under another runtime (Deno) in a child process:
 *   deno run -A test/support/kube-request.ts KUBECONFIG PATH
 * Prints `<status> <auth plugin or none>`.
 */
import fetch from "node-fetch";
import { loadKubeConfig } from "../../src/kube/kubeconfig.ts";

const [file, path] = (globalThis as { Deno?: { args: string[] } }).Deno?.args ?? process.argv.slice(2);
const kc = loadKubeConfig(file);
const res = await fetch(`${kc.getCurrentCluster()!.server}${path}`, (await kc.applyToFetchOptions({})) as never);
await res.text();
console.log(`${res.status} ${kc.authPlugin() ?? "none"}`);
