/**
 * MinIO's own reader of MINIO_CONFIG_ENV_FILE, transcribed from SPEC 3 (the
 * Go code in minio/internal/config): trim, skip blanks and comments, strip a
 * leading `export`, split on the first `=`, drop one matching quote pair.
 * Tests read our files through it to prove MinIO gets the exact values.
 */
export function readLikeMinio(file: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const raw of file.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const rest = (line.startsWith("export") ? line.slice("export".length) : line).trim();
    const eq = rest.indexOf("=");
    if (eq < 0) throw new Error("malformed line");
    const key = rest.slice(0, eq);
    let val = rest.slice(eq + 1);
    const q = val[0];
    if (val.length >= 2 && (q === '"' || q === "'") && val[val.length - 1] === q) val = val.slice(1, -1);
    env.set(key, val);
  }
  return env;
}
