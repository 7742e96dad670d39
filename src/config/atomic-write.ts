/**
 * Replace a file so that a concurrent reader (MinIO) sees either the old or
 * the new content, never a half-written one: write a temp file in the same
 * directory, fsync it, rename it over the target, fsync the directory.
 * Unchanged content is not rewritten, so MinIO is not disturbed needlessly.
 */
import { mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Not world-readable: the file holds the root credentials. */
export const CONFIG_FILE_MODE = 0o640;

/** Returns true when the file was written, false when it already had this content. */
export async function writeFileAtomic(path: string, content: string, mode = CONFIG_FILE_MODE): Promise<boolean> {
  const current = await readFile(path, "utf8").catch(() => undefined);
  if (current === content) return false;

  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  const fh = await open(tmp, "wx", mode); // "wx": never follow or reuse a stray file
  try {
    await fh.writeFile(content, "utf8");
    await fh.chmod(mode); // the umask may have narrowed the mode; be exact
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (err) {
    await fh.close().catch(() => {}); // already closed on the rename path; harmless
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await syncDir(dir);
  return true;
}

/** fsync the directory so the rename itself survives a crash; not every filesystem allows it. */
async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, "r").catch(() => undefined);
  if (!dh) return;
  await dh.sync().catch(() => {});
  await dh.close().catch(() => {});
}
