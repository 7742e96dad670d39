/**
 * Reading the Secret's `config.env` (SPEC 3.1). Lenient the way MinIO's own
 * parser is, but a line we cannot read is reported by line number only: its
 * content may be a password.
 */
import { InputError } from "../errors.ts";
import type { Secret } from "../tenant/schema.ts";
import { checkSchema } from "../tenant/validate.ts";
import { ENV_NAME } from "./env-file.ts";

export const CONFIG_KEY = "config.env";

/** The Secret, checked against its schema (tenant/schema.ts); a mismatch names the field. */
export function parseSecret(value: unknown, object: string): Promise<Secret> {
  return checkSchema("Secret", value, object);
}

export interface ParsedEnv {
  vars: Map<string, string>;
  /** Line numbers (1-based) that were skipped as unreadable. */
  skippedLines: number[];
}

export function parseConfigEnv(text: string): ParsedEnv {
  const vars = new Map<string, string>();
  const skippedLines: number[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const body = /^export\s/.test(line) ? line.slice(6).trimStart() : line;
    const eq = body.indexOf("=");
    const name = eq < 0 ? "" : body.slice(0, eq).trim();
    if (!ENV_NAME.test(name)) {
      skippedLines.push(i + 1);
      return;
    }
    vars.set(name, unquote(body.slice(eq + 1)));
  });
  return { vars, skippedLines };
}

/** Remove one matching pair of `"` or `'`, exactly as MinIO does (nothing is unescaped). */
export function unquote(v: string): string {
  const q = v[0];
  return v.length >= 2 && (q === '"' || q === "'") && v.endsWith(q) ? v.slice(1, -1) : v;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The text of `config.env` in a Secret (`data` base64 wins over `stringData`), "" when absent. */
export function configEnvText(secret: Secret, object: string): string {
  const b64 = secret.data?.[CONFIG_KEY];
  if (b64 !== undefined) {
    const compact = b64.replace(/\s+/g, "");
    if (compact.length % 4 !== 0 || !BASE64.test(compact)) {
      throw new InputError(object, `data["${CONFIG_KEY}"]`, "is not valid base64");
    }
    // Web-standard decoding (invalid UTF-8 becomes U+FFFD, as Buffer's did): node:buffer stays off render's start-up.
    return new TextDecoder().decode(Uint8Array.fromBase64(compact));
  }
  return secret.stringData?.[CONFIG_KEY] ?? "";
}
