/**
 * Replace a file so that a concurrent reader (MinIO) sees either the old or
 * the new content, never a half-written one, and so that the new content is
 * on disk before it replaces the old (SPEC 3): write a temp file in the same
 * directory, fsync it, rename it over the target, fsync the directory.
 * Unchanged content is not rewritten, so MinIO is not disturbed needlessly.
 *
 * Reading, writing, renaming are node:fs's blocking calls: for a file of a
 * few KiB they take microseconds, less than a thread-pool round trip. The two
 * fsyncs are where the time can go (on a busy ext4 one can wait for a whole
 * journal commit), so how they run is the caller's choice:
 * - on Bun's thread pool (the default, the sidecar), so a slow disk never
 *   stalls the event loop that answers the readiness probe;
 * - blocking (`blockingFsync`, validate, which does nothing else meanwhile
 *   and so saves the pool's start and its round trips).
 * Only the fsyncs use the pool: with every step on it (node:fs/promises, nine
 * round trips per write) the sidecar's RSS drifted by ~2.3 MiB per million
 * config updates; with blocking calls it stayed flat (bench/LEAK-REPORT.md).
 */
import { basename, dirname, join } from "node:path";

/**
 * Owner only: the file holds the root credentials. MinIO and the sidecar run
 * as the same uid (the pool's security context), so no group bit is needed;
 * with `fsGroup` the emptyDir is setgid and every container of the pod shares
 * its group, so 0640 would hand the password to all of them.
 */
export const CONFIG_FILE_MODE = 0o600;

const fs = () => process.getBuiltinModule("node:fs");

const readText = (path: string): string | undefined => {
  try {
    return fs().readFileSync(path, "utf8");
  } catch {
    return undefined; // absent or unreadable: write it
  }
};

type Fsync = (fd: number) => unknown;

const blockingFsync: Fsync = (fd) => fs().fsyncSync(fd);
const pooledFsync: Fsync = (fd) => new Promise<void>((resolve, reject) => fs().fsync(fd, (err) => (err ? reject(err) : resolve())));

/** fsync of a directory; not every filesystem allows it, so failures are ignored. */
const syncDir = async (dir: string, fsync: Fsync) => {
  try {
    const fd = fs().openSync(dir, "r");
    try {
      await fsync(fd);
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
export async function writeFileAtomic(path: string, content: string, opts: { mode?: number; blockingFsync?: boolean } = {}): Promise<boolean> {
  const mode = opts.mode ?? CONFIG_FILE_MODE;
  const fsync = opts.blockingFsync ? blockingFsync : pooledFsync;
  if (readText(path) === content) {
    // Same content, but a file left by an older version (0640) is narrowed in place.
    quietly(() => {
      if ((fs().statSync(path).mode & 0o777) !== mode) fs().chmodSync(path, mode);
    });
    return false;
  }

  const { closeSync, fchmodSync, mkdirSync, openSync, renameSync, unlinkSync, writeFileSync } = fs();
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  const fd = openSync(tmp, "wx", mode); // "wx": never follows or reuses a stray file
  let closed = false;
  try {
    writeFileSync(fd, content, "utf8");
    fchmodSync(fd, mode); // the umask may have narrowed the mode; be exact
    await fsync(fd);
    closed = true;
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    if (!closed) quietly(() => closeSync(fd));
    quietly(() => unlinkSync(tmp));
    throw err;
  }
  await syncDir(dir, fsync);
  return true;
}
