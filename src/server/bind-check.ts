/**
 * Start-up check that every listen address can be bound, before the sidecar
 * spends up to 10 s on its first read of the cluster: a port that is taken
 * is reported at once, naming the flag, instead of after the wait.
 * All sockets stay open until all are checked, so two flags naming one port
 * are caught too; then they are closed and the real servers bind.
 */
import { createServer, type Server } from "node:net";
import { InputError } from "../errors.ts";
import { parseAddress } from "../runtime/index.ts";

export async function checkBindable(addresses: ReadonlyArray<{ flag: string; value: string }>): Promise<void> {
  const held: Server[] = [];
  try {
    for (const { flag, value } of addresses) {
      const { hostname, port } = parseAddress(value);
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host: hostname, port, exclusive: true }, () => resolve());
      }).catch((err: NodeJS.ErrnoException) => {
        throw new InputError(`${flag} ${value}`, "", reasonOf(err));
      });
      held.push(server);
    }
  } finally {
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  }
}

function reasonOf(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "EADDRINUSE":
      return "address already in use (another process, or another of the three address flags, holds this port)";
    case "EACCES":
      return "permission denied (ports below 1024 need privileges)";
    case "EADDRNOTAVAIL":
      return "address not available on this host";
    default:
      return `cannot listen: ${err.code ?? err.message}`;
  }
}
