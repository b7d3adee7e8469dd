/**
 * The lab panel's render functions: they draw what they are given (the
 * sentences come from lab-explain.js), always with textContent, and keep
 * no state of their own.
 */

import { explainLabRow } from './lab-row.js';
import { apiName } from './format.js';

/** The lab panel's DOM nodes, looked up once. */
export const labEl = {
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
  openSite: document.getElementById('lab-open-site'),
  jsCookies: document.getElementById('js-cookies'),
  jsCookiesLab: document.getElementById('js-cookies-lab')
};

/**
 * Panel 1's note on the lab's cookies; hidden when there is none.
 * @param {string} text - lab-explain.js `labCookiesHere`
 */
export function renderCookiesNote(text) {
  labEl.jsCookiesLab.textContent = text;
  labEl.jsCookiesLab.hidden = !text;
}

/**
 * Names the targets on the controls and says where the lab listens.
 * @param {{port: string, site: (string|null)}} targets
 * @param {string} status - the status line (lab-explain.js `labStatus`)
 */
export function renderTargets(targets, status) {
  // The options stay short enough for a narrow screen; the status line
  // names the origins.
  if (!targets.site) labEl.target.options[1].textContent = 'another site: not available here';
  labEl.attackPort.textContent = 'Open the attacker page on ' + targets.port + ' (same site)';
  labEl.attackSite.textContent = targets.site ? 'Open the attacker page on ' + targets.site + ' (another site)' : 'Another site: not available here';
  labEl.openSite.href = (targets.site || targets.port) + '/';
  labEl.status.textContent = status;
}

/**
 * Turns the panel's controls off and says why.
 * @param {string} why
 */
export function renderLabOff(why) {
  labEl.status.textContent = why;
  labEl.form.querySelectorAll('button, select, input').forEach(function (control) { control.disabled = true; });
  labEl.attackPort.disabled = true;
  labEl.attackSite.disabled = true;
}

/**
 * Shows how a run is going.
 * @param {string} text
 */
export function renderProgress(text) {
  labEl.progress.textContent = text;
}

/** Empties the table for a run of every combination, and turns its button off until it is done. */
export function renderRunStarted() {
  labEl.rows.replaceChildren();
  labEl.runAll.disabled = true;
  delete labEl.rows.dataset.complete;
}

/**
 * Marks the run of every combination done.
 * @param {number} ran - rows the run added
 */
export function renderRunDone(ran) {
  labEl.runAll.disabled = false;
  labEl.rows.dataset.complete = String(ran);
}

/**
 * Wide enough for the lab's table; narrower, each row is a card and its
 * "why" folds away (style.css has the same width).
 */
const WIDE_TABLE = window.matchMedia('(min-width: 721px)');

/**
 * The cells of a row, in the table's column order: text, and the label a
 * card shows before it.
 */
function cellsOf(outcome, said) {
  return [
    [outcome.target === 'port' ? 'another port' : 'another site', ''],
    [apiName(outcome.api), ''],
    [outcome.withCredentials ? 'on' : 'off', 'credentials'],
    [outcome.policy, 'policy'],
    [outcome.method, ''],
    [said.got, ''],
    [said.received, 'server received'],
    [said.secFetchSite, 'Sec-Fetch-Site']
  ];
}

/**
 * Adds a row to the table, with the claims its sentences rest on
 * (`data-claims`, see lab-row.js).
 * @param {import('./lab-row.js').LabOutcome & {api: string, origin: string, probe: string}} outcome
 * @param {'top'|'end'} where - "Send" adds at the top; a run of every
 *   combination adds at the end, so its rows read in the order they ran
 */
export function renderRow(outcome, where) {
  const said = explainLabRow(outcome);
  const row = document.createElement('tr');
  row.dataset.target = outcome.target;
  row.dataset.probe = outcome.probe;
  row.dataset.api = outcome.api;
  row.dataset.credentials = String(outcome.withCredentials);
  row.dataset.policy = outcome.policy;
  row.dataset.method = outcome.method;
  row.dataset.status = String(outcome.status);
  row.dataset.arrived = String(said.arrived);
  row.dataset.preflighted = String(said.preflighted);
  row.dataset.cookies = said.cookies.join(',');
  row.dataset.secFetchSite = said.secFetchSite;
  row.dataset.claims = JSON.stringify(said.claims);
  cellsOf(outcome, said).forEach(function (cell) {
    const td = document.createElement('td');
    td.textContent = cell[0];
    if (cell[1]) td.dataset.label = cell[1];
    row.append(td);
  });
  const origin = document.createElement('span');
  origin.className = 'origin';
  origin.textContent = ' ' + outcome.origin;
  row.cells[0].append(origin);
  row.append(whyCell(said.why));
  if (!outcome.status) row.className = 'blocked';
  if (where === 'end') {
    labEl.rows.append(row);
  } else {
    labEl.rows.prepend(row);
  }
}

/** The "why" cell: open in the table, folded on a card. */
function whyCell(text) {
  const td = document.createElement('td');
  td.className = 'why';
  const details = document.createElement('details');
  details.open = WIDE_TABLE.matches;
  const summary = document.createElement('summary');
  summary.textContent = 'Why';
  const p = document.createElement('p');
  p.textContent = text;
  details.append(summary, p);
  td.append(details);
  return td;
}

/**
 * Keeps the rows' "why" open while the table is wide, and folds it when the
 * rows become cards.
 */
export function watchTableWidth() {
  WIDE_TABLE.addEventListener('change', function () {
    labEl.rows.querySelectorAll('td.why details').forEach(function (details) { details.open = WIDE_TABLE.matches; });
  });
}

/**
 * Adds an attacker run to the list (at the top).
 * @param {'port'|'site'} target
 * @param {string} probe
 * @param {string} text - what the learner should do meanwhile
 * @returns {HTMLLIElement} the item, for renderAttackOutcome
 */
export function renderAttackOpened(target, probe, text) {
  const item = document.createElement('li');
  item.dataset.target = target;
  item.dataset.probe = probe;
  item.textContent = text;
  labEl.attackResults.prepend(item);
  return item;
}

/**
 * Shows, on an attacker run's item, what the ledger recorded and what it means.
 * @param {HTMLLIElement} item - from renderAttackOpened
 * @param {import('./lab-explain.js').LedgerEntry} forged - the forged request's ledger entry
 * @param {string} text - lab-explain.js `explainAttack`
 */
export function renderAttackOutcome(item, forged, text) {
  item.dataset.status = String(forged.status);
  item.dataset.code = forged.code || '';
  item.dataset.cookies = forged.cookies_received.join(',');
  item.textContent = text;
}

/**
 * Replaces an attacker run's text (no outcome to record), only when it
 * changed, so that screen readers do not hear it again every second.
 * @param {HTMLLIElement} item - from renderAttackOpened
 * @param {string} text
 * @param {string} state - lab-explain.js `attackProgress`'s state
 */
export function renderAttackText(item, text, state) {
  item.dataset.state = state;
  if (item.textContent !== text) item.textContent = text;
}
