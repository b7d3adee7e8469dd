/**
 * Small pure helpers that turn values into the text the page shows, and the
 * two kinds of text the page reads back into values: a reply's JSON and
 * document.cookie. No DOM, no network; `node --test tests/js` checks them.
 */

/**
 * An RFC 3339 time as a clock time in UTC (the same for everyone and in the
 * tests): 09:30:00 UTC. Text that is no time is shown as it came.
 * @param {string} iso
 * @returns {string}
 */
export function formatTime(iso) {
  const ms = Date.parse(iso);
  if (isNaN(ms)) return String(iso);
  return new Date(ms).toISOString().slice(11, 19) + ' UTC';
}

/** Text shown whole up to this many characters; longer text is cut. */
const SHORT_TEXT = 80;

/**
 * Text a learner typed, as a sentence quotes it: whole when short, else its
 * start and its length ("xxxx… (5,000 characters)"), so that a long value
 * neither hides the sentence nor fills the screen.
 * @param {string} text
 * @returns {string}
 */
export function shorten(text) {
  const whole = String(text);
  if (whole.length <= SHORT_TEXT) return whole;
  return whole.slice(0, SHORT_TEXT - 20) + '… (' + whole.length.toLocaleString('en-US') + ' characters)';
}

/**
 * Whole seconds as minutes and seconds, with hours from an hour on:
 * 125 → "2:05", 28800 → "8:00:00".
 * @param {number} seconds
 * @returns {string}
 */
export function clock(seconds) {
  const two = function (n) { return (n < 10 ? '0' : '') + n; };
  const s = seconds % 60;
  if (seconds < 3600) return Math.floor(seconds / 60) + ':' + two(s);
  return Math.floor(seconds / 3600) + ':' + two(Math.floor(seconds / 60) % 60) + ':' + two(s);
}

/**
 * A tenth of a number of seconds, as the explanations say it: "180 s" or "0.2 s".
 * @param {number} seconds
 * @returns {string}
 */
export function tenth(seconds) {
  const t = seconds / 10;
  return (Number.isInteger(t) ? String(t) : t.toFixed(1)) + ' s';
}

/**
 * The API's name as the page shows it: "XMLHttpRequest" or "fetch()".
 * @param {'xhr'|'fetch'} api
 * @returns {string}
 */
export function apiName(api) {
  return api === 'fetch' ? 'fetch()' : 'XMLHttpRequest';
}

/**
 * Text as JSON, or `otherwise` (null unless given) when there is no text or
 * it is not JSON.
 * @param {string|null|undefined} text
 * @param {*} [otherwise]
 * @returns {*}
 */
export function parseJson(text, otherwise) {
  const fallback = otherwise === undefined ? null : otherwise;
  if (typeof text !== 'string' || text === '') return fallback;
  try {
    return JSON.parse(text);
  } catch (err) {
    return fallback;
  }
}

/**
 * The cookies in document.cookie's text ("a=1; b=2"), in order, each value
 * as written (still percent-encoded). A pair without "=" is a cookie with
 * an empty name, as browsers show one.
 * @param {string} text
 * @returns {Array<{name: string, value: string}>}
 */
export function parseCookies(text) {
  if (!text) return [];
  return text.split('; ').map(function (pair) {
    const at = pair.indexOf('=');
    return at < 0 ? { name: '', value: pair } : { name: pair.slice(0, at), value: pair.slice(at + 1) };
  });
}

/**
 * The value a cookie text gives `name` (the first, as a server would read
 * it), percent-decoded where it decodes, or null when the name is absent.
 * @param {string} text - document.cookie
 * @param {string} name
 * @returns {string|null}
 */
export function cookieValue(text, name) {
  const cookie = parseCookies(text).find(function (c) { return c.name === name; });
  if (!cookie) return null;
  try {
    return decodeURIComponent(cookie.value);
  } catch (err) {
    return cookie.value;
  }
}

/**
 * Whether a cookie text holds `name` (with exactly the written `value`,
 * when one is given).
 * @param {string} text - document.cookie
 * @param {string} name
 * @param {string} [value] - as written, percent-encoded
 * @returns {boolean}
 */
export function hasCookie(text, name, value) {
  return parseCookies(text).some(function (c) {
    return c.name === name && (value === undefined || c.value === value);
  });
}

/**
 * Whether a cookie name is one document.cookie takes as it is (an RFC 6265
 * token: letters, digits and a few symbols, no spaces, "=" or ";").
 * @param {string} name
 * @returns {boolean}
 */
export function validCookieName(name) {
  return /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name);
}

/** What the log shows in place of a password. */
export const MASKED = '••••••••';

/**
 * A request body as the log keeps it: a JSON object's `password` member
 * masked, so that neither the log nor the tab's sessionStorage copy of it
 * ever holds a password. Any other body is kept as it is.
 * @param {string|null} body - the request body as sent
 * @returns {string|null}
 */
export function maskPassword(body) {
  const parsed = parseJson(body, null);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || !('password' in parsed)) return body;
  parsed.password = MASKED;
  return JSON.stringify(parsed);
}

/**
 * What the log says of the cookies the server received: the names its
 * reply reported, or why there are none to show. The lab's replies (another
 * origin) do not report them; its ledger does.
 * @param {{url: string, status: number, received: (string[]|null)}} entry - a logged exchange
 * @param {string} pageOrigin
 * @returns {string}
 */
export function receivedNote(entry, pageOrigin) {
  if (entry.received) return entry.received.join(', ') || '(none)';
  if (!entry.status) return '(no reply)';
  let target = null;
  try {
    target = new URL(entry.url, pageOrigin).origin;
  } catch (err) {
    target = pageOrigin;
  }
  return target !== pageOrigin ? '(the lab does not report them; see the ledger)' : '(not reported)';
}
