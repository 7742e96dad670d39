/**
 * Whether a manifest's text lies in the plain part of YAML where Bun's
 * native parser gives exactly what js-yaml under the kubectl schema gives
 * (./kubectl-yaml.ts), so `render` may use the native parser.
 *
 * Why: js-yaml runs in the interpreter at start-up and took 2.5-3.5 ms of
 * a compiled `render` for a 2.8 KB Tenant (about a third of the command),
 * against 0.3 ms natively. But the native parser differs on some inputs
 * (duplicate keys: last wins, where kubectl and js-yaml refuse; yes/no/on/off
 * stay strings; `!!binary`, complex keys), so it may only see documents
 * that this check has read line by line and found to hold nothing but:
 *
 * - one document (an optional leading `---`), its top a block mapping;
 * - block mappings and sequences, indented with spaces, every key unique in
 *   its mapping (checked here: the native parser cannot report it);
 * - keys that are plain words (`app.kubernetes.io/name`) other than the
 *   YAML 1.1 booleans and null/true/false, or quoted without escapes;
 * - values that are: nothing (a nested node or null), `{}`, `[]`, a block
 *   scalar (`|`, `|-`, `|+`, `>`, `>-`, `>+`), a one-line quoted string
 *   without escapes, or a one-line plain scalar that is a word (starting
 *   with a letter, `_` or `/`; not a YAML 1.1 boolean), null, true or false,
 *   a plain decimal integer, or a Kubernetes quantity (`1Ti`, `500m`);
 * - comments, and printable characters other than tabs and CR.
 *
 * Anything else (anchors, tags, flow collections with content, multi-line
 * plain scalars, several documents, other numbers, YAML 1.1 booleans, a
 * duplicate key, a line this reading does not know) answers false, and the
 * caller parses with js-yaml, which also words every error. A false answer
 * only costs time; a wrong true would change what `render` accepts, so each
 * rule errs towards false (test/plain-yaml.test.ts compares both parsers
 * over a corpus of such documents).
 */

// Regular expressions are few and small on purpose: compiling them is most of this check's
// cost at start-up (a 24-word alternation alone took ~0.1 ms); word lists are Sets instead.
// Printable text only: no tab, CR, controls, C1 (incl. NEL), BOM, surrogates (so no astral
// characters either), U+2028/2029 or U+FFFE/FFFF.
const UNUSUAL_CHARACTER = /[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]/;
// Words a YAML 1.1 reader (kubectl) reads as booleans and the native (YAML 1.2) parser as strings.
const ONE_ONE_BOOLEANS = new Set("y Y n N yes Yes YES no No NO on On ON off Off OFF".split(" "));
// Words both read alike as null, true or false: fine as values, not as keys (a key must stay a string).
const CORE_WORDS = new Set("~ null Null NULL true True TRUE false False FALSE".split(" "));
const PLAIN_KEY = /^([A-Za-z_][\w.\/-]*):(?: +(.*))?$/;
// Compiled only for a line that starts with a quote (the alternation costs ~0.1 ms to compile).
let quotedKey: RegExp | undefined;
const QUOTED_KEY = () => (quotedKey ??= /^(?:"([^"\\]*)"|'((?:[^']|'')*)'):(?: +(.*))?$/);
// What may follow a value on its line: spaces, then a comment.
const COMMENT = /^ *(?: #.*)?$/;
const NUMBER = /^(?:0|[1-9][0-9]{0,14}|[0-9]+(?:\.[0-9]+)?(?:[KMGTPE]i|[kMGTPEmun]))$/;

interface Mapping {
  column: number;
  keys: Set<string>;
}

export function isPlainYaml(text: string): boolean {
  if (UNUSUAL_CHARACTER.test(text)) return false;
  const mappings: Mapping[] = [];
  const closeDeeperThan = (column: number) => {
    while (mappings.length > 0 && mappings[mappings.length - 1]!.column > column) mappings.pop();
  };
  let seenContent = false;
  // Inside a block scalar: the column of its parent node, and its content's indentation once known.
  let blockParent = -1;
  let blockIndent = -1;
  // After a scalar value on a line: the column a following line must not go beyond (no continuation).
  let scalarParent = -1;

  for (const line of text.split("\n")) {
    const rest = line.trimStart();
    const indent = line.length - rest.length;
    if (blockParent >= 0) {
      if (rest === "") {
        if (line.length > 0) return false; // a spaces-only line in a block scalar: indentation rules differ in edge cases
        continue;
      }
      if (indent > blockParent) {
        if (blockIndent < 0) blockIndent = indent;
        else if (indent < blockIndent) return false;
        continue;
      }
      blockParent = -1;
    }
    if (rest === "" || rest.startsWith("#")) continue;
    if (line.startsWith("---") || line.startsWith("...")) {
      if (line === "---" && !seenContent) continue;
      return false; // more than one document, or a marker with content
    }
    if (scalarParent >= 0 && indent > scalarParent) return false; // a multi-line plain scalar, or worse
    scalarParent = -1;
    if (!seenContent && (indent > 0 || rest.startsWith("-"))) return false; // the top must be a block mapping
    seenContent = true;

    let column = indent;
    let s = rest;
    let parent = column; // the column of the node this line's value belongs to
    while (s === "-" || s.startsWith("- ")) {
      closeDeeperThan(column);
      parent = column;
      if (s === "-") {
        s = "";
        break;
      }
      const after = s.slice(2);
      const item = after.trimStart();
      column += 2 + (after.length - item.length);
      s = item;
    }
    if (s === "" || s.startsWith("#")) continue; // an item whose node follows on the next lines

    const plainKey = PLAIN_KEY.exec(s);
    const key = plainKey ?? (s[0] === '"' || s[0] === "'" ? QUOTED_KEY().exec(s) : null);
    let value: string;
    if (key) {
      const name = plainKey ? key[1]! : (key[1] ?? key[2]!.replaceAll("''", "'"));
      if ((plainKey && (ONE_ONE_BOOLEANS.has(name) || CORE_WORDS.has(name))) || name === "__proto__") return false;
      closeDeeperThan(column);
      let mapping = mappings[mappings.length - 1];
      if (!mapping || mapping.column < column) mappings.push((mapping = { column, keys: new Set() }));
      if (mapping.keys.has(name)) return false; // a duplicate: js-yaml words the error
      mapping.keys.add(name);
      parent = column;
      value = (plainKey ? key[2] : key[3]) ?? "";
    } else {
      if (column === indent) return false; // neither a key nor a sequence item: a continuation line
      value = s;
    }

    if (value === "" || value.startsWith("#")) continue; // a nested node follows, or null
    const first = value[0];
    if ((first === "|" || first === ">") && COMMENT.test(value.slice(value[1] === "-" || value[1] === "+" ? 2 : 1))) {
      blockParent = parent;
      blockIndent = -1;
      continue;
    }
    if (!plainValue(value)) return false;
    scalarParent = parent;
  }
  return seenContent;
}

/** A one-line value both parsers read alike. */
function plainValue(value: string): boolean {
  const first = value[0];
  if (first === '"' || first === "'") {
    // One line, no escapes: '' is the only escape in single quotes, and it stays inside.
    const end = first === '"' ? value.indexOf('"', 1) : value.replaceAll("''", "__").indexOf("'", 1);
    return end > 0 && !(first === '"' && value.slice(1, end).includes("\\")) && COMMENT.test(value.slice(end + 1));
  }
  if (first === "{" || first === "[") return value[1] === (first === "{" ? "}" : "]") && COMMENT.test(value.slice(2));
  const comment = value.indexOf(" #");
  const scalar = (comment < 0 ? value : value.slice(0, comment)).trimEnd();
  if (scalar.includes(": ") || scalar.endsWith(":")) return false; // a nested mapping on one line: an error to YAML
  if (ONE_ONE_BOOLEANS.has(scalar)) return false; // a boolean to kubectl, a string to the native parser
  if (CORE_WORDS.has(scalar)) return true;
  if (first! >= "0" && first! <= "9") return NUMBER.test(scalar);
  // A word: it starts with a letter, _ or / (so it is no number, timestamp or indicator) and
  // holds no flow brackets.
  const word = (first! >= "A" && first! <= "Z") || (first! >= "a" && first! <= "z") || first === "_" || first === "/";
  return word && !/[[\]{}]/.test(scalar);
}
