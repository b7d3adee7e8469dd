// Unit tests of static/format.js: the page's one JSON parser, its one
// document.cookie parser and the small formatters the sentences use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importStatic } from './static-module.mjs';

const {
  shorten, formatTime, clock, tenth, apiName, parseJson, parseCookies, cookieValue, hasCookie, validCookieName, maskPassword, receivedNote
} = await importStatic('format.js');

test('times are shown as UTC clock times; text that is no time as it came', () => {
  assert.equal(formatTime('2026-11-28T09:30:05Z'), '09:30:05 UTC');
  assert.equal(formatTime('2026-11-28T10:30:05+01:00'), '09:30:05 UTC');
  assert.equal(formatTime('soon'), 'soon');
});

test('clock, tenth and the API names', () => {
  assert.equal(clock(125), '2:05');
  assert.equal(clock(59), '0:59');
  assert.equal(clock(3599), '59:59');
  assert.equal(clock(3600), '1:00:00');
  assert.equal(clock(28800 - 65), '7:58:55');
  assert.equal(tenth(1800), '180 s');
  assert.equal(tenth(2), '0.2 s');
  assert.equal(apiName('fetch'), 'fetch()');
  assert.equal(apiName('xhr'), 'XMLHttpRequest');
});

test('parseJson: JSON, or null (or the fallback given) for no text or not JSON', () => {
  assert.deepEqual(parseJson('{"a": [1, null]}'), { a: [1, null] });
  assert.equal(parseJson('null'), null);
  assert.equal(parseJson(''), null);
  assert.equal(parseJson(null), null);
  assert.equal(parseJson(undefined), null);
  assert.equal(parseJson('{not json'), null);
  assert.equal(parseJson('blue', 'blue'), 'blue');
  assert.equal(parseJson('', ''), '');
  assert.equal(parseJson('null', 'null'), null);
  assert.equal(parseJson('3', '3'), 3);
});

test('parseCookies reads document.cookie pairs in order, values as written', () => {
  assert.deepEqual(parseCookies(''), []);
  assert.deepEqual(parseCookies('theme=dark; note=a%3Bb=c; bare'), [
    { name: 'theme', value: 'dark' },
    { name: 'note', value: 'a%3Bb=c' },
    { name: '', value: 'bare' }
  ]);
});

test('cookieValue decodes the first value of a name, or gives null', () => {
  const text = 'theme=dark; note=a%3B%20b; bad=%E0%A4%A; theme=light';
  assert.equal(cookieValue(text, 'theme'), 'dark');
  assert.equal(cookieValue(text, 'note'), 'a; b');
  assert.equal(cookieValue(text, 'bad'), '%E0%A4%A');
  assert.equal(cookieValue(text, 'them'), null);
  assert.equal(cookieValue('', 'theme'), null);
});

test('hasCookie matches the whole name, and the written value when given', () => {
  const text = 'theme=dark; note=a%3B';
  assert.equal(hasCookie(text, 'theme'), true);
  assert.equal(hasCookie(text, 'them'), false);
  assert.equal(hasCookie(text, 'theme', 'dark'), true);
  assert.equal(hasCookie(text, 'theme', 'light'), false);
  assert.equal(hasCookie(text, 'note', 'a%3B'), true);
  assert.equal(hasCookie('', 'theme'), false);
});

test('cookie names: tokens only', () => {
  assert.equal(validCookieName('favourite_colour'), true);
  assert.equal(validCookieName('a.b-c!'), true);
  assert.equal(validCookieName(''), false);
  assert.equal(validCookieName('two words'), false);
  assert.equal(validCookieName('a=b'), false);
  assert.equal(validCookieName('a;b'), false);
});

test('shorten: short text whole, long text cut with its length', () => {
  assert.equal(shorten('oatmeal'), 'oatmeal');
  assert.equal(shorten('x'.repeat(80)), 'x'.repeat(80));
  assert.equal(shorten('x'.repeat(5000)), 'x'.repeat(60) + '… (5,000 characters)');
});

test('the log keeps a login body with its password masked, and any other body as it was', () => {
  const kept = maskPassword(JSON.stringify({ username: 'alice', password: 'wonderland', remember: false }));
  assert.doesNotMatch(kept, /wonderland/);
  assert.deepEqual(JSON.parse(kept), { username: 'alice', password: '••••••••', remember: false });
  assert.equal(maskPassword('{"color":"blue"}'), '{"color":"blue"}');
  assert.equal(maskPassword(null), null);
  assert.equal(maskPassword('not json'), 'not json');
});

test('the log says the lab does not report the cookies it received, and points at the ledger', () => {
  const page = 'http://127.0.0.1:4100';
  assert.equal(receivedNote({ url: 'http://127.0.0.1:4101/lab/planted?probe=p', status: 200, received: null }, page),
    '(the lab does not report them; see the ledger)');
  assert.equal(receivedNote({ url: '/get-session-data', status: 200, received: ['session_id', 'theme'] }, page), 'session_id, theme');
  assert.equal(receivedNote({ url: '/get-session-data', status: 200, received: [] }, page), '(none)');
  assert.equal(receivedNote({ url: '/', status: 0, received: null }, page), '(no reply)');
  assert.equal(receivedNote({ url: '/', status: 200, received: null }, page), '(not reported)');
});
