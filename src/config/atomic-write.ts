/**
 * Replace a file so that a concurrent reader (MinIO) sees either the old or
 * the new content, never a half-written one: write a temp file in the same
 * directory, rename it over the target. Unchanged content is not rewritten,
 * so MinIO is not disturbed needlessly.
 *
 * The calls are node:fs's blocking ones. For a file of a few KiB on the pod's
 * own volume they take microseconds, less than a thread-pool round trip, and
 * they keep the sidecar flat over millions of updates: with Bun's thread-pool
 * calls (node:fs/promises) its RSS drifted by ~2.3 MiB per million config
 * updates, with blocking calls it stayed flat (bench/LEAK-REPORT.md).
 *
 * `durable` (validate's choice) adds fsync of the temp file before the rename
 * and of the directory after it, so the file survives a node crash right after
 * the pod started. The sidecar leaves it off: an fsync on a busy ext4 can wait
 * for a whole journal commit, and a blocking one would stall the loop that
 * answers the readiness probe. Nothing is lost by that: the rename alone is
 * what makes the replacement atomic for readers, and after a node crash the
 * pod starts again and its init container (validate) writes the file anew.
 * The kubelet's own atomic writer for ConfigMap and Secret volumes does not
 * fsync either.
 */
import { basename, dirname, join } from "node:path";

/** Not world-readable: the file holds the root credentials. */
export const CONFIG_FILE_MODE = 0o640;

const fs = () => process.getBuiltinModule("node:fs");

const readText = (path: string): string | undefined => {
  try {
    return fs().readFileSync(path, "utf8");
  } catch {
    return undefined; // absent or unreadable: write it
  }
};

/** fsync of a directory; not every filesystem allows it, so failures are ignored. */
const syncDir = (dir: string) => {
  try {
    const fd = fs().openSync(dir, "r");
    try {
      fs().fsyncSync(fd);
    } finally {
      fs().closeSync(fd);
    }
  } catch {
    // not allowed on this filesystem
  }
};

/** Clean-up after a failure: its own errors must not hide the first one. */
const quietly = (step: () => unknown) => {
  try {
    step();
  } catch {
    // the original error is the one reported
  }
};

/** Returns true when the file was written, false when it already had this content. */
export function writeFileAtomic(path: string, content: string, opts: { mode?: number; durable?: boolean } = {}): boolean {
  const mode = opts.mode ?? CONFIG_FILE_MODE;
  if (readText(path) === content) return false;

  const { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeFileSync } = fs();
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  const fd = openSync(tmp, "wx", mode); // "wx": never follows or reuses a stray file
  let closed = false;
  try {
    writeFileSync(fd, content, "utf8");
    fchmodSync(fd, mode); // the umask may have narrowed the mode; be exact
    if (opts.durable) fsyncSync(fd);
    closed = true;
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    if (!closed) quietly(() => closeSync(fd));
    quietly(() => unlinkSync(tmp));
    throw err;
  }
  if (opts.durable) syncDir(dir);
  return true;
}
