/**
 * What the lab's table says about one request to the other origin, as a
 * pure function of what happened: what the script got, what the ledger
 * says reached the server (preflight, request, cookie names,
 * Sec-Fetch-Site), and the policy and credentials mode that were asked
 * for. Also what the attacker page's forged update met (from the status and
 * error code the ledger recorded) and the panel's other sentences. Nothing
 * here assumes what a browser does or touches the DOM; `node --test
 * tests/js` checks every case.
 */

/**
 * One lab request and what came of it.
 * @typedef {Object} LabOutcome
 * @property {'port'|'site'} target - another port (same site) or another site
 * @property {boolean} withCredentials
 * @property {'credentials'|'wildcard'|'none'} policy
 * @property {'GET'|'POST'} method - POST carries a JSON body, so it is preflighted
 * @property {number} status - what the script got; 0 when the browser hid the reply
 * @property {Array<{method: string, cookies_received: string[], sec_fetch_site: (string|null)}>} requests -
 *   the ledger's entries for the request's probe
 * @property {string} [pageHost] - the host name of the page that sent it (location.hostname)
 * @property {string} [targetHost] - the host name of the lab origin it went to
 * @property {boolean} [labPageOpened] - the learner opened the lab's page on that origin from this page,
 *   so the lab's cookies were set for its host
 */

/**
 * The table row for an outcome.
 * @param {LabOutcome} o
 * @returns {{got: string, received: string, secFetchSite: string, why: string,
 *   arrived: boolean, preflighted: boolean, cookies: string[]}}
 */
export function explainLabRow(o) {
  const preflight = o.requests.find(function (r) { return r.method === 'OPTIONS'; });
  const actual = o.requests.find(function (r) { return r.method === o.method; });
  const cookies = actual ? actual.cookies_received : [];
  const seen = actual || preflight;
  const got = gotOf(o, preflight, actual);
  let received;
  if (actual) {
    received = (preflight ? 'preflight, then ' : '') + o.method + ' with ' +
      (cookies.length ? 'cookies ' + cookies.join(', ') : 'no cookies');
  } else {
    received = preflight ? 'only the preflight (OPTIONS); the ' + o.method + ' was never sent' : 'nothing arrived';
  }
  return {
    got: got,
    received: received,
    secFetchSite: seen && seen.sec_fetch_site ? seen.sec_fetch_site : '(none)',
    why: whyOf(o, preflight, actual, cookies),
    arrived: Boolean(actual),
    preflighted: Boolean(preflight),
    cookies: cookies
  };
}

/**
 * What the script got: a readable reply, a reply the browser hid, or, when
 * the ledger shows that the request itself never reached the server, no
 * reply at all.
 */
function gotOf(o, preflight, actual) {
  if (o.status) return String(o.status) + ' (readable)';
  if (actual) return 'blocked: the browser hid the reply';
  return preflight ? 'no reply: the preflight was refused' : 'not sent: nothing reached the server';
}

/** The sentences of the "why" column. */
function whyOf(o, preflight, actual, cookies) {
  const lines = [];
  if (!actual) {
    if (preflight) {
      lines.push('A JSON POST is not a "simple" request, so the browser asked first (OPTIONS); the lab\'s answer under ' +
        o.policy + ' did not allow ' + (o.withCredentials ? 'a credentialed POST' : 'the POST') +
        ' from this origin, so the browser never sent it.');
      lines.push('Here CORS decided more than what the script may read: the ' + o.method +
        ' itself never left the browser, and only the preflight reached the server.');
    } else {
      lines.push('The ledger has nothing under this probe: the browser sent no request at all (blocked before it left, for instance by the page\'s own Content-Security-Policy).');
    }
    return lines.join(' ');
  }
  lines.push(cookieWhy(o, cookies, actual.sec_fetch_site));
  lines.push(readWhy(o));
  if (preflight) lines.push('Its JSON body made it a preflighted request: the OPTIONS came first.');
  return lines.join(' ');
}

/** Why these cookies, and not others, rode along. */
function cookieWhy(o, cookies, secFetchSite) {
  const session = cookies.indexOf('session_id') >= 0;
  const laxSent = cookies.indexOf('lab_lax') >= 0;
  const noneSent = cookies.indexOf('lab_none') >= 0;
  if (!o.withCredentials) {
    return cookies.length
      ? 'Unexpected: without credentials the browser still sent cookies (' + cookies.join(', ') + ').'
      : 'Without credentials the browser sends no cookies to another origin.';
  }
  if (secFetchSite === 'cross-site' || o.target === 'site') {
    const parts = ['This is another site (Sec-Fetch-Site: ' + (secFetchSite || 'not sent') + ').'];
    const otherHost = o.pageHost && o.targetHost && o.pageHost !== o.targetHost;
    // A browser picks cookies by host first, then by SameSite.
    if (otherHost) {
      parts.push('A browser picks cookies by host first: this page\'s session_id belongs to ' + o.pageHost +
        ', not to ' + o.targetHost + ', so it was never a candidate.');
    }
    // The lab's page sets lab_lax and lab_none together: either in the
    // ledger means both were set for the target's host.
    const labSet = Boolean(o.labPageOpened) || noneSent || laxSent;
    const where = o.targetHost ? ' on ' + o.targetHost : '';
    if (session || laxSent) {
      parts.push('Unexpected: SameSite=Lax cookies (' + cookies.filter(function (c) { return c !== 'lab_none'; }).join(', ') +
        ') rode along on a cross-site request.');
    } else if (labSet) {
      parts.push('The lab\'s page' + where + ' set lab_lax (SameSite=Lax) for that host; with credentials asked for, the browser still kept it off this cross-site request.');
    } else {
      parts.push('If the lab\'s page' + where + ' set its cookies, lab_lax (SameSite=Lax) is kept off a cross-site request; this page has not opened it, so there may be no lab cookie' + where + ' at all.');
    }
    if (noneSent) {
      parts.push((laxSent || session ? '' : 'Only ') + 'lab_none (SameSite=None; Secure) rode along: this browser allows that third-party cookie.');
    } else {
      parts.push(labSet
        ? 'lab_none (SameSite=None; Secure) did not ride along either: this browser blocks or partitions third-party cookies.'
        : 'lab_none (SameSite=None; Secure) did not ride along either: this browser blocks or partitions third-party cookies, or the other site\'s page was never opened to set it.');
    }
    return parts.join(' ');
  }
  return session
    ? 'With credentials, the browser attached the cookies of this host (' + cookies.join(', ') +
      '): a cookie belongs to a host, not to a port, and another port is the same site.'
    : 'With credentials asked for, the browser still sent no session_id: ' +
      (cookies.length ? 'only ' + cookies.join(', ') : 'no cookie at all') + ' (is there a session? the page sets one on load).';
}

/** Why the script could or could not read the reply. */
function readWhy(o) {
  if (o.status) {
    if (o.policy === 'credentials') {
      return 'The script could read the reply: the lab named this exact origin in Access-Control-Allow-Origin' +
        (o.withCredentials ? ' and said Access-Control-Allow-Credentials: true.' : '.');
    }
    if (o.policy === 'wildcard') {
      return 'The script could read the reply: Access-Control-Allow-Origin: * is enough for a request without credentials.';
    }
    return 'Unexpected: the script read a reply that carried no Access-Control-Allow-Origin.';
  }
  if (o.policy === 'none') {
    return 'The reply carried no Access-Control-Allow-Origin, so the browser hid it from the script, although the server got the request and answered 200.';
  }
  if (o.policy === 'wildcard' && o.withCredentials) {
    return 'The browser hid the reply: with credentials, Access-Control-Allow-Origin: * is not enough (and the lab never says Allow-Credentials to *), although the server got the request.';
  }
  return 'The browser hid the reply from the script (the Console says why), although the server got the request.';
}

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
    return 'The browser did not send session_id: SameSite=Lax keeps it off requests from another site.';
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
