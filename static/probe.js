/**
 * Probes and the ledger: a fresh probe names one run against the lab, and
 * the ledger (`GET /lab/ledger`, same-origin, not logged) tells what
 * reached the servers under it. Sent through transport.js.
 */

import { send } from './transport.js';

/**
 * 16 random URL-safe characters.
 * @returns {string}
 */
export function freshProbe() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode.apply(null, bytes)).replace(/\+/g, '-').replace(/\//g, '_');
}

/**
 * The ledger's entries for a probe.
 * @param {string} probe
 * @param {function(Array<Object>): void} done
 */
export function readLedger(probe, done) {
  send({ method: 'GET', url: '/lab/ledger?probe=' + probe, api: 'fetch' }, function (x) {
    done(x.body && Array.isArray(x.body.requests) ? x.body.requests : []);
  });
}
