// JSON text parsing with one-line, positioned error messages for users.
//
// Exported API:
//   parseJsonText(text): { ok: true; value: unknown } | { ok: false; error: string }
//
// Why: V8's JSON.parse messages are sometimes positioned ("… at position 7 (line 1 column 8)") and
// sometimes not ("Unexpected token '}', "<the whole input>" is not valid JSON"): the latter has no
// position and can embed a multi-line input, which breaks one-line error messages. When JSON.parse
// fails we re-scan the text with a small RFC 8259 recogniser to find the first offending character.
// A document nested more than 512 levels deep is refused as well (MAX_DEPTH says why).

export type JsonTextOutcome = { ok: true; value: unknown } | { ok: false; error: string };

/**
 * Deeper documents are refused, valid or not. V8's JSON.parse takes any depth, but JSON.stringify and
 * structuredClone overflow the stack a few thousand levels down (a RangeError far from here: a pod
 * annotation's `cni-args` is stringified into the delegate's config).
 */
const MAX_DEPTH = 512;
const TOO_DEEP = `nested more than ${String(MAX_DEPTH)} levels deep`;

/** Parse `text` as JSON; on failure `error` reads like `line 1 column 8: expected a value, found "}"`. */
export function parseJsonText(text: string): JsonTextOutcome {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (err) {
    const found = locateJsonError(text);
    if (found !== undefined) return { ok: false, error: `${lineColumn(text, found.pos)}: ${found.what}` };
    // Our recogniser accepted what V8 refused (should not happen): keep V8's words, on one line.
    return { ok: false, error: (err as Error).message.replace(/\s+/g, " ").slice(0, 200) };
  }
  const deep = tooDeepAt(text);
  if (deep !== undefined) return { ok: false, error: `${lineColumn(text, deep)}: ${TOO_DEEP}` };
  return { ok: true, value };
}

/** In valid JSON text: the position of the first `[` or `{` nested deeper than MAX_DEPTH, if any. */
function tooDeepAt(text: string): number | undefined {
  // Every level is an opening and a closing bracket: a shorter text cannot be too deep.
  if (text.length < 2 * (MAX_DEPTH + 1)) return undefined;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_DEPTH) return i;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return undefined;
}

function lineColumn(text: string, pos: number): string {
  let line = 1;
  let col = 1;
  for (let i = 0; i < pos && i < text.length; i++) {
    if (text[i] === "\n") {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  return pos >= text.length ? `line ${line} column ${col} (end of input)` : `line ${line} column ${col}`;
}

interface JsonSyntaxError {
  pos: number;
  what: string;
}

class Fail extends Error {
  readonly pos: number;
  readonly what: string;
  constructor(pos: number, what: string) {
    super(what);
    this.pos = pos;
    this.what = what;
  }
}

/** The first syntax error of `text`, or undefined when it is valid JSON. */
function locateJsonError(text: string): JsonSyntaxError | undefined {
  let i = 0;
  const describeAt = (p: number): string => (p >= text.length ? "end of input" : JSON.stringify(text[p]));
  const ws = (): void => {
    while (i < text.length && (text[i] === " " || text[i] === "\t" || text[i] === "\n" || text[i] === "\r")) i++;
  };
  const expect = (what: string): never => {
    throw new Fail(i, `expected ${what}, found ${describeAt(i)}`);
  };
  const literal = (word: string): void => {
    if (text.startsWith(word, i)) {
      i += word.length;
      return;
    }
    // Point at the first character that differs.
    let k = 0;
    while (k < word.length && text[i + k] === word[k]) k++;
    i += k;
    expect(`"${word}"`);
  };
  const string = (): void => {
    i++; // opening quote
    for (;;) {
      if (i >= text.length) throw new Fail(i, "unterminated string");
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) throw new Fail(i, "control character in string (escape it, e.g. \\n)");
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new Fail(i, "bad \\u escape in string");
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) throw new Fail(i, "bad escape in string");
        i += 2;
        continue;
      }
      i++;
    }
  };
  const number = (): void => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (m === null || m[0] === "" || m[0] === "-") expect("a value");
    i += (m?.[0] ?? "").length;
  };
  const value = (depth: number): void => {
    ws();
    const c = text[i];
    // `depth` containers enclose this value; one more is too many (the same limit as tooDeepAt).
    if ((c === "{" || c === "[") && depth >= MAX_DEPTH) throw new Fail(i, TOO_DEEP);
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') expect("a double-quoted property name");
        string();
        ws();
        if (text[i] !== ":") expect('":"');
        i++;
        value(depth + 1);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return;
        }
        expect('"," or "}"');
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return;
        }
        expect('"," or "]"');
      }
    }
    if (c === '"') {
      string();
      return;
    }
    if (c === "t") {
      literal("true");
      return;
    }
    if (c === "f") {
      literal("false");
      return;
    }
    if (c === "n") {
      literal("null");
      return;
    }
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) {
      number();
      return;
    }
    expect("a value");
  };
  try {
    value(0);
    ws();
    if (i < text.length) throw new Fail(i, `unexpected ${describeAt(i)} after the JSON value`);
    return undefined;
  } catch (err) {
    if (err instanceof Fail) return { pos: err.pos, what: err.what };
    throw err;
  }
}
