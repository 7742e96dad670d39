/**
 * Joins two sockets both ways (a TCP relay): when either ends or fails, both
 * are destroyed and `onEnd` runs once. The real API server's restartable
 * front (test/kube-apiserver), the node test's namespace bridge and its
 * loopback listeners (test/node) all relay this way.
 */
import type { Socket } from "node:net";

export function splice(a: Socket, b: Socket, onEnd?: () => void): void {
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    onEnd?.();
    a.destroy();
    b.destroy();
  };
  a.on("error", end).on("close", end);
  b.on("error", end).on("close", end);
  a.pipe(b);
  b.pipe(a);
}
