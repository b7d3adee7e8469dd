/**
 * What the lab's table says about one request to the other origin, as a
 * pure function of what happened: what the script got, what the ledger
 * says reached the server (preflight, request, cookie names,
 * Sec-Fetch-Site), and the policy and credentials mode that were asked
 * for. Nothing here assumes what a browser does; `node --test tests/js`
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
  const got = o.status ? String(o.status) + ' (readable)' : 'blocked: the browser hid the reply';
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

/** The sentences of the "why" column. */
function whyOf(o, preflight, actual, cookies) {
  const lines = [];
  if (!actual) {
    if (preflight) {
      lines.push('A JSON POST is not a "simple" request, so the browser asked first (OPTIONS); the lab\'s answer under ' +
        o.policy + ' did not allow ' + (o.withCredentials ? 'a credentialed POST' : 'the POST') +
        ' from this origin, so the browser never sent it.');
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
    if (session || laxSent) {
      parts.push('Unexpected: SameSite=Lax cookies (' + cookies.filter(function (c) { return c !== 'lab_none'; }).join(', ') +
        ') rode along on a cross-site request.');
    } else {
      parts.push('With credentials asked for, the browser still kept SameSite=Lax cookies (session_id, lab_lax) off it.');
    }
    parts.push(noneSent
      ? 'Only lab_none (SameSite=None; Secure) rode along: this browser allows that third-party cookie.'
      : 'lab_none (SameSite=None; Secure) did not ride along either: this browser blocks or partitions third-party cookies, or the other site\'s page was never opened to set it.');
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
