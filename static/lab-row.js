/**
 * One row of the lab's table, in two pure steps: `labClaimsOf` reads what
 * happened (what the script got, the ledger's entries under the row's
 * probe, the choices made) into claims, small checkable facts, and the
 * row's cells are rendered from the claims alone. The row carries them
 * (`data-claims`), and the real-browser test holds each against Chromium's
 * Network events and the ledger (tests/api/claims.rs). Nothing here
 * assumes what a browser does or touches the DOM; `node --test tests/js`
 * checks every case.
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
 * @property {string} [probe]
 * @property {string} [pageOrigin] - the origin of the page that sent it (location.origin)
 * @property {string} [pageHost] - the host name of the page that sent it (location.hostname)
 * @property {string} [targetHost] - the host name of the lab origin it went to
 * @property {boolean} [labPageOpened] - the learner opened the lab's page on that origin from this page,
 *   so the lab's cookies were set for its host
 */

/**
 * What a row asserts, as data. Each (checked) claim is held against what
 * Chromium reported or the ledger recorded; the others are the choices the
 * row was sent with.
 * @typedef {Object} LabClaims
 * @property {string} probe
 * @property {'port'|'site'} target
 * @property {'GET'|'POST'} method
 * @property {boolean} credentials - the script asked for cookies
 * @property {'credentials'|'wildcard'|'none'} policy
 * @property {string|null} pageHost
 * @property {string|null} targetHost
 * @property {boolean} preflight - (checked) an OPTIONS went out first and reached the server
 * @property {boolean} sent - (checked) the request itself went out and reached the server
 * @property {string[]} cookiesSent - (checked) the names of the cookies it carried, as
 *   the server received them ([] when it was not sent)
 * @property {string|null} secFetchSite - (checked) as the server received it
 * @property {number} status - (checked) what the script got: 0 when it got no reply
 * @property {boolean} readable - (checked) the script could read the reply
 * @property {string|null} allowOrigin - (checked) the Access-Control-Allow-Origin the
 *   lab's policy answers with (this page's origin, "*", or null for none), on
 *   the reply the browser judged: the request's, or the preflight's when only
 *   the preflight went
 * @property {boolean} allowCredentials - (checked) it also answers
 *   Access-Control-Allow-Credentials: true
 * @property {'no-allow-origin'|'wildcard-with-credentials'|null} hiddenBecause - (checked)
 *   why the browser withheld the reply, where the policy tells (null: readable, or not known)
 * @property {Array<{name: string, why: ('another-host'|'samesite'|'third-party')}>} keptBack -
 *   (checked) cookies the browser kept off the request, and why: the cookie
 *   belongs to another host (never a candidate), its SameSite, or the
 *   browser's third-party cookie rules
 * @property {boolean|null} labCookiesSet - (checked) the lab's page has set lab_lax and
 *   lab_none for the target's host (null: not known)
 */

/** Cookies the lab's own page sets for its host. */
const LAB_LAX = 'lab_lax';
const LAB_NONE = 'lab_none';
const SESSION_COOKIE = 'session_id';

/**
 * The claims of one lab request (see {@link LabClaims}).
 * @param {LabOutcome} o
 * @returns {LabClaims}
 */
export function labClaimsOf(o) {
  const preflight = o.requests.find(function (r) { return r.method === 'OPTIONS'; });
  const actual = o.requests.find(function (r) { return r.method === o.method; });
  const seen = actual || preflight;
  const cookies = actual ? actual.cookies_received.slice() : [];
  const secFetchSite = seen && seen.sec_fetch_site ? seen.sec_fetch_site : null;
  const crossSite = secFetchSite === 'cross-site' || o.target === 'site';
  // The lab's page sets lab_lax and lab_none together: either in the
  // ledger means both were set for the target's host.
  const labCookiesSet = o.labPageOpened || cookies.indexOf(LAB_LAX) >= 0 || cookies.indexOf(LAB_NONE) >= 0 ? true : null;
  const keptBack = [];
  if (actual && o.withCredentials && crossSite) {
    // A browser picks cookies by host first, then by SameSite.
    if (o.pageHost && o.targetHost && o.pageHost !== o.targetHost && cookies.indexOf(SESSION_COOKIE) < 0) {
      keptBack.push({ name: SESSION_COOKIE, why: 'another-host' });
    }
    if (labCookiesSet && cookies.indexOf(LAB_LAX) < 0) keptBack.push({ name: LAB_LAX, why: 'samesite' });
    if (labCookiesSet && cookies.indexOf(LAB_NONE) < 0) keptBack.push({ name: LAB_NONE, why: 'third-party' });
  }
  const readable = Boolean(o.status);
  let hiddenBecause = null;
  if (!readable && seen) {
    if (o.policy === 'none') hiddenBecause = 'no-allow-origin';
    if (o.policy === 'wildcard' && o.withCredentials) hiddenBecause = 'wildcard-with-credentials';
  }
  return {
    probe: o.probe || '',
    target: o.target,
    method: o.method,
    credentials: Boolean(o.withCredentials),
    policy: o.policy,
    pageHost: o.pageHost || null,
    targetHost: o.targetHost || null,
    preflight: Boolean(preflight),
    sent: Boolean(actual),
    cookiesSent: cookies,
    secFetchSite: secFetchSite,
    status: o.status,
    readable: readable,
    allowOrigin: { credentials: o.pageOrigin || null, wildcard: '*', none: null }[o.policy],
    allowCredentials: o.policy === 'credentials',
    hiddenBecause: hiddenBecause,
    keptBack: keptBack,
    labCookiesSet: labCookiesSet
  };
}

/**
 * The table row for an outcome: its cells, rendered from its claims, and
 * the claims.
 * @param {LabOutcome} o
 * @returns {{got: string, received: string, secFetchSite: string, why: string,
 *   arrived: boolean, preflighted: boolean, cookies: string[], claims: LabClaims}}
 */
export function explainLabRow(o) {
  return labRowFromClaims(labClaimsOf(o));
}

/**
 * A row's cells from its claims alone.
 * @param {LabClaims} c
 * @returns {ReturnType<typeof explainLabRow>}
 */
export function labRowFromClaims(c) {
  return {
    got: gotOf(c),
    received: receivedOf(c),
    secFetchSite: c.secFetchSite || '(none)',
    why: whyOf(c),
    arrived: c.sent,
    preflighted: c.preflight,
    cookies: c.cookiesSent,
    claims: c
  };
}

/**
 * What the script got: a readable reply, a reply the browser hid, or, when
 * the request itself never reached the server, no reply at all.
 */
function gotOf(c) {
  if (c.readable) return String(c.status) + ' (readable)';
  if (c.sent) return 'blocked: the browser hid the reply';
  return c.preflight ? 'no reply: the preflight was refused' : 'not sent: nothing reached the server';
}

/** What reached the server, in a few words. */
function receivedOf(c) {
  if (c.sent) {
    return (c.preflight ? 'preflight, then ' : '') + c.method + ' with ' +
      (c.cookiesSent.length ? 'cookies ' + c.cookiesSent.join(', ') : 'no cookies');
  }
  return c.preflight ? 'only the preflight (OPTIONS); the ' + c.method + ' was never sent' : 'nothing arrived';
}

/** The sentences of the "why" column. */
function whyOf(c) {
  if (!c.sent) {
    if (!c.preflight) {
      return 'The ledger has nothing under this probe: the browser sent no request at all (blocked before it left, for instance by the page\'s own Content-Security-Policy).';
    }
    return 'A JSON POST is not a "simple" request, so the browser asked first (OPTIONS); ' + preflightAnswer(c) +
      ', so the browser never sent it. Here CORS decided more than what the script may read: the ' + c.method +
      ' itself never left the browser, and only the preflight reached the server.';
  }
  const lines = [cookieWhy(c), readWhy(c)];
  if (c.preflight) lines.push('Its JSON body made it a preflighted request: the OPTIONS came first.');
  return lines.join(' ');
}

/** What the lab's answer to the preflight said, as far as the claims tell. */
function preflightAnswer(c) {
  const what = c.credentials ? 'a credentialed POST' : 'the POST';
  if (c.hiddenBecause === 'no-allow-origin') {
    return 'the lab\'s answer under ' + c.policy + ' carried no Access-Control-Allow-Origin, so it did not allow ' + what + ' from this origin';
  }
  if (c.hiddenBecause === 'wildcard-with-credentials') {
    return 'the lab\'s answer under ' + c.policy + ' was Access-Control-Allow-Origin: *, which does not allow ' + what;
  }
  return 'the lab\'s answer under ' + c.policy + ' did not allow ' + what + ' from this origin';
}

/** Whether the request went to another site. */
function crossSite(c) {
  return c.secFetchSite === 'cross-site' || c.target === 'site';
}

/** Whether the row claims `name` was kept back for `why`. */
function keptBack(c, name, why) {
  return c.keptBack.some(function (k) { return k.name === name && k.why === why; });
}

/** Why these cookies, and not others, rode along. */
function cookieWhy(c) {
  const cookies = c.cookiesSent;
  if (!c.credentials) {
    return cookies.length
      ? 'Unexpected: without credentials the browser still sent cookies (' + cookies.join(', ') + ').'
      : 'Without credentials the browser sends no cookies to another origin.';
  }
  if (crossSite(c)) return crossSiteCookieWhy(c);
  return cookies.indexOf(SESSION_COOKIE) >= 0
    ? 'With credentials, the browser attached the cookies of this host (' + cookies.join(', ') +
      '): a cookie belongs to a host, not to a port, and another port is the same site.'
    : 'With credentials asked for, the browser still sent no session_id: ' +
      (cookies.length ? 'only ' + cookies.join(', ') : 'no cookie at all') + ' (is there a session? the page sets one on load).';
}

/** cookieWhy for a request to another site: by host first, then SameSite, then third-party rules. */
function crossSiteCookieWhy(c) {
  const cookies = c.cookiesSent;
  const parts = ['This is another site (Sec-Fetch-Site: ' + (c.secFetchSite || 'not sent') + ').'];
  if (keptBack(c, SESSION_COOKIE, 'another-host')) {
    parts.push('A browser picks cookies by host first: this page\'s session_id belongs to ' + c.pageHost +
      ', not to ' + c.targetHost + ', so it was never a candidate.');
  }
  const where = c.targetHost ? ' on ' + c.targetHost : '';
  const laxRode = cookies.filter(function (name) { return name !== LAB_NONE; });
  if (laxRode.indexOf(SESSION_COOKIE) >= 0 || laxRode.indexOf(LAB_LAX) >= 0) {
    parts.push('Unexpected: SameSite=Lax cookies (' + laxRode.join(', ') + ') rode along on a cross-site request.');
  } else if (keptBack(c, LAB_LAX, 'samesite')) {
    parts.push('The lab\'s page' + where + ' set lab_lax (SameSite=Lax) for that host; with credentials asked for, the browser still kept it off this cross-site request.');
  } else {
    parts.push('If the lab\'s page' + where + ' set its cookies, lab_lax (SameSite=Lax) is kept off a cross-site request; this page has not opened it, so there may be no lab cookie' + where + ' at all.');
  }
  if (cookies.indexOf(LAB_NONE) >= 0) {
    parts.push((laxRode.length ? '' : 'Only ') + 'lab_none (SameSite=None; Secure) rode along: this browser allows that third-party cookie.');
  } else if (keptBack(c, LAB_NONE, 'third-party')) {
    parts.push('lab_none (SameSite=None; Secure) did not ride along either: this browser blocks or partitions third-party cookies.');
  } else {
    parts.push('lab_none (SameSite=None; Secure) did not ride along either: this browser blocks or partitions third-party cookies, or the other site\'s page was never opened to set it.');
  }
  return parts.join(' ');
}

/** Why the script could or could not read the reply. */
function readWhy(c) {
  if (c.readable) {
    if (c.allowOrigin === '*') {
      return 'The script could read the reply: Access-Control-Allow-Origin: * is enough for a request without credentials.';
    }
    if (c.allowOrigin) {
      return 'The script could read the reply: the lab named this exact origin in Access-Control-Allow-Origin' +
        (c.credentials && c.allowCredentials ? ' and said Access-Control-Allow-Credentials: true.' : '.');
    }
    return 'Unexpected: the script read a reply that carried no Access-Control-Allow-Origin.';
  }
  if (c.hiddenBecause === 'no-allow-origin') {
    return 'The reply carried no Access-Control-Allow-Origin, so the browser hid it from the script, although the server got the request and answered it.';
  }
  if (c.hiddenBecause === 'wildcard-with-credentials') {
    return 'The browser hid the reply: with credentials, Access-Control-Allow-Origin: * is not enough (and the lab never says Allow-Credentials to *), although the server got the request.';
  }
  return 'The browser hid the reply from the script (the Console says why), although the server got the request.';
}
