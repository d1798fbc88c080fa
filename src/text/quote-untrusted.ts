// Quoting a value that came from outside (a request field, a header, a payload's metadata) in a
// log line or an error: escaped, so a newline cannot forge a second log line and no control or
// bidirectional character reaches a terminal, and cut short, so a 500 KB field costs 64
// characters and a note of its length.

/** How many characters of an untrusted value are shown. */
export const UNTRUSTED_SHOWN_CHARS = 64;

const ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

function escapeChar(c: string): string {
  return ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * `"text"` for a string, the JSON text for anything else, with everything outside printable
 * ASCII escaped and, past `max` characters, `...` and the full length appended.
 */
export function quoteUntrusted(value: unknown, max = UNTRUSTED_SHOWN_CHARS): string {
  const isString = typeof value === 'string';
  const text = isString ? value : (JSON.stringify(value) ?? String(value));
  let shown = text.length > max ? text.slice(0, max) : text;
  // Never end on half of a surrogate pair.
  if (shown.length < text.length && /[\ud800-\udbff]$/.test(shown)) shown = shown.slice(0, -1);
  // JSON text has its quotes and backslashes escaped already.
  const escaped = shown.replace(isString ? /["\\]|[^\x20-\x7e]/g : /[^\x20-\x7e]/g, escapeChar);
  const cut = shown.length < text.length ? `... (${text.length} characters)` : '';
  return isString ? `"${escaped}"${cut}` : `${escaped}${cut}`;
}
