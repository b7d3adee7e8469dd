/**
 * Panel "Across origins and sites": requests to the lab listener, the other
 * origin, with either API, with or without credentials, under each of the
 * lab's CORS policies; the table says what the script got and, from the
 * ledger, what reached the server. Also the other site's attacker page.
 */

import { request, explain } from './exchange.js';
import { send } from './transport.js';
import { explainLabRow } from './lab-explain.js';
import { apiName } from './format.js';

const POLICIES = ['credentials', 'wildcard', 'none'];
/** How long the panel watches the ledger for the attacker's request. */
const ATTACK_WATCH_MS = 120000;

const el = {
  labPort: document.querySelector('meta[name="lab-port"]'),
  status: document.getElementById('lab-status'),
  form: document.getElementById('lab-form'),
  target: document.getElementById('lab-target'),
  api: document.getElementById('lab-api'),
  credentials: document.getElementById('lab-credentials'),
  policy: document.getElementById('lab-policy'),
  method: document.getElementById('lab-method'),
  runAll: document.getElementById('lab-run-all'),
  progress: document.getElementById('lab-progress'),
  rows: document.getElementById('lab-rows'),
  attackPort: document.getElementById('attack-port'),
  attackSite: document.getElementById('attack-site'),
  attackResults: document.getElementById('attack-results'),
  openSite: document.getElementById('lab-open-site')
};

/**
 * The lab's origins as seen from this page: another port of this host
 * (same site), and the same port under the other loopback name (another
 * site), which only exists when the page was opened as 127.0.0.1 or
 * localhost.
 * @returns {{port: (string|null), site: (string|null), why: string}}
 */
export function labTargets(labPort, hostname) {
  if (!labPort || labPort === 'off') {
    return { port: null, site: null, why: 'The lab is off: the server was started with --lab-port off.' };
  }
  const other = { '127.0.0.1': 'localhost', localhost: '127.0.0.1' }[hostname];
  const host = hostname.indexOf(':') >= 0 ? '[' + hostname + ']' : hostname;
  return {
    port: 'http://' + host + ':' + labPort,
    site: other ? 'http://' + other + ':' + labPort : null,
    why: other ? '' : 'Another site is not available from ' + hostname + ': the lab knows two names for this machine, 127.0.0.1 and localhost, which browsers treat as two sites. Open this page as http://127.0.0.1:' +
      location.port + '/ or http://localhost:' + location.port + '/ to try it.'
  };
}

const targets = labTargets(el.labPort && el.labPort.content, location.hostname);

/** 16 random URL-safe characters. */
function freshProbe() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode.apply(null, bytes)).replace(/\+/g, '-').replace(/\//g, '_');
}

/** The ledger's entries for a probe (a same-origin read, not logged). */
function readLedger(probe, done) {
  send({ method: 'GET', url: '/lab/ledger?probe=' + probe, api: 'fetch' }, function (x) {
    done(x.body && Array.isArray(x.body.requests) ? x.body.requests : []);
  });
}

/**
 * Sends one lab request and reports the outcome with the ledger's entries.
 * @param {{target: string, api: string, withCredentials: boolean, policy: string, method: string}} choice
 * @param {function(Object): void} done
 */
function runOne(choice, done) {
  const origin = targets[choice.target];
  const probe = freshProbe();
  const url = origin + '/lab/echo?probe=' + probe + '&cors=' + choice.policy;
  const sent = {
    method: choice.method,
    url: url,
    api: choice.api,
    withCredentials: choice.withCredentials
  };
  if (choice.method === 'POST') sent.body = { hello: 'lab' };
  request(sent, function (x) {
    readLedger(probe, function (requests) {
      const outcome = Object.assign({}, choice, { status: x.status, requests: requests, origin: origin });
      done(outcome);
    });
  });
}

/** Adds a row to the table (at the top). */
function renderRow(outcome) {
  const said = explainLabRow(outcome);
  const row = document.createElement('tr');
  row.dataset.target = outcome.target;
  row.dataset.api = outcome.api;
  row.dataset.credentials = String(outcome.withCredentials);
  row.dataset.policy = outcome.policy;
  row.dataset.method = outcome.method;
  row.dataset.status = String(outcome.status);
  row.dataset.arrived = String(said.arrived);
  row.dataset.preflighted = String(said.preflighted);
  row.dataset.cookies = said.cookies.join(',');
  row.dataset.secFetchSite = said.secFetchSite;
  [
    (outcome.target === 'port' ? 'another port ' : 'another site ') + outcome.origin,
    apiName(outcome.api),
    outcome.withCredentials ? 'on' : 'off',
    outcome.policy,
    outcome.method,
    said.got,
    said.received,
    said.secFetchSite,
    said.why
  ].forEach(function (text) {
    const cell = document.createElement('td');
    cell.textContent = text;
    row.append(cell);
  });
  if (!outcome.status) row.className = 'blocked';
  el.rows.prepend(row);
}

/** The controls' choice. */
function currentChoice() {
  return {
    target: el.target.value,
    api: el.api.value === 'fetch' ? 'fetch' : 'xhr',
    withCredentials: el.credentials.checked,
    policy: POLICIES.indexOf(el.policy.value) >= 0 ? el.policy.value : 'credentials',
    method: el.method.value === 'POST' ? 'POST' : 'GET'
  };
}

/** "Send": one request with the controls' choice. */
function onSend(event) {
  event.preventDefault();
  const choice = currentChoice();
  if (!targets[choice.target]) {
    el.progress.textContent = targets.why;
    return;
  }
  el.progress.textContent = 'Sending…';
  runOne(choice, function (outcome) {
    renderRow(outcome);
    el.progress.textContent = 'Done: the newest row is at the top.';
  });
}

/** "Run every combination": 2 targets × 2 APIs × 2 credential modes × 3 policies, GETs, one after another. */
function onRunAll() {
  const choices = [];
  ['port', 'site'].forEach(function (target) {
    ['xhr', 'fetch'].forEach(function (api) {
      [true, false].forEach(function (withCredentials) {
        POLICIES.forEach(function (policy) {
          choices.push({ target: target, api: api, withCredentials: withCredentials, policy: policy, method: 'GET' });
        });
      });
    });
  });
  const runnable = choices.filter(function (choice) { return targets[choice.target]; });
  el.rows.replaceChildren();
  el.runAll.disabled = true;
  delete el.rows.dataset.complete;
  let next = 0;
  /** Runs the next combination, or finishes. */
  function step() {
    if (next >= runnable.length) {
      el.runAll.disabled = false;
      el.rows.dataset.complete = String(runnable.length);
      el.progress.textContent = runnable.length + ' combinations done' +
        (runnable.length < choices.length ? '; ' + (choices.length - runnable.length) + ' skipped. ' + targets.why : '.');
      return;
    }
    const choice = runnable[next];
    next += 1;
    el.progress.textContent = 'Running ' + next + ' of ' + runnable.length + '…';
    runOne(choice, function (outcome) {
      renderRow(outcome);
      step();
    });
  }
  step();
}

/**
 * Opens the other site's attacker page with a fresh probe, then watches the
 * ledger until the forged request shows up, and says what reached the server.
 * @param {'port'|'site'} target
 */
function onAttack(target) {
  const origin = targets[target];
  if (!origin) {
    explain({ text: targets.why, tip: '', unexpected: false });
    return;
  }
  const probe = freshProbe();
  window.open(origin + '/?probe=' + probe + '&target=' + location.origin, '_blank', 'noopener');
  const item = document.createElement('li');
  item.dataset.target = target;
  item.dataset.probe = probe;
  item.textContent = 'Opened ' + origin + ' in a new tab: press its button, then come back. Watching the ledger…';
  el.attackResults.prepend(item);
  const started = Date.now();
  /** Looks at the ledger once a second. */
  function watch() {
    readLedger(probe, function (requests) {
      const forged = requests.find(function (r) { return r.path === '/update-session-data'; });
      if (forged) {
        item.dataset.status = String(forged.status);
        item.dataset.code = forged.code || '';
        item.dataset.cookies = forged.cookies_received.join(',');
        item.textContent = attackSentence(origin, forged);
        return;
      }
      if (Date.now() - started < ATTACK_WATCH_MS) {
        window.setTimeout(watch, 1000);
      } else {
        item.textContent = 'No forged request from ' + origin + ' reached the server within two minutes.';
      }
    });
  }
  watch();
}

/** What the ledger says about the forged request. */
function attackSentence(origin, forged) {
  const session = forged.cookies_received.indexOf('session_id') >= 0;
  const cookies = forged.cookies_received.length ? forged.cookies_received.join(', ') : 'no cookies';
  const answer = forged.status + (forged.code ? ' ' + forged.code : '');
  return 'The forged POST from ' + origin + ' reached the server with ' + cookies + ' (Origin: ' + (forged.origin || 'none') +
    ', Sec-Fetch-Site: ' + (forged.sec_fetch_site || 'none') + ') and was answered ' + answer + '. ' +
    (session
      ? 'The browser did send session_id: to SameSite=Lax a page on another port is the same site. What stopped it is the server\'s Origin check.'
      : 'The browser did not send session_id: SameSite=Lax keeps it off requests from another site. ') +
    (forged.status === 200 ? ' Unexpected: the server accepted it.' : ' Your data did not change.');
}

/** Wires the panel, or says why it cannot run. */
function init() {
  if (!el.form) return;
  if (!targets.port) {
    el.status.textContent = targets.why;
    el.form.querySelectorAll('button, select, input').forEach(function (control) { control.disabled = true; });
    el.attackPort.disabled = true;
    el.attackSite.disabled = true;
    return;
  }
  el.target.options[0].textContent = 'another port (same site): ' + targets.port;
  el.target.options[1].textContent = targets.site ? 'another site: ' + targets.site : 'another site: not available here';
  el.attackPort.textContent = 'Open the attacker page on ' + targets.port + ' (same site)';
  el.attackSite.textContent = targets.site ? 'Open the attacker page on ' + targets.site + ' (another site)' : 'Another site: not available here';
  el.openSite.href = (targets.site || targets.port) + '/';
  el.status.textContent = targets.why || 'The lab listens on ' + targets.port + (targets.site ? ' and, as another site, ' + targets.site : '') + '.';
  el.form.addEventListener('submit', onSend);
  el.runAll.addEventListener('click', onRunAll);
  el.attackPort.addEventListener('click', function () { onAttack('port'); });
  el.attackSite.addEventListener('click', function () { onAttack('site'); });
}

init();
