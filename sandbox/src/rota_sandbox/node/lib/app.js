'use strict'
// The platform's Express app: the routes the runbook touches (/api/health,
// /api/health/cache, /api/cache/clear), the API the sandbox's traffic exercises
// (/api/conversations/:id, /api/users/:id, /api/messages?conversation=), and the
// loopback-only drill hooks under /__sandbox/ (left out of the request log):
//
//   POST /__sandbox/headers?profile=good|weak|poor       the security-header profile
//   POST /__sandbox/health?status=ok|degraded|down[&delay_ms=N]   what /api/health says
//   POST /__sandbox/faults?error_rate=F&latency_ms=N     5xx rate and latency of the API
//   POST /__sandbox/leak?kb_per_request=N                retain memory per API call
//   GET  /__sandbox/state                                 the current settings
//
// One app is made per listener (plain HTTP, TLS); they share settings, cache, store and log.

const crypto = require('node:crypto')
const fs = require('node:fs')
const { STATUS_CODES } = require('node:http')
const express = require('express')
const { COOKIE, PROFILES, securityHeaders } = require('./headers')

const VERSION = require('../package.json').version
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1'])
const IDENT = /^(?=.*[A-Za-z0-9])[A-Za-z0-9-]{1,64}$/

// Failures the API injects at error_rate: status, and the cause for the log (never the client).
const FAULTS = [
  [500, (id) => `Failed to fetch conversation ${id}: Connection terminated unexpectedly`],
  [503, (_id, r) => `database pool exhausted (size=10, waiting=${1 + Math.floor(r() * 40)})`],
  [502, () => `OpenAI request failed: 502 Bad Gateway (request_id=req_${crypto.randomBytes(12).toString('hex')})`]
]

const INDEX =
  '<!doctype html><html lang=en><head><meta charset=utf-8><title>Rylie AI</title>' +
  '</head><body><h1>Rylie AI</h1><p>Sandbox platform.</p></body></html>\n'

function sleep (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function wrap (handler) {
  return (req, res, next) => handler(req, res).catch(next)
}

function only (...methods) {
  return (req, res) => {
    res.set('Allow', methods.join(', ')).status(405).json({ error: 'method not allowed' })
  }
}

function lastValue (v) {
  return Array.isArray(v) ? v[v.length - 1] : v
}

function firstLine (err) {
  const text = String((err && (err.message || err.code)) || (err && err.name) || err).trim()
  return text.split('\n')[0] || 'unknown error'
}

// shared: { settings, cache, store, database, log, tokenFile, random, leaked, started }
function createApp (shared, { tls, redirectTo = null }) {
  const { settings: s, cache, store, log } = shared
  const app = express()

  app.use((req, res, next) => {
    const start = process.hrtime.bigint()
    res.setHeader('X-Request-Id', crypto.randomUUID())
    if (!req.path.startsWith('/__sandbox/')) {
      // Logged as the response is handed over, not after it left: a client that got its
      // answer finds the line.
      const end = res.end
      res.end = function (...args) {
        res.end = end
        const ms = Number(process.hrtime.bigint() - start) / 1e6
        try {
          log.request(req, res, ms, res.locals.err)
        } catch (err) {
          process.stderr.write(`request log failed: ${err}\n`)
        }
        return end.apply(this, args)
      }
    }
    next()
  })
  if (log.middleware) app.use(log.middleware)
  app.use(securityHeaders(() => s.headers, { tls }))
  app.use('/__sandbox', hooks(shared))
  if (redirectTo) {
    app.use((req, res) => res.redirect(308, `${redirectTo}${req.originalUrl}`))
  }
  app.use(express.json({ limit: '1mb' }))

  app.route('/').get((req, res) => {
    res.cookie('sid', crypto.randomBytes(16).toString('base64url'), COOKIE[s.headers])
    res.type('html').send(INDEX)
  }).all(only('GET', 'HEAD'))

  app.route('/api/health').get(wrap(async (req, res) => {
    if (s.health_delay_ms) await sleep(s.health_delay_ms)
    let database = 'ok'
    let error = null
    if (shared.database) {
      try {
        await store.check()
      } catch (err) {
        database = 'down'
        error = firstLine(err)
      }
    }
    const status = s.health !== 'ok' ? s.health : database === 'ok' ? 'ok' : 'down'
    const body = {
      status,
      uptime_s: Math.round(performance.now() - shared.started) / 1000,
      version: VERSION,
      checks: { database, cache: 'ok' }
    }
    if (error) body.error = error
    res.status(status === 'down' ? 503 : 200).json(body)
  })).all(only('GET', 'HEAD'))

  app.route('/api/health/cache').get((req, res) => res.json(cache.stats())).all(only('GET', 'HEAD'))

  app.route('/api/cache/clear').post((req, res) => {
    const header = req.get('Authorization') || ''
    const space = header.indexOf(' ')
    const scheme = space < 0 ? header : header.slice(0, space)
    const presented = space < 0 ? '' : header.slice(space + 1).trim()
    res.set('WWW-Authenticate', 'Bearer realm="rylie"')
    if (scheme.toLowerCase() !== 'bearer' || !presented) {
      return res.status(401).json({ error: 'missing bearer token' })
    }
    if (!tokenMatches(shared.tokenFile, presented)) {
      return res.status(401).json({ error: 'invalid token' })
    }
    res.removeHeader('WWW-Authenticate')
    res.json({ cleared: cache.clear() })
  }).all(only('POST'))

  const api = (kind, ident) => async (req, res) => {
    if (!ident || !IDENT.test(ident)) return res.status(400).json({ error: `invalid ${kind} id` })
    if (s.leak_kb) shared.leaked.push(Buffer.alloc(s.leak_kb * 1024, 1))
    if (s.latency_ms) await sleep(Math.min(-Math.log(1 - shared.random()) * s.latency_ms, 10 * s.latency_ms))
    if (s.error_rate && shared.random() < s.error_rate) {
      const [status, cause] = FAULTS[Math.floor(shared.random() * FAULTS.length)]
      res.locals.err = cause(ident, shared.random)
      return res.status(status).json({ error: STATUS_CODES[status] })
    }
    const noun = kind.slice(0, -1)
    if (kind === 'messages') {
      const body = await store.record(kind, ident)
      if (body === null) return res.status(404).json({ error: 'conversation not found' })
      return res.type('application/json').send(body)
    }
    const key = `${noun}:${ident}`
    let body = cache.get(key)
    const hit = body !== undefined
    if (!hit) {
      // Without a database a miss still costs a round trip: that is why there is a cache.
      if (!shared.database && s.latency_ms) await sleep(2 * s.latency_ms)
      body = await store.record(kind, ident)
      if (body !== null) cache.set(key, body)
    }
    if (body === null) return res.status(404).json({ error: `${noun} not found` })
    res.set('X-Cache', hit ? 'HIT' : 'MISS').type('application/json').send(body)
  }
  for (const kind of ['conversations', 'users']) {
    app.route(`/api/${kind}/:id`)
      .get(wrap((req, res) => api(kind, req.params.id)(req, res)))
      .all(only('GET', 'HEAD'))
  }
  app.route('/api/messages')
    .get(wrap((req, res) => api('messages', String(lastValue(req.query.conversation) || ''))(req, res)))
    .all(only('GET', 'HEAD'))

  app.use((req, res) => res.status(404).json({ error: 'not found', path: req.path }))
  app.use((err, req, res, _next) => {
    const status = err.status >= 400 && err.status < 500 ? err.status : 500
    if (status >= 500) {
      res.locals.err = `${err.name}: ${firstLine(err)}`
      process.stderr.write(`${err.stack || err}\n`)
    }
    res.status(status).json({
      error: STATUS_CODES[status],
      request_id: res.getHeader('X-Request-Id')
    })
  })
  return app
}

// Every line of the token file is a valid key (two while a rotation is in progress). Read on
// each request, so a rotation needs no restart; compared without short-circuiting, so timing
// says nothing about which token, or whether any, came close.
function tokenMatches (tokenFile, presented) {
  let text
  try {
    text = fs.readFileSync(tokenFile, 'utf8')
  } catch {
    return false
  }
  const given = crypto.createHash('sha256').update(presented).digest()
  let valid = false
  for (const line of text.split('\n')) {
    const token = line.trim()
    if (!token || token.startsWith('#')) continue
    valid = crypto.timingSafeEqual(given, crypto.createHash('sha256').update(token).digest()) || valid
  }
  return valid
}

function hooks (shared) {
  const s = shared.settings
  const router = express.Router()
  router.use((req, res, next) => {
    if (!LOOPBACK.has(req.socket.remoteAddress)) {
      return res.status(403).json({ error: 'drill hooks are loopback-only' })
    }
    next()
  })
  const state = () => ({ ...s, logger: shared.log.kind })
  router.all('/state', (req, res) => res.json(state()))
  router.use((req, res, next) => (req.method === 'POST' ? next() : only('POST')(req, res)))
  const q = (req, name, fallback) => {
    const v = lastValue(req.query[name])
    return v === undefined ? fallback : v
  }
  const change = (apply) => (req, res) => {
    try {
      apply(req) // validates everything before changing anything
    } catch (err) {
      return res.status(400).json({ error: err.message })
    }
    res.json(state())
  }
  router.post('/headers', change((req) => {
    const profile = q(req, 'profile')
    if (!PROFILES.includes(profile)) throw new Error(`profile must be one of ${PROFILES.join(', ')}`)
    s.headers = profile
  }))
  router.post('/health', change((req) => {
    const status = q(req, 'status', 'ok')
    if (!['ok', 'degraded', 'down'].includes(status)) throw new Error('status must be ok, degraded or down')
    const delay = Number(q(req, 'delay_ms', 0))
    if (!Number.isFinite(delay)) throw new Error('delay_ms must be a number')
    s.health_delay_ms = Math.max(0, delay)
    s.health = status
  }))
  router.post('/faults', change((req) => {
    const rate = Number(q(req, 'error_rate', s.error_rate))
    const latency = Number(q(req, 'latency_ms', s.latency_ms))
    if (!(rate >= 0 && rate <= 1) || !(latency >= 0)) {
      throw new Error('error_rate must be in [0, 1] and latency_ms >= 0')
    }
    s.error_rate = rate
    s.latency_ms = latency
  }))
  router.post('/leak', change((req) => {
    const kb = Math.trunc(Number(q(req, 'kb_per_request', 0)))
    if (!Number.isFinite(kb)) throw new Error('kb_per_request must be a number')
    s.leak_kb = Math.max(0, kb)
    if (s.leak_kb === 0) shared.leaked.length = 0
  }))
  router.use((req, res) => res.status(404).json({ error: 'no such drill hook', path: req.originalUrl.split('?')[0] }))
  return router
}

module.exports = { VERSION, createApp }
