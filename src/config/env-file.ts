/**
 * MinIO's env-file format (SPEC 3). MinIO trims each line, strips `export`,
 * splits on the first `=` and removes one matching pair of quotes, without
 * unescaping anything. So every value is written verbatim inside double
 * quotes, which round-trips any value that has no line break or NUL.
 */
import { InputError } from "../errors.ts";

/** What MinIO's parser (and a shell) accepts as a variable name (SPEC 3). */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const UNREPRESENTABLE = /[\r\n\0]/;

/** Throws naming the variable (never the value) when MinIO's parser could not read it back. */
export function assertRepresentable(object: string, field: string, value: string): void {
  if (UNREPRESENTABLE.test(value)) {
    throw new InputError(object, field, "value contains a line break or NUL, which MinIO's config file cannot represent");
  }
}

/** `export NAME="VALUE"` lines sorted by NAME (byte order). Throws naming the variable, never its value. */
export function renderEnvFile(env: ReadonlyMap<string, string>, object = "config.env"): string {
  const names = [...env.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return names
    .map((name) => {
      if (!ENV_NAME.test(name)) throw new InputError(object, name, "is not a valid environment variable name");
      const value = env.get(name) ?? "";
      assertRepresentable(object, name, value);
      return `export ${name}="${value}"\n`;
    })
    .join("");
}
