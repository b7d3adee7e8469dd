/**
 * The lab page's actions. The attacker's forged request to the learner's
 * main origin, sent as a classic cross-site form would send it (the reply
 * is opaque to this page, mode: 'no-cors'; the ledger tells what arrived).
 * And session fixation (lesson 10): planting a session id for this host,
 * then asking what it finds; what each step did is said by
 * plant-explain.js from the reply.
 */
import { explainPlant, explainPlanted, probeFor } from './plant-explain.js';

const main = document.getElementById('main');
const button = document.getElementById('attack');
const result = document.getElementById('attack-result');
const plantButton = document.getElementById('plant');
const plantedButton = document.getElementById('planted');
const plantResult = document.getElementById('plant-result');
const plantedResult = document.getElementById('planted-result');

/** Where this tab keeps a probe it made, so that a reload keeps it. */
const KEPT_PROBE = 'lab-probe';

/**
 * The probe the two fixation steps share: the one the URL names, or,
 * opened without one, the one this tab made, kept across reloads.
 */
const probe = chooseProbe();
document.querySelectorAll('.probe-name').forEach(function (el) { el.textContent = probe; });

/** @returns {string} the probe, kept in sessionStorage when made here */
function chooseProbe() {
  let kept = null;
  try { kept = sessionStorage.getItem(KEPT_PROBE); } catch (e) { /* storage off: setItem fails too */ }
  const chosen = probeFor(main.dataset.probe || '', kept, freshProbe);
  if (chosen.made) {
    try {
      sessionStorage.setItem(KEPT_PROBE, chosen.probe);
    } catch (e) {
      // Storage off: a reload makes another probe, so the page does not say it keeps this one.
      document.querySelectorAll('.probe-kept').forEach(function (el) { el.remove(); });
    }
  }
  return chosen.probe;
}

/**
 * Shows sentences in a result box: the first, the key fact, on its own
 * line in bold, each of the others on a line of its own.
 * @param {HTMLElement} box
 * @param {string[]} sentences
 */
function show(box, sentences) {
  box.replaceChildren.apply(box, sentences.map(function (sentence, i) {
    const p = document.createElement('p');
    if (i === 0) p.className = 'key';
    p.textContent = sentence;
    return p;
  }));
}

/** @returns {string} a new probe: 'plant-' and 16 random hex digits */
function freshProbe() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return 'plant-' + Array.from(bytes, function (b) { return b.toString(16).padStart(2, '0'); }).join('');
}

/** Sends the forged update and says that it went. */
function attack() {
  const url = main.dataset.target + '/update-session-data?probe=' + encodeURIComponent(main.dataset.probe);
  result.textContent = 'Sending…';
  fetch(url, {
    method: 'POST',
    mode: 'no-cors',
    credentials: 'include',
    headers: { 'Content-Type': 'text/plain' },
    body: '{"attacker": "was here"}'
  }).then(function () {
    result.textContent = 'Sent. This page may not read the reply (an opaque response); go back to the learner\'s page to see from the ledger whether the cookie rode along and what the server answered.';
    result.dataset.sent = 'true';
  }, function (err) {
    result.textContent = 'The browser did not send it: ' + err.message;
    result.dataset.sent = 'failed';
  });
}

/**
 * Sends one fixation step to this lab (same origin) and reads the reply.
 * @param {string} method
 * @param {string} path - '/lab/plant' or '/lab/planted'
 * @returns {Promise<{status: number, body: (Object|null), echo: (string|null)}>}
 */
function step(method, path) {
  return fetch(path + '?probe=' + encodeURIComponent(probe), { method: method }).then(function (response) {
    return response.json().catch(function () { return null; }).then(function (body) {
      return { status: response.status, body: body, echo: response.headers.get('X-Set-Cookie-Echo') };
    });
  }, function () {
    return { status: 0, body: null, echo: null };
  });
}

/** Step 1: asks the lab to plant a session id for this host. */
function plant() {
  show(plantResult, ['Planting…']);
  delete plantResult.dataset.status;
  step('POST', '/lab/plant').then(function (reply) {
    show(plantResult, explainPlant({
      status: reply.status,
      body: reply.body,
      echo: reply.echo,
      pageHost: location.hostname,
      mainOrigins: (main.dataset.mainOrigins || '').split(' ').filter(Boolean)
    }));
    plantResult.dataset.status = String(reply.status);
  });
}

/** Step 2: asks what the planted id finds now. */
function lookUp() {
  show(plantedResult, ['Looking the planted id up…']);
  delete plantedResult.dataset.status;
  step('GET', '/lab/planted').then(function (reply) {
    show(plantedResult, explainPlanted({
      status: reply.status,
      body: reply.body,
      fixationDefence: main.dataset.fixationDefence !== 'false',
      probe: probe
    }));
    plantedResult.dataset.status = String(reply.status);
  });
}

if (button) button.addEventListener('click', attack);
plantButton.addEventListener('click', plant);
plantedButton.addEventListener('click', lookUp);
