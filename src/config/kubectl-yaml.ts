/**
 * YAML as `kubectl apply` reads it, on every runtime (js-yaml, which ships
 * with client-node anyway), so that Bun and Deno accept and reject the same
 * documents:
 * - a duplicated key is an error (kubectl's strict field validation);
 * - dates and times stay strings (kubectl's YAML to JSON keeps them as text);
 * - yes/no/on/off (any case, and y/n) are booleans, as kubectl reads them, so
 *   an unquoted `value: on` is a schema error here as the API server makes it.
 * Imported only when a manifest is not plain enough for the native parser
 * (./plain-yaml.ts), or on a runtime without one.
 */
import { CORE_SCHEMA, loadAll, Type, YAMLException } from "js-yaml";
import * as jsyaml from "js-yaml";

// This replaces the core schema's boolean (one type per tag), so it carries true/false too.
const YAML11_TRUE = /^(?:true|True|TRUE|y|Y|yes|Yes|YES|on|On|ON)$/;
const YAML11_FALSE = /^(?:false|False|FALSE|n|N|no|No|NO|off|Off|OFF)$/;
const yaml11Bool = new Type("tag:yaml.org,2002:bool", {
  kind: "scalar",
  resolve: (data: string | null) => data !== null && (YAML11_TRUE.test(data) || YAML11_FALSE.test(data)),
  construct: (data: string) => YAML11_TRUE.test(data),
  predicate: (value: unknown) => typeof value === "boolean",
});
// js-yaml exports its built-in types at run time; @types/js-yaml does not declare them.
const { merge } = (jsyaml as unknown as { types: { merge: Type } }).types;
/** YAML 1.2 core (null, true/false, numbers) plus YAML 1.1 booleans and `<<` merge keys; no timestamps. */
const KUBECTL_SCHEMA = CORE_SCHEMA.extend({ implicit: [yaml11Bool, merge] });

/** Every document of `text`; a syntax error throws with a message of line and reason only ("" when neither is known). */
export function loadKubectlYaml(text: string): unknown[] {
  try {
    return loadAll(text, null, { schema: KUBECTL_SCHEMA });
  } catch (err) {
    // Line and kind of problem only: js-yaml's full message quotes the document, which may hold secrets.
    throw new Error(err instanceof YAMLException ? `at line ${err.mark.line + 1}: ${problemKind(err.reason)}` : "");
  }
}

/**
 * js-yaml's reason without what it quotes from the document: some reasons
 * name an alias, a tag or a directive (`unidentified alias "hunter2"`,
 * `unknown tag !<!hunter2>`), and in a Secret that can be the first word of
 * a password. What is left says what kind of problem it is.
 */
function problemKind(reason: string): string {
  return reason
    .replace(/\s*"[^"]*"/g, "")
    .replace(/\s*'[^']*'/g, "")
    .replace(/\s*!<[^>]*>/g, "")
    .replace(/\s*![^\s,;:)]*/g, "")
    .trim();
}
