/**
 * What the lab panel says beyond its table's rows (lab-row.js), as pure
 * functions of what happened: where the lab listens, panel 1's note on the
 * lab's cookies, what the attacker page's forged update met (from the
 * status and error code the ledger recorded) and the watch for it. Nothing
 * here assumes what a browser does or touches the DOM; `node --test
 * tests/js` checks every case.
 */

/**
 * The lab's origins as seen from this page: another port of this host
 * (same site), and the same port under the other loopback name (another
 * site), which only exists when the page was opened as 127.0.0.1 or
 * localhost.
 * @param {string|null} labPort - the page's lab-port meta: a port, or "off"
 * @param {string} hostname - the page's host name (location.hostname)
 * @param {string} pagePort - the page's port (location.port)
 * @returns {{port: (string|null), site: (string|null), why: string}} why: what is not available, and why; '' when both are
 */
export function labTargets(labPort, hostname, pagePort) {
  if (!labPort || labPort === 'off') {
    return { port: null, site: null, why: 'The lab is off: the server was started with --lab-port off.' };
  }
  const other = { '127.0.0.1': 'localhost', localhost: '127.0.0.1' }[hostname];
  const host = hostname.indexOf(':') >= 0 ? '[' + hostname + ']' : hostname;
  return {
    port: 'http://' + host + ':' + labPort,
    site: other ? 'http://' + other + ':' + labPort : null,
    why: other ? '' : 'Another site is not available from ' + hostname + ': the lab knows two names for this machine, 127.0.0.1 and localhost, which browsers treat as two sites. Open this page as http://127.0.0.1:' +
      pagePort + '/ or http://localhost:' + pagePort + '/ to try it.'
  };
}

/**
 * Panel 1's note on the lab's cookies in this page's document.cookie: the
 * lab's page on another port of this host sets lab_lax=1 and lab_none=1
 * for the host, and cookies ignore ports, so this page sees them. Said
 * only when document.cookie holds one of them with the lab's value, and
 * hedged, since the learner could have set one in panel 2.
 * @param {string} cookieText - document.cookie
 * @param {string} pageHost - location.hostname
 * @param {string|null} labOrigin - the lab on this host (labTargets's port), null when the lab is off
 * @returns {string} '' when there is nothing to say
 */
export function labCookiesHere(cookieText, pageHost, labOrigin) {
  if (!labOrigin) return '';
  const seen = (cookieText ? cookieText.split('; ') : []).filter(function (pair) {
    return pair === 'lab_lax=1' || pair === 'lab_none=1';
  });
  if (!seen.length) return '';
  return seen.join(' and ') + (seen.length > 1 ? ' are' : ' is') + ' what the lab\'s page on ' + labOrigin +
    ' sets for the host ' + pageHost + ' (unless you set ' + (seen.length > 1 ? 'them' : 'it') +
    ' here yourself): a cookie belongs to a host, not to a port, so this page on another port sees ' +
    (seen.length > 1 ? 'them' : 'it') + ' and sends ' + (seen.length > 1 ? 'them' : 'it') + ' with its own requests too.';
}

/**
 * The panel's status line: where the lab listens, or why it cannot run.
 * @param {{port: (string|null), site: (string|null), why: string}} targets - from labTargets
 * @returns {string}
 */
export function labStatus(targets) {
  return targets.why || 'The lab listens on ' + targets.port + (targets.site ? ' and, as another site, ' + targets.site : '') + '.';
}

/**
 * What "Run every combination" says once it is done.
 * @param {number} ran - combinations run
 * @param {number} all - combinations there are
 * @param {string} why - why the others could not run (labTargets's why)
 * @returns {string}
 */
export function runAllSummary(ran, all, why) {
  return ran + ' combinations done' + (ran < all ? '; ' + (all - ran) + ' skipped. ' + why : '.');
}

/**
 * One request to a session endpoint as the ledger keeps it.
 * @typedef {Object} LedgerEntry
 * @property {number} [status] - what the main listener answered
 * @property {string|null} [code] - the error code, when the answer was an error
 * @property {string[]} cookies_received - cookie names, never values
 * @property {string|null} origin - the Origin header
 * @property {string|null} sec_fetch_site - the Sec-Fetch-Site header
 */

/**
 * While the attacker's page is open: what to do, and that the panel watches.
 * @param {string} origin - the attacker page's origin
 * @returns {string}
 */
export function attackOpened(origin) {
  return 'Opened ' + origin + ' in a new tab: press its button, then come back. Watching the ledger…';
}

/**
 * When the ledger never showed the forged request.
 * @param {string} origin - the attacker page's origin
 * @param {number} waitedMs - how long the panel watched
 * @returns {string}
 */
export function attackNotSeen(origin, waitedMs) {
  return 'No forged request from ' + origin + ' reached the server within ' + spanOf(waitedMs) + '.';
}

/**
 * A duration for a sentence: "two minutes", "10 seconds".
 * @param {number} ms
 * @returns {string}
 */
function spanOf(ms) {
  const minutes = ms / 60000;
  if (Number.isInteger(minutes) && minutes > 0) {
    return (NUMBER_WORDS[minutes] || String(minutes)) + (minutes === 1 ? ' minute' : ' minutes');
  }
  return Math.round(ms / 1000) + ' seconds';
}

/**
 * Where watching for the attacker's request stands, from the ledger's
 * entries under its probe: the forged request arrived; the attacker page
 * was served but refused this page as its target (so it has no button);
 * it was never served within `limits.pageMs`; nothing within
 * `limits.watchMs`; or still watching.
 * @param {string} origin - the attacker page's origin
 * @param {string} target - this page's origin, which the attacker page was asked to aim at
 * @param {Array<LedgerEntry & {path?: string, target_accepted?: boolean}>} requests - the ledger's entries
 * @param {number} waitedMs - how long the panel has watched
 * @param {{pageMs: number, watchMs: number}} limits
 * @returns {{state: 'forged'|'refused'|'not-loaded'|'not-seen'|'watching', text: string, forged: (LedgerEntry|null)}}
 */
export function attackProgress(origin, target, requests, waitedMs, limits) {
  const forged = requests.find(function (r) { return r.path === '/update-session-data'; });
  if (forged) return { state: 'forged', text: explainAttack(origin, forged), forged: forged };
  const page = requests.find(function (r) { return typeof r.target_accepted === 'boolean'; });
  if (page && !page.target_accepted) {
    return {
      state: 'refused',
      text: 'The attacker page on ' + origin + ' opened but did not take ' + target +
        ' as its target, so it has no button and nothing was sent: the lab aims only at this server\'s own origins, on the host it was asked under.',
      forged: null
    };
  }
  if (!page && waitedMs >= limits.pageMs) {
    return {
      state: 'not-loaded',
      text: 'The attacker page on ' + origin + ' was not served within ' + spanOf(limits.pageMs) +
        ' (a blocked pop-up, or the lab unreachable from this browser), so nothing was sent. Try the button again.',
      forged: null
    };
  }
  if (waitedMs >= limits.watchMs) return { state: 'not-seen', text: attackNotSeen(origin, limits.watchMs), forged: null };
  return {
    state: 'watching',
    text: page ? 'The attacker page on ' + origin + ' is open and aims at ' + target + ': press its button, then come back. Watching the ledger…' : attackOpened(origin),
    forged: null
  };
}

/** Small numbers as words, for sentences. */
const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];

/**
 * What the ledger says about the attacker page's forged update: which
 * cookies rode along and why (from the cookie names and Sec-Fetch-Site),
 * and what stopped it or did not (from the status and error code the
 * server answered), never assumed from the target.
 * @param {string} origin - the attacker page's origin
 * @param {LedgerEntry} forged - the ledger's entry for the forged POST
 * @returns {string}
 */
export function explainAttack(origin, forged) {
  const cookies = forged.cookies_received.length ? forged.cookies_received.join(', ') : 'no cookies';
  const answered = typeof forged.status === 'number'
    ? 'was answered ' + forged.status + (forged.code ? ' ' + forged.code : '')
    : 'the ledger does not say how it was answered';
  const lines = ['The forged POST from ' + origin + ' reached the server with ' + cookies + ' (Origin: ' + (forged.origin || 'none') +
    ', Sec-Fetch-Site: ' + (forged.sec_fetch_site || 'none') + ') and ' + answered + '.'];
  const session = forged.cookies_received.indexOf('session_id') >= 0;
  lines.push(attackCookieWhy(session, forged.sec_fetch_site));
  const answer = attackAnswerWhy(session, forged);
  if (answer) lines.push(answer);
  return lines.join(' ');
}

/** Why session_id rode along on the forged request, or did not. */
function attackCookieWhy(session, secFetchSite) {
  if (session) {
    if (secFetchSite === 'cross-site') {
      return 'Unexpected: the browser sent session_id on a request it marked cross-site, which SameSite=Lax should prevent.';
    }
    return secFetchSite === 'same-site'
      ? 'The browser did send session_id: to SameSite=Lax a page on another port is the same site.'
      : 'The browser did send session_id.';
  }
  if (secFetchSite === 'cross-site') {
    return 'The browser did not send session_id: SameSite=Lax keeps it off a cross-site request like this one (from another site it rides only on a top-level GET, such as a followed link).';
  }
  return secFetchSite === 'same-site'
    ? 'The browser did not send session_id, although SameSite=Lax lets it ride along on a same-site request: it held none for this host.'
    : 'The browser did not send session_id.';
}

/** What the server's answer says about the defences. */
function attackAnswerWhy(session, forged) {
  if (typeof forged.status !== 'number') return '';
  if (forged.status === 200) {
    return session
      ? 'Unexpected: the server accepted it, so the attacker\'s update went into the session your session_id names.'
      : 'Unexpected: the server accepted it; without a session cookie there was no session to forge against, so it started a session of its own, and yours did not change.';
  }
  switch (forged.code) {
    case 'cross_origin_rejected':
      return (session ? 'What stopped it is the server\'s Origin check: ' : 'The server\'s Origin check refused it as well: ') +
        'its Origin (or Sec-Fetch-Site) named another origin, so the server refused it before reading the body or the token. Your data did not change.';
    case 'csrf_token_missing':
      return 'The Origin check let it through; what stopped it is the CSRF token: the forged request carried no X-CSRF-Token, and only this site\'s pages can read the session\'s token. Your data did not change.';
    case 'csrf_token_invalid':
      return 'The Origin check let it through; what stopped it is the CSRF token: the X-CSRF-Token it carried is not the session\'s token, which only this site\'s pages can read. Your data did not change.';
    default:
      return 'The server refused it' + (forged.code ? ' (' + forged.code + ')' : '') +
        ', though neither by the Origin check nor by the CSRF token. Your data did not change.';
  }
}
