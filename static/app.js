/**
 * ajax-sessions: the page's script. One IIFE; one function (`send`) touches
 * XMLHttpRequest; render functions only draw, event wiring sits at the end.
 * Data from the server is written with textContent, never innerHTML.
 */
(function () {
  'use strict';

  const MAX_LOG_ENTRIES = 50;
  const MAX_EXPLANATIONS = 6;
  const BURST_SIZE = 20;

  /** DOM nodes, looked up once. */
  const el = {
    csrfMeta: document.querySelector('meta[name="csrf-token"]'),
    themeToggle: document.getElementById('theme-toggle'),
    jsCookies: document.getElementById('js-cookies'),
    cookieForm: document.getElementById('cookie-form'),
    cookieName: document.getElementById('cookie-name'),
    cookieValue: document.getElementById('cookie-value'),
    deleteCookie: document.getElementById('delete-cookie'),
    refresh: document.getElementById('refresh'),
    sessionSummary: document.getElementById('session-summary'),
    sessionJson: document.getElementById('session-json'),
    updateForm: document.getElementById('update-form'),
    dataKey: document.getElementById('data-key'),
    dataValue: document.getElementById('data-value'),
    deleteKey: document.getElementById('delete-key'),
    regenerate: document.getElementById('regenerate'),
    clear: document.getElementById('clear'),
    noToken: document.getElementById('no-token'),
    burst: document.getElementById('burst'),
    burstResult: document.getElementById('burst-result'),
    explain: document.getElementById('explain'),
    log: document.getElementById('log')
  };

  /** The session's CSRF token: from the page, then from each JSON reply. */
  let csrfToken = el.csrfMeta ? el.csrfMeta.content : '';

  // ---------------------------------------------------------------------
  // The request helper
  // ---------------------------------------------------------------------

  /**
   * Sends one XHR, logs it, and calls back with what happened.
   * @param {string} method
   * @param {string} url
   * @param {{body?: object, token?: boolean}} options - body is sent as JSON;
   *   token adds X-CSRF-Token (default true for POST).
   * @param {function({status: number, body: object|null, ms: number}): void} done
   */
  function send(method, url, options, done) {
    const xhr = new XMLHttpRequest();
    const headersSet = {};
    const bodyText = options.body === undefined ? null : JSON.stringify(options.body);
    const withToken = options.token !== undefined ? options.token : method === 'POST';
    xhr.open(method, url);
    /** Sets a request header and remembers it for the log. */
    function setHeader(name, value) {
      xhr.setRequestHeader(name, value);
      headersSet[name] = value;
    }
    if (bodyText !== null) setHeader('Content-Type', 'application/json');
    if (withToken && csrfToken) setHeader('X-CSRF-Token', csrfToken);
    const started = performance.now();
    xhr.onloadend = function () {
      const ms = Math.round(performance.now() - started);
      let body = null;
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch (err) {
        body = null;
      }
      if (body && typeof body.csrf_token === 'string') setToken(body.csrf_token);
      if (body && body.session && body.session.active === false) setToken('');
      const result = { status: xhr.status, body: body, ms: ms };
      renderLogEntry({
        method: method,
        url: url,
        status: xhr.status,
        ms: ms,
        headersSet: headersSet,
        requestBody: bodyText,
        responseText: xhr.responseText,
        body: body,
        setCookie: xhr.getResponseHeader('X-Set-Cookie-Echo')
      });
      renderCookies();
      done(result);
    };
    xhr.send(bodyText);
  }

  /** Keeps the token for the next request, in memory and in the meta tag. */
  function setToken(token) {
    csrfToken = token;
    if (el.csrfMeta) el.csrfMeta.content = token;
  }

  // ---------------------------------------------------------------------
  // Render functions: they only draw
  // ---------------------------------------------------------------------

  /** Shows document.cookie as the script sees it. */
  function renderCookies() {
    el.jsCookies.textContent = document.cookie || '(empty: no cookie is visible to JavaScript)';
  }

  /** Shows a session reply: a summary and the formatted JSON. */
  function renderSession(body) {
    el.sessionJson.textContent = JSON.stringify(body, null, 2);
    const session = (body && body.session) || { active: false };
    const rows = [['Active', session.active ? 'yes' : 'no']];
    if (session.active) {
      rows.push(['Created', formatTime(session.created_at)]);
      rows.push(['Expires', formatTime(session.expires_at) + ' unless used again']);
      rows.push(['Page views', String(session.page_views)]);
      rows.push(['Keys in data', String(Object.keys(body.data || {}).length)]);
    }
    el.sessionSummary.replaceChildren();
    rows.forEach(function (row) {
      const dt = document.createElement('dt');
      dt.textContent = row[0];
      const dd = document.createElement('dd');
      dd.textContent = row[1];
      el.sessionSummary.append(dt, dd);
    });
    el.sessionSummary.dataset.active = String(Boolean(session.active));
  }

  /** Adds one request to the log, newest first. */
  function renderLogEntry(entry) {
    const item = document.createElement('li');
    item.dataset.status = String(entry.status);
    const details = document.createElement('details');
    const summary = document.createElement('summary');
    const status = document.createElement('span');
    status.className = 'status ' + statusClass(entry.status);
    status.textContent = entry.status ? String(entry.status) : 'failed';
    const line = document.createElement('span');
    line.textContent = ' ' + entry.method + ' ' + entry.url + ' · ' + entry.ms + ' ms';
    summary.append(status, line);
    details.append(summary);
    const received = entry.body && entry.body.cookies_received;
    const fields = [
      ['Headers the script set', formatHeaders(entry.headersSet)],
      ['Request body', entry.requestBody === null ? '(none)' : entry.requestBody],
      ['Cookies the server received', received ? received.join(', ') || '(none)' : '(not reported)'],
      ['Set-Cookie (echoed by the server)', entry.setCookie || '(none)'],
      ['Response body', entry.body ? JSON.stringify(entry.body, null, 2) : entry.responseText || '(empty)']
    ];
    const list = document.createElement('dl');
    fields.forEach(function (field) {
      const dt = document.createElement('dt');
      dt.textContent = field[0];
      const dd = document.createElement('dd');
      const pre = document.createElement('pre');
      pre.className = 'code';
      pre.textContent = field[1];
      dd.append(pre);
      list.append(dt, dd);
    });
    details.append(list);
    item.append(details);
    Array.prototype.forEach.call(el.log.querySelectorAll('details[open]'), function (open) {
      open.open = false;
    });
    details.open = true;
    el.log.prepend(item);
    while (el.log.children.length > MAX_LOG_ENTRIES) el.log.lastElementChild.remove();
  }

  /** Adds a plain-language explanation of the step just taken. */
  function explain(sentences, tip) {
    const item = document.createElement('li');
    const text = document.createElement('p');
    text.textContent = sentences;
    item.append(text);
    if (tip) {
      const hint = document.createElement('p');
      hint.className = 'tip';
      hint.textContent = 'Devtools: ' + tip;
      item.append(hint);
    }
    el.explain.prepend(item);
    while (el.explain.children.length > MAX_EXPLANATIONS) el.explain.lastElementChild.remove();
  }

  /** Shows the outcome of the parallel burst. */
  function renderBurst(kept, total) {
    el.burstResult.textContent = kept + ' of ' + total + ' parallel updates arrived.';
    el.burstResult.dataset.kept = String(kept);
  }

  /** Reflects the theme on the page and the toggle button. */
  function renderTheme(theme) {
    document.documentElement.dataset.theme = theme;
    el.themeToggle.setAttribute('aria-pressed', String(theme === 'dark'));
    el.themeToggle.textContent = theme === 'dark' ? 'Light theme' : 'Dark theme';
  }

  // ---------------------------------------------------------------------
  // Helpers
  // ---------------------------------------------------------------------

  /** The CSS class for a status: ok (2xx), refused (4xx) or error. */
  function statusClass(status) {
    if (status >= 200 && status < 300) return 'ok';
    if (status >= 400 && status < 500) return 'refused';
    return 'error';
  }

  /** The headers the script set, one per line, the token shortened. */
  function formatHeaders(headers) {
    const names = Object.keys(headers);
    if (!names.length) return '(none: the browser adds Cookie by itself)';
    return names.map(function (name) {
      const value = name === 'X-CSRF-Token' ? headers[name].slice(0, 8) + '…' : headers[name];
      return name + ': ' + value;
    }).join('\n') + '\n(the browser adds Cookie by itself)';
  }

  /** An RFC 3339 time in the reader's local format. */
  function formatTime(iso) {
    if (!iso) return '?';
    const date = new Date(iso);
    return isNaN(date.getTime()) ? iso : date.toLocaleString();
  }

  /** The value field as JSON when it parses, else as the text typed. */
  function parseValue(text) {
    try {
      return JSON.parse(text);
    } catch (err) {
      return text;
    }
  }

  /** A sentence for a refused request, from its JSON error. */
  function errorSentence(result) {
    const error = result.body && result.body.error;
    return error ? 'The server refused it: ' + error.code + ' — ' + error.message : 'The request failed.';
  }

  /** A cookie's value as document.cookie shows it, or ''. */
  function readCookie(name) {
    const pair = document.cookie.split('; ').find(function (p) { return p.split('=')[0] === name; });
    return pair ? decodeURIComponent(pair.slice(name.length + 1)) : '';
  }

  /** Writes a cookie for the whole site; maxAge 0 deletes it. */
  function writeCookie(name, value, maxAge) {
    document.cookie = name + '=' + encodeURIComponent(value) + '; Path=/; Max-Age=' + maxAge + '; SameSite=Lax';
  }

  // ---------------------------------------------------------------------
  // Actions: a request, then the render and the explanation
  // ---------------------------------------------------------------------

  /**
   * GET /get-session-data, render the reply, then call `why` with the result.
   * @param {function(object): void} [why]
   */
  function refresh(why) {
    send('GET', '/get-session-data', {}, function (result) {
      if (result.body && result.body.session) renderSession(result.body);
      if (why) why(result);
    });
  }

  /**
   * POSTs to a session endpoint; on 200 renders the reply and explains it,
   * otherwise explains the refusal.
   * @param {string} url
   * @param {object|undefined} body - sent as JSON when given
   * @param {string} sentence - the explanation when it succeeds
   * @param {string} tip - the devtools tip when it succeeds
   */
  function postAndExplain(url, body, sentence, tip) {
    send('POST', url, body === undefined ? {} : { body: body }, function (result) {
      if (result.status === 200) {
        renderSession(result.body);
        explain(sentence, tip);
      } else {
        explain(errorSentence(result), 'Network → ' + url.slice(1) + ' → Response.');
      }
    });
  }

  /**
   * POST a merge patch, render the reply and explain it.
   * @param {object} patch
   * @param {string} describe - the sentence shown when it succeeds
   */
  function update(patch, describe) {
    postAndExplain('/update-session-data', patch, describe,
      'Network → update-session-data → Headers: the Cookie request header carried session_id; the Payload tab shows the JSON body.');
  }

  /** Draws the initial state and asks the server for the session. */
  function onLoad() {
    renderTheme(readCookie('theme') === 'dark' ? 'dark' : 'light');
    renderCookies();
    refresh(function (result) {
      const session = result.body && result.body.session;
      if (session && session.page_views === 1) {
        explain('This was your first visit: loading the page created a session on the server, and the reply set the cookie session_id, which your browser now sends with every request, this XHR included.',
          'Network → the first request (/) → Response Headers → Set-Cookie.');
      } else if (session && session.active) {
        explain('The page loaded and your browser sent the session_id cookie it already had, so the server found your session (page view ' + session.page_views + ').',
          'Network → get-session-data → Request Headers → Cookie.');
      }
    });
  }

  /** The Refresh button. */
  function onRefresh() {
    refresh(function (result) {
      const session = result.body && result.body.session;
      explain(session && session.active
        ? 'The XHR carried the session_id cookie automatically; the server looked the id up and answered with your data. Reading counts as activity, so the expiry moved forward.'
        : 'No live session: the request carried no valid session_id, so the server answered with an empty state and created nothing.',
      'Network → get-session-data → Request Headers → Cookie.');
    });
  }

  /** The cookie form: writes the cookie, then shows the server received it. */
  function onSetCookie(event) {
    event.preventDefault();
    const name = el.cookieName.value.trim();
    if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
      explain('A cookie name is letters, digits and a few symbols, with no spaces, "=" or ";".');
      el.cookieName.focus();
      return;
    }
    writeCookie(name, el.cookieValue.value, 86400);
    renderCookies();
    refresh(function (result) {
      const received = (result.body && result.body.cookies_received) || [];
      explain('JavaScript wrote ' + name + ' into document.cookie. The next request, this refresh, carried it: the server received ' +
        (received.indexOf(name) >= 0 ? 'it' : 'no such cookie') + ' (cookies_received: ' + received.join(', ') + ').',
      'Application → Cookies shows ' + name + ' without the HttpOnly tick; Network → Cookie header.');
    });
  }

  /** Deletes the cookie named in the form. */
  function onDeleteCookie() {
    const name = el.cookieName.value.trim();
    writeCookie(name, '', 0);
    renderCookies();
    explain('Setting ' + name + ' with Max-Age=0 tells the browser to drop it; document.cookie no longer shows it.');
  }

  /** The update form: sends {key: value}. */
  function onUpdate(event) {
    event.preventDefault();
    const key = el.dataKey.value;
    const value = parseValue(el.dataValue.value);
    const patch = {};
    patch[key] = value;
    update(patch, 'The server merged ' + JSON.stringify(patch) + ' into the session data it keeps; the browser only sent the cookie and the token.');
  }

  /** Sends {key: null}, which deletes the key. */
  function onDeleteKey() {
    const key = el.dataKey.value;
    const patch = {};
    patch[key] = null;
    update(patch, 'Sending null for "' + key + '" removed the key: that is how a JSON Merge Patch deletes.');
  }

  /** Regenerate id. */
  function onRegenerate() {
    postAndExplain('/regenerate-session', undefined,
      'The server moved your data to a new session id and a new CSRF token, and sent a fresh Set-Cookie. The old id now finds nothing: a fixation attack that planted it is void.',
      'Network → regenerate-session → Response Headers → Set-Cookie; Application → Cookies shows the new value.');
  }

  /** Clear session. */
  function onClear() {
    postAndExplain('/clear-session', undefined,
      'The server deleted the session and answered with Set-Cookie: session_id=; Max-Age=0, so the browser dropped the cookie. The next update starts a brand-new session.',
      'Network → clear-session → Response Headers → Set-Cookie; the cookie is gone from Application → Cookies.');
  }

  /** Sends an update without X-CSRF-Token, as a forged request would. */
  function onNoToken() {
    send('POST', '/update-session-data', { body: { forged: true }, token: false }, function (result) {
      if (result.status === 403) {
        explain('Refused with 403: the cookie rode along as it always does, but the request lacked the X-CSRF-Token header, which only this page can read. A forged request from another site looks just like this.',
          'Network → update-session-data → Response: ' + (result.body && result.body.error ? result.body.error.code : '403') + '.');
      } else if (result.status === 200) {
        renderSession(result.body);
        explain('Accepted: with no live session there is nothing to protect, so the update created a session and a token.');
      } else {
        explain(errorSentence(result));
      }
    });
  }

  /** Sends 20 updates with distinct keys at once and counts how many arrived. */
  function onBurst() {
    el.burstResult.textContent = 'Sending…';
    const runId = Date.now().toString(36);
    const keys = [];
    for (let i = 1; i <= BURST_SIZE; i += 1) keys.push('burst_' + runId + '_' + i);
    function fire() {
      let pending = keys.length;
      keys.forEach(function (key, index) {
        const patch = {};
        patch[key] = index + 1;
        send('POST', '/update-session-data', { body: patch }, function () {
          pending -= 1;
          if (pending === 0) countBurst();
        });
      });
    }
    function countBurst() {
      refresh(function (result) {
        const data = (result.body && result.body.data) || {};
        const kept = keys.filter(function (key) { return Object.prototype.hasOwnProperty.call(data, key); }).length;
        renderBurst(kept, keys.length);
        explain(kept + ' of ' + keys.length + ' updates sent at the same time arrived. Each request loads, changes and saves the whole session; the server runs the requests of one session one at a time, so none overwrites another. Many session libraries do not, and keep only some of them.',
          'Network: ' + keys.length + ' update-session-data requests started together.');
      });
    }
    // Parallel requests with no session would create one session each.
    if (csrfToken) {
      fire();
    } else {
      send('POST', '/update-session-data', { body: {} }, fire);
    }
  }

  /** Toggles the theme cookie and the page's theme. */
  function onThemeToggle() {
    const theme = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
    writeCookie('theme', theme, 31536000);
    renderTheme(theme);
    renderCookies();
    explain('JavaScript wrote theme=' + theme + ' into document.cookie. Every request now carries it, and the server renders data-theme="' + theme + '" into the page, so a reload shows this theme from the first paint.',
      'Application → Cookies → theme; reload and look at the <html> element.');
  }

  // ---------------------------------------------------------------------
  // Event wiring
  // ---------------------------------------------------------------------

  el.themeToggle.addEventListener('click', onThemeToggle);
  el.cookieForm.addEventListener('submit', onSetCookie);
  el.deleteCookie.addEventListener('click', onDeleteCookie);
  el.refresh.addEventListener('click', onRefresh);
  el.updateForm.addEventListener('submit', onUpdate);
  el.deleteKey.addEventListener('click', onDeleteKey);
  el.regenerate.addEventListener('click', onRegenerate);
  el.clear.addEventListener('click', onClear);
  el.noToken.addEventListener('click', onNoToken);
  el.burst.addEventListener('click', onBurst);
  onLoad();
}());
