/**
 * Escaping of client-controlled values in access log lines, so that no
 * request can write a second line, end a quoted field, or put terminal
 * control codes in the file.
 *
 * The text format escapes as Apache's `ap_escape_logitem` and nginx's log
 * module do: `"` and `\` get a backslash, every other byte outside
 * printable ASCII (0x20-0x7E) is written `\xHH`. It works on the bytes the
 * client sent: header values (and the Basic user, from `atob`) are byte
 * strings, one character a byte (U+0000-U+00FF), as the Fetch standard has
 * the runtimes decode them; so a client's UTF-8 `é` (C3 A9) is logged
 * `\xC3\xA9`, as nginx logs it. A character above U+00FF, which no byte
 * string holds, is written as its UTF-8 bytes (a lone surrogate as U+FFFD's).
 * @module
 */

/** A value that needs no escaping: printable ASCII without `"` and `\`. */
const _CLEAN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** Whether the character `c` (a code unit) is written as it is: {@link _CLEAN}'s set. */
export function cleanLogChar(c: number): boolean {
  return c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c;
}
const _HEX = "0123456789ABCDEF";

function _byte(b: number): string {
  return "\\x" + _HEX[b >> 4] + _HEX[b & 15];
}

/** The UTF-8 bytes of a code point above U+00FF, each as `\xHH`. */
function _utf8(cp: number): string {
  if (cp < 0x800) return _byte(0xc0 | (cp >> 6)) + _byte(0x80 | (cp & 63));
  if (cp < 0x10000) {
    return _byte(0xe0 | (cp >> 12)) + _byte(0x80 | ((cp >> 6) & 63)) + _byte(0x80 | (cp & 63));
  }
  return _byte(0xf0 | (cp >> 18)) + _byte(0x80 | ((cp >> 12) & 63)) + _byte(0x80 | ((cp >> 6) & 63)) +
    _byte(0x80 | (cp & 63));
}

function _escape(value: string): string {
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) out += "\\" + value[i];
    else if (c >= 0x20 && c <= 0x7e) out += value[i];
    else if (c <= 0xff) out += _byte(c);
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length) {
      const low = value.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        out += _utf8(0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00));
        i++;
      } else out += _utf8(0xfffd);
    } else if (c >= 0xd800 && c <= 0xdfff) out += _utf8(0xfffd);
    else out += _utf8(c);
  }
  return out;
}

/**
 * `value` as the text access log writes it: unchanged when it is printable
 * ASCII without `"` and `\` (one regular expression test, the common case),
 * else escaped byte by byte.
 *
 * @example
 * ```ts
 * escapeLogValue('a"b\n'); // 'a\\"b\\x0A'
 * ```
 */
export function escapeLogValue(value: string): string {
  return _CLEAN.test(value) ? value : _escape(value);
}

const _NON_ASCII = /[\u0080-\uffff]/g;

function _uEscape(c: string): string {
  return "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0");
}

/**
 * JSON text (one value or lines of them) made ASCII: every character
 * above U+007F as `\uXXXX`, which means the same inside a JSON string, the
 * only place such a character can stand. `JSON.stringify` already escapes the C0 controls, `"`,
 * `\` and lone surrogates; it leaves U+0085 (NEL), U+2028 and U+2029 as
 * they are, which some line readers (Python's `splitlines`, JavaScript's
 * line terminators) take for line breaks. The parsed values are the same.
 */
export function asciiJson(json: string): string {
  return json.replace(_NON_ASCII, _uEscape);
}
