/**
 * JSON text as ThreeTone signs it, read and written without losing anything (docs/decisions.md,
 * "Webhook text is kept exact").
 *
 * - Bytes are decoded strictly: invalid UTF-8 is refused, never replaced by U+FFFD, so the text that
 *   is queued and stored is exactly the text that was signed (a BOM is kept, and then refused by the
 *   JSON parser).
 * - Nesting is measured by a flat scan before parsing, so no depth can overflow a stack.
 * - Numbers that a double cannot hold exactly (an 18-digit account id, `1e400`) are kept as
 *   `LosslessNumber`s (lossless-json) with their exact digits, and written back as they came.
 * - Keys such as `__proto__` and `constructor` are ordinary own properties.
 * - A key repeated in one object keeps its last value, as `JSON.parse` does.
 */
import { isLosslessNumber, isSafeNumber, LosslessNumber, parse, stringify } from 'lossless-json';

export { isLosslessNumber, LosslessNumber };

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The text of `bytes`, or `null` when they are not well-formed UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return UTF8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * The deepest nesting of arrays and objects in `text` (the top-level value is depth 1), scanning
 * only as far as needed: returns as soon as the depth exceeds `limit`. Syntax is not checked here.
 */
export function nestingDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return max;
}

const parseNumber = (lexeme: string): number | LosslessNumber => (isSafeNumber(lexeme) ? Number(lexeme) : new LosslessNumber(lexeme));

/**
 * Parses JSON like `JSON.parse`, except that numbers a double cannot hold exactly stay
 * `LosslessNumber`s. Throws `SyntaxError` on invalid JSON. Call `nestingDepth` first: the parser
 * recurses.
 */
export function parseJson(text: string): unknown {
  return parse(text, null, { parseNumber, onDuplicateKey: ({ newValue }) => newValue });
}

/** `JSON.stringify` that writes `LosslessNumber`s with their exact digits. */
export function stringifyJson(value: unknown): string {
  return stringify(value) ?? 'null';
}

/** The number a value holds, when it is a JSON number (a `LosslessNumber` as the nearest double). */
export function numberOf(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (isLosslessNumber(v)) return Number((v as LosslessNumber).value);
  return null;
}

/**
 * The first path (e.g. `data.notes[2]`, keys as sent) holding a string or key that is not
 * well-formed Unicode (a lone surrogate, written as a `\ud800` escape), or `null`. Iterative.
 */
export function illFormedStringPath(value: unknown, root: string): string | null {
  const stack: Array<[unknown, string]> = [[value, root]];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (!v.isWellFormed()) return path;
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${path}[${i}]`]);
    } else if (v !== null && typeof v === 'object' && !isLosslessNumber(v)) {
      for (const [k, child] of Object.entries(v)) {
        if (!k.isWellFormed()) return path;
        stack.push([child, `${path}.${k}`]);
      }
    }
  }
  return null;
}
