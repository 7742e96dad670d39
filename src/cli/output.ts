/**
 * Synchronous writes to stdout and stderr. `process.stdout` costs about 4 ms
 * to set up under Bun, paid by every `render` and `--version`; a plain
 * write(2) on the file descriptor costs nothing and cannot be lost at exit.
 */
import { writeSync } from "node:fs";

export function write(fd: 1 | 2, text: string): void {
  const buf = Buffer.from(text, "utf8");
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (err) {
      // A non-blocking pipe that is full: try again (the reader is draining it).
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
    }
  }
}

export const stdout = (text: string) => write(1, text);
export const stderr = (text: string) => write(2, text);
