/**
 * Run inside the node test's network namespace (`nsenter --net=/run/netns/NS bun
 * bridge.ts SOCKET=HOST:PORT ...`): for each pair, listens on the Unix
 * socket SOCKET and connects every accepted connection to HOST:PORT in that
 * namespace. Unix sockets are files, so the test process, which stays in the
 * machine's own namespace, reaches the node's API server and pods through
 * them (test/node/node.ts puts a loopback TCP listener in front), while no
 * packet ever leaves the namespace or touches a real interface.
 */
import { rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { splice } from "../support/splice.ts";

for (const arg of process.argv.slice(2)) {
  const m = /^(.+)=(.+):(\d+)$/.exec(arg);
  if (!m) {
    console.error(`bridge: bad argument ${JSON.stringify(arg)} (want SOCKET=HOST:PORT)`);
    process.exit(2);
  }
  const [, socket, host, port] = m as unknown as [string, string, string, string];
  rmSync(socket, { force: true });
  createServer((client) => {
    splice(client, connect(Number(port), host));
  }).listen(socket);
}
console.log("bridge ready");
