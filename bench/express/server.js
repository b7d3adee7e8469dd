// The benchmark's peer: the two session routes of ajax-sessions, with the
// same JSON shapes, the same CSRF check and the same JSON Merge Patch, in
// the stack a Node.js developer would pick: Express 5, express-session and
// connect-redis over node-redis. Run only by bench/run.sh:
//   node bench/express/server.js PORT REDIS_URL
// It prints `listening on http://127.0.0.1:PORT` once it serves.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';

const [port = '3100', redisUrl = 'redis://127.0.0.1:6379'] = process.argv.slice(2);
const IDLE_SECONDS = 1800;

const client = createClient({ url: redisUrl });
await client.connect();

const app = express();
app.disable('x-powered-by');
app.use(session({
  name: 'session_id',
  store: new RedisStore({ client, prefix: 'express:' }),
  secret: randomBytes(32).toString('hex'),
  resave: false,
  saveUninitialized: false,
  cookie: { httpOnly: true, sameSite: 'lax', path: '/', maxAge: IDLE_SECONDS * 1000 },
}));

/** The cookie names of the request, in order (never values). */
function cookieNames(req) {
  return (req.headers.cookie || '').split(';')
    .map((pair) => pair.split('=')[0].trim())
    .filter(Boolean);
}

/** The reply shape of ajax-sessions. */
function reply(req, res) {
  const state = req.session.state;
  res.set('Cache-Control', 'no-store');
  if (!state) {
    return res.json({ session: { active: false }, data: {}, cookies_received: cookieNames(req), served_by: 'express', store: 'redis' });
  }
  return res.json({
    session: {
      active: true,
      created_at: new Date(state.created_at * 1000).toISOString(),
      expires_at: req.session.cookie.expires.toISOString(),
      page_views: state.page_views,
    },
    data: state.data,
    csrf_token: state.csrf_token,
    cookies_received: cookieNames(req),
    served_by: 'express',
    store: 'redis',
  });
}

/** RFC 7396. */
function mergePatch(target, patch) {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

function fail(res, status, code, message) {
  return res.status(status).json({ error: { code, message } });
}

app.get('/get-session-data', reply);

app.post('/update-session-data', express.json({ limit: '16kb', strict: false }), (req, res) => {
  const origin = req.get('origin');
  if (origin && origin !== `${req.protocol}://${req.get('host')}`) {
    return fail(res, 403, 'cross_origin_rejected', 'Requests that change the session must come from this site.');
  }
  const state = req.session.state;
  if (state) {
    const sent = req.get('x-csrf-token');
    if (!sent) return fail(res, 403, 'csrf_token_missing', 'This session needs its CSRF token.');
    const a = Buffer.from(sent);
    const b = Buffer.from(state.csrf_token);
    if (a.length !== b.length || !timingSafeEqual(a, b)) {
      return fail(res, 403, 'csrf_token_invalid', 'The X-CSRF-Token header does not match.');
    }
  }
  if (req.body === null || typeof req.body !== 'object' || Array.isArray(req.body)) {
    return fail(res, 422, 'not_an_object', 'The body must be a JSON object.');
  }
  const next = state || {
    created_at: Math.floor(Date.now() / 1000),
    page_views: 0,
    csrf_token: randomBytes(32).toString('base64url'),
    data: {},
  };
  next.data = mergePatch(next.data, req.body);
  req.session.state = next;
  return reply(req, res);
});

app.listen(Number(port), '127.0.0.1', function () {
  console.log(`listening on http://127.0.0.1:${this.address().port}`);
});
