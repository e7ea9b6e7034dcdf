#!/usr/bin/env node
// Writes labelled log files produced by the REAL Node loggers (pino, pino-http, winston,
// bunyan, morgan) for rota's log-analyzer corpus. Run by tests/corpus.py; by hand:
//
//   node tests/loggers/emit.js --out DIR [--seed 0] [--part tune|holdout]
//                              [--requests 300] [--events-per-request 1.2]
//
// For every NAME.log it writes NAME.labels (one truth label per log line, same order) and
// node-manifest.json (file, producer with the installed version, format).
//
// Labelling rule (the truth the analyzer is scored against):
//  * An app-level line (a message logged by the service itself) is labelled with the id of
//    the event template it was rendered from (templates.json, e.g. "user_login").
//  * A request line (pino-http's "request completed"/"request errored", morgan's lines,
//    bunyan's req/res lines) is labelled "<METHOD> <route template> <status class>",
//    e.g. "GET /api/conversations/:id 2xx": the route template is the pattern the request
//    URL was generated from (query string left out, whether or not express had a route for
//    it), the status class is that of the status the server really sent.
//
// Only the messages, the request sequence and the handlers' status choices follow the seed;
// timestamps, pids, hostnames and response times are whatever the real loggers write.
'use strict'

const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')

const pino = require('pino')
const pinoHttp = require('pino-http')
const winston = require('winston')
const bunyan = require('bunyan')
const express = require('express')
// morgan's "dev" format is coloured with ANSI escapes whatever the output is (a TTY or
// not); only NO_COLOR, read when the module loads, turns that off. Load it twice: once
// as-is (morgan-dev-ansi.log, what a redirected `dev` log really holds) and once with
// NO_COLOR=1 (morgan-dev.log).
const morgan = require('morgan')
const morganNoColor = (() => {
  const key = require.resolve('morgan')
  const saved = process.env.NO_COLOR
  delete require.cache[key]
  process.env.NO_COLOR = '1'
  try {
    return require('morgan')
  } finally {
    if (saved === undefined) delete process.env.NO_COLOR
    else process.env.NO_COLOR = saved
    delete require.cache[key]
  }
})()

// ---------------------------------------------------------------- arguments

function parseArgs (argv) {
  const args = { out: null, seed: 0, part: 'tune', requests: 300, eventsPerRequest: 1.2 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = argv[i + 1]
    if (a === '--out') { args.out = v; i++ } else if (a === '--seed') { args.seed = Number(v); i++ } else if (a === '--part') { args.part = v; i++ } else if (a === '--requests') { args.requests = Number(v); i++ } else if (a === '--events-per-request') { args.eventsPerRequest = Number(v); i++ } else throw new Error(`unknown argument ${a}`)
  }
  if (!args.out) throw new Error('--out DIR is required')
  if (!['tune', 'holdout'].includes(args.part)) throw new Error('--part is tune or holdout')
  if (!Number.isInteger(args.seed)) throw new Error('--seed is an integer')
  return args
}

// ---------------------------------------------------------------- seeded randomness

function mulberry32 (seed) {
  let a = seed >>> 0
  return function () {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function makeRandom (seed) {
  const r = mulberry32(seed)
  const rnd = {
    float: r,
    int: (lo, hi) => lo + Math.floor(r() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(r() * xs.length)],
    chance: (p) => r() < p,
    hex: (n) => { let s = ''; for (let i = 0; i < n; i++) s += '0123456789abcdef'[Math.floor(r() * 16)]; return s },
    weighted: (items, weightOf) => {
      const total = items.reduce((s, x) => s + weightOf(x), 0)
      let x = r() * total
      for (const it of items) { x -= weightOf(it); if (x < 0) return it }
      return items[items.length - 1]
    },
    poisson: (mean) => { // Knuth; small means only
      const L = Math.exp(-mean); let k = 0; let p = 1
      do { k++; p *= r() } while (p > L)
      return k - 1
    }
  }
  rnd.uuid = () => `${rnd.hex(8)}-${rnd.hex(4)}-4${rnd.hex(3)}-${rnd.pick(['8', '9', 'a', 'b'])}${rnd.hex(3)}-${rnd.hex(12)}`
  return rnd
}

// ---------------------------------------------------------------- variable generators
// Kept in step with the generators in tests/corpus.py (same kinds, same kind of values).

const NAMES = ['alice', 'bob', 'jdoe', 'maria.garcia', 'kwame_n', 'li.wei', 'sven', 'priya92', 'tomasz.k', 'oconnor', 'admin', 'nadia-h', 'yuki', 'rahul.s', 'emma']
const DOMAINS = ['example.com', 'mail.example.org', 'acme.io', 'gmail.com', 'corp.example.net']
const HOST_PREFIX = ['db', 'cache', 'api', 'worker', 'redis', 'pg-replica', 'search', 'queue']
const JOBS = ['nightly-report', 'invoice-sync', 'cleanup', 'reindex-search', 'send-digest', 'thumbnailer', 'export']
const DIRS = ['/var/data/uploads/2026/12', '/etc/app', '/srv/app/releases/current/config', '/tmp/imports', '/home/deploy/shared/files', '/mnt/media/originals']
const EXTS = ['png', 'jpg', 'pdf', 'csv', 'yaml', 'json', 'tar.gz']
const ERRMSGS = ["Cannot read properties of undefined (reading 'id')", 'ECONNRESET', 'connect ECONNREFUSED 10.0.4.12:5432', 'deadlock detected', 'invalid input syntax for type uuid', 'Request failed with status code 502', 'out of memory', 'socket hang up', 'permission denied for table payments', 'JSON.parse: unexpected end of data']
const HANDLERS = ['getConversation', 'postMessage', 'updateProfile', 'listMessages', 'deleteSession', 'GET /api/users/:id', 'POST /api/payments']
const WORKERS = ['worker-', 'celery@', 'w-', 'sidekiq-']

function makeVars (rnd) {
  const name = () => rnd.pick(NAMES)
  const host = () => rnd.chance(0.2) ? `ip-10-0-${rnd.int(0, 9)}-${rnd.int(1, 254)}.ec2.internal` : `${rnd.pick(HOST_PREFIX)}-${rnd.int(1, 12)}.internal`
  const pad = (n, w = 2) => String(n).padStart(w, '0')
  const date = () => `2026-${pad(rnd.int(1, 12))}-${pad(rnd.int(1, 28))}`
  const gen = {
    name,
    ip: () => `${rnd.pick([10, 172, 192, 81, 203, 45])}.${rnd.int(0, 255)}.${rnd.int(0, 255)}.${rnd.int(1, 254)}`,
    uuid: rnd.uuid,
    ms: () => String(rnd.int(1, 30000)),
    s: () => (rnd.float() * 600).toFixed(rnd.pick([1, 2, 3])),
    id: () => String(rnd.int(1, 9999999)),
    n: () => String(rnd.int(1, 500)),
    email: () => `${name()}${rnd.chance(0.3) ? rnd.int(1, 99) : ''}@${rnd.pick(DOMAINS)}`,
    host,
    port: () => String(rnd.chance(0.6) ? rnd.pick([5432, 6379, 8080, 443, 9092, 27017]) : rnd.int(1024, 65535)),
    job: () => rnd.pick(JOBS),
    path: () => `${rnd.pick(DIRS)}/${rnd.hex(rnd.int(6, 12))}.${rnd.pick(EXTS)}`,
    bytes: () => String(rnd.int(100, 50000000)),
    queue: () => rnd.pick(['emails', 'billing-events', 'webhooks', 'default', 'low-priority']),
    table: () => rnd.pick(['users', 'messages', 'conversations', 'payments', 'audit_log']),
    mount: () => rnd.pick(['/', '/var', '/data', '/var/lib/postgresql']),
    pct: () => String(rnd.int(70, 99)),
    iso: () => `${date()}T${pad(rnd.int(0, 23))}:${pad(rnd.int(0, 59))}:${pad(rnd.int(0, 59))}Z`,
    flag: () => rnd.pick(['new-editor', 'dark-mode', 'beta_search', 'checkout_v2']),
    bool: () => rnd.pick(['true', 'false']),
    handler: () => rnd.pick(HANDLERS),
    errmsg: () => rnd.pick(ERRMSGS),
    worker: () => `${rnd.pick(WORKERS)}${rnd.chance(0.5) ? rnd.int(1, 16) : host()}`,
    amount: () => (rnd.float() * 900 + 1).toFixed(2),
    db: () => rnd.pick(['app_production', 'analytics', 'billing', 'auth']),
    domain: () => rnd.pick(['api.example.com', 'www.acme.io', 'status.example.org', 'mail.corp.example.net']),
    url: () => `https://${rnd.pick(['hooks.example.com', 'partner.acme.io', 'ci.example.org'])}/${rnd.pick(['webhook', 'events', 'hooks/in'])}/${rnd.hex(8)}`,
    status: () => String(rnd.pick([200, 201, 400, 404, 500, 502, 503])),
    resource: () => `${rnd.pick(['invoice', 'report', 'tenant', 'export'])}:${rnd.int(1, 99999)}`,
    role: () => rnd.pick(['admin', 'editor', 'viewer', 'owner', 'billing-manager']),
    team: () => rnd.pick(['growth', 'core-platform', 'billing', 'mobile', 'data eng']),
    hex: () => rnd.hex(32),
    date,
    group: () => rnd.pick(['orders-consumer', 'analytics-ingest', 'mailer']),
    w: () => String(rnd.pick([64, 128, 256, 512, 1024])),
    h: () => String(rnd.pick([64, 128, 256, 512, 768])),
    // request URL parts
    limit: () => String(rnd.pick([10, 20, 50, 100])),
    asset: () => `${rnd.pick(['app', 'vendor', 'main', 'styles'])}.${rnd.hex(8)}.${rnd.pick(['js', 'css', 'map'])}`,
    category: () => rnd.pick(['books', 'garden', 'toys', 'kitchen', 'outdoor']),
    page: () => String(rnd.int(1, 40)),
    filename: () => `${rnd.pick(['report', 'scan', 'avatar', 'contract'])}-${rnd.int(1, 9999)}.${rnd.pick(EXTS)}`
  }
  // A placeholder repeated in one template ("{path} ... {path}") gets the same value.
  return function fill (text) {
    const seen = new Map()
    return text.replace(/\{([a-z]+)(\d*)\}/g, (whole, kind) => {
      const g = gen[kind]
      if (!g) throw new Error(`no generator for {${kind}} in ${text}`)
      if (!seen.has(whole)) seen.set(whole, g())
      return seen.get(whole)
    })
  }
}

// ---------------------------------------------------------------- outputs and labels

class Output {
  constructor (dir, name, producer, format, description) {
    this.name = name
    this.file = path.join(dir, `${name}.log`)
    this.labels = []
    this.meta = { file: `${name}.log`, labels: `${name}.labels`, producer, format, source: 'real', description }
    fs.writeFileSync(this.file, '')
  }
}

function versionOf (pkg) {
  return JSON.parse(fs.readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')).version
}

function statusClass (status) {
  return `${Math.floor(status / 100)}xx`
}

const LEVELS = { debug: 'debug', info: 'info', warn: 'warn', error: 'error' }

// ---------------------------------------------------------------- main

async function main () {
  const args = parseArgs(process.argv.slice(2))
  fs.mkdirSync(args.out, { recursive: true })
  const spec = JSON.parse(fs.readFileSync(path.join(__dirname, 'templates.json'), 'utf8'))[args.part]
  const rnd = makeRandom(args.seed)
  const fill = makeVars(rnd)
  const v = (pkg) => `${pkg} ${versionOf(pkg)}`

  const out = {
    pino: new Output(args.out, 'pino', `${v('pino')} + ${v('pino-http')} on ${v('express')}`, 'pino-json', 'pino NDJSON: app events from child loggers (err objects on errors) interleaved with pino-http request lines'),
    winston: new Output(args.out, 'winston', v('winston'), 'winston-json', 'winston format.combine(timestamp(), json())'),
    winstonSimple: new Output(args.out, 'winston-simple', v('winston'), 'winston-simple', 'winston format.simple(): "level: message {json meta}"'),
    winstonPrintf: new Output(args.out, 'winston-printf', v('winston'), 'winston-printf', 'winston printf("${timestamp} ${level}: ${message}") with timestamp({format: "YYYY-MM-DD HH:mm:ss"})'),
    bunyan: new Output(args.out, 'bunyan', v('bunyan'), 'bunyan-json', 'bunyan JSON: app events from child loggers, req/res serializers on request lines'),
    morganCombined: new Output(args.out, 'morgan-combined', `${v('morgan')} on ${v('express')}`, 'morgan-combined', 'morgan "combined" (Apache combined log format)'),
    morganCommon: new Output(args.out, 'morgan-common', `${v('morgan')} on ${v('express')}`, 'morgan-common', 'morgan "common" (Apache common log format)'),
    morganDev: new Output(args.out, 'morgan-dev', `${v('morgan')} on ${v('express')}`, 'morgan-dev', 'morgan "dev" with NO_COLOR=1'),
    morganDevAnsi: new Output(args.out, 'morgan-dev-ansi', `${v('morgan')} on ${v('express')}`, 'morgan-dev-ansi', 'morgan "dev" as written to a file by default: ANSI colour escapes included (morgan colours whether or not the output is a TTY)'),
    morganShort: new Output(args.out, 'morgan-short', `${v('morgan')} on ${v('express')}`, 'morgan-short', 'morgan "short"'),
    morganTiny: new Output(args.out, 'morgan-tiny', `${v('morgan')} on ${v('express')}`, 'morgan-tiny', 'morgan "tiny"')
  }

  // ---- pino (sync destination, so a line is on disk when the call returns)
  const pinoDest = pino.destination({ dest: out.pino.file, sync: true })
  const requests = new Map() // pino-http req.id -> { label route, res }
  let pinoAppLabel = null
  const realWrite = pinoDest.write.bind(pinoDest)
  // Observe (not change) what pino writes, to label each line as it is written: an app
  // line carries the label set just before the call; a pino-http line is found by req.id.
  pinoDest.write = (chunk) => {
    let label = pinoAppLabel
    if (label === null) {
      const id = JSON.parse(chunk).req?.id
      const r = requests.get(id)
      if (!r) throw new Error(`pino line of no known request: ${chunk}`)
      label = `${r.method} ${r.route} ${statusClass(r.res.statusCode)}`
    }
    out.pino.labels.push(label)
    return realWrite(chunk)
  }
  const pinoLogger = pino({ level: 'debug' }, pinoDest)

  // ---- winston
  const winstonJson = winston.createLogger({
    level: 'debug',
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.File({ filename: out.winston.file })]
  })
  const winstonSimple = winston.createLogger({
    level: 'debug',
    format: winston.format.simple(),
    transports: [new winston.transports.File({ filename: out.winstonSimple.file })]
  })
  const winstonPrintf = winston.createLogger({
    level: 'debug',
    format: winston.format.combine(
      winston.format.timestamp({ format: 'YYYY-MM-DD HH:mm:ss' }),
      winston.format.printf(({ timestamp, level, message }) => `${timestamp} ${level}: ${message}`)
    ),
    transports: [new winston.transports.File({ filename: out.winstonPrintf.file })]
  })

  // ---- bunyan
  const bunyanLogger = bunyan.createLogger({
    name: args.part === 'tune' ? 'conversations-api' : 'shop-api',
    level: 'debug',
    serializers: bunyan.stdSerializers,
    streams: [{ path: out.bunyan.file }]
  })

  // ---- app events to every app-level logger
  const childCache = new Map()
  function child (kind, logger, module) {
    const key = `${kind}:${module}`
    if (!childCache.has(key)) childCache.set(key, logger.child({ module }))
    return childCache.get(key)
  }
  const events = spec.events
  function emitEvent (target) {
    const tpl = rnd.weighted(events, (e) => e.weight)
    const msg = fill(tpl.text)
    if (msg.includes('\n')) throw new Error('multi-line message')
    const level = LEVELS[tpl.level]
    const extra = {}
    if (rnd.chance(0.4)) extra.requestId = rnd.uuid()
    if (rnd.chance(0.2)) extra.userId = Number(fill('{id}'))
    if (target === 'pino') {
      const log = child('pino', pinoLogger, tpl.logger)
      pinoAppLabel = tpl.id
      try {
        if (level === 'error') {
          const err = new Error(fill('{errmsg}'))
          err.code = rnd.pick(['ETIMEDOUT', 'ECONNRESET', 'E_INTERNAL', undefined])
          if (rnd.chance(0.5)) log.error(err, msg) // logger.error(err, "msg")
          else log.error({ err, ...extra }, msg) // the same with extra keys
        } else if (rnd.chance(0.5)) {
          log[level](extra, msg)
        } else {
          log[level](msg)
        }
      } finally {
        pinoAppLabel = null
      }
    } else if (target === 'winston') {
      child('winston', winstonJson, tpl.logger)[level](msg, extra)
      out.winston.labels.push(tpl.id)
    } else if (target === 'winstonSimple') {
      const meta = rnd.chance(0.5) ? extra : {}
      child('winstonSimple', winstonSimple, tpl.logger)[level](msg, meta)
      out.winstonSimple.labels.push(tpl.id)
    } else if (target === 'winstonPrintf') {
      winstonPrintf[level](msg)
      out.winstonPrintf.labels.push(tpl.id)
    } else if (target === 'bunyan') {
      const log = child('bunyan', bunyanLogger, tpl.logger)
      if (level === 'error') log.error({ err: new Error(fill('{errmsg}')), ...extra }, msg)
      else log[level](extra, msg)
      out.bunyan.labels.push(tpl.id)
    }
  }
  // An error in pino's plain error(err, msg) form as well, once, so that shape is present.
  function emitPinoErrFirst () {
    const tpl = events.find((e) => e.level === 'error')
    pinoAppLabel = tpl.id
    try {
      child('pino', pinoLogger, tpl.logger).error(new Error(fill('{errmsg}')), fill(tpl.text))
    } finally {
      pinoAppLabel = null
    }
  }

  // ---- the express app
  const app = express()
  app.set('trust proxy', true) // req.ip (morgan's :remote-addr) from X-Forwarded-For
  let reqSeq = 0
  const routeOfUrl = new Map() // "METHOD url" -> route template, set by the client
  const routeOf = (req) => {
    const r = routeOfUrl.get(`${req.method} ${req.originalUrl}`)
    if (!r) throw new Error(`request not sent by this script: ${req.method} ${req.originalUrl}`)
    return r
  }
  app.use(pinoHttp({
    logger: pinoLogger,
    genReqId: (req, res) => {
      const id = ++reqSeq
      requests.set(id, { method: req.method, route: routeOf(req).route, res })
      return id
    },
    customLogLevel: (req, res, err) => (err || res.statusCode >= 500) ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'
  }))
  const morganOut = [
    [morgan, 'combined', out.morganCombined],
    [morgan, 'common', out.morganCommon],
    [morganNoColor, 'dev', out.morganDev],
    [morgan, 'dev', out.morganDevAnsi],
    [morgan, 'short', out.morganShort],
    [morgan, 'tiny', out.morganTiny]
  ]
  const streams = []
  for (const [m, fmt, o] of morganOut) {
    // what morgan itself does with a named format: its format string compiled by
    // morgan.compile, or the function it registered (dev)
    const compiled = typeof m[fmt] === 'function' ? m[fmt] : m.compile(m[fmt])
    const stream = fs.createWriteStream(o.file, { flags: 'a' })
    streams.push(stream)
    app.use(m((tokens, req, res) => {
      const line = compiled(tokens, req, res)
      o.labels.push(`${req.method} ${routeOf(req).route} ${statusClass(res.statusCode)}`)
      return line
    }, { stream }))
  }
  app.use((req, res, next) => { // bunyan: a request-scoped child logger, req/res logged when done
    const route = routeOf(req).route
    req.log = bunyanLogger.child({ req_id: rnd.uuid() }, true)
    res.on('finish', () => {
      req.log.info({ req, res }, 'handled request')
      out.bunyan.labels.push(`${req.method} ${route} ${statusClass(res.statusCode)}`)
    })
    next()
  })
  app.use(express.json())

  for (const r of spec.routes.filter((x) => x.handled)) {
    app[r.method.toLowerCase()](r.route, (req, res) => {
      const status = rnd.weighted(r.statuses, (s) => s[1])[0]
      if (status === 500) throw new Error(fill('{errmsg}'))
      if (status === 301 || status === 302) return res.redirect(status, status === 302 ? '/auth/login' : '/dashboard')
      if (status === 204) return res.status(204).end()
      const body = status < 400
        ? { ok: true, items: Array.from({ length: rnd.int(0, 12) }, () => ({ id: rnd.int(1, 99999), text: fill('{name}') })) }
        : { error: http.STATUS_CODES[status] }
      res.status(status).json(body)
    })
  }
  app.use((err, req, res, next) => { // eslint-disable-line no-unused-vars
    res.err = err // so pino-http logs it
    res.status(500).json({ error: 'Internal Server Error' })
  })

  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  const port = server.address().port
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })

  const UAS = ['curl/8.5.0', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15', 'python-requests/2.32.3', 'okhttp/4.12.0', 'kube-probe/1.30']
  function send (r) {
    const url = fill(r.url)
    const key = `${r.method} ${url}`
    const known = routeOfUrl.get(key)
    if (known && known.route !== r.route) throw new Error(`${key} made by two route templates`)
    routeOfUrl.set(key, r)
    const headers = {
      'user-agent': rnd.pick(UAS),
      'x-forwarded-for': fill('{ip}')
    }
    if (rnd.chance(0.3)) headers.referer = `https://app.example.com/${rnd.pick(['inbox', 'settings', 'c/' + rnd.int(1, 9999)])}`
    if (rnd.chance(0.1)) headers.authorization = 'Basic ' + Buffer.from(`${fill('{name}')}:secret`).toString('base64')
    let body = null
    if (['POST', 'PUT', 'PATCH'].includes(r.method)) {
      body = JSON.stringify({ text: fill('{name}'), n: rnd.int(1, 100) })
      headers['content-type'] = 'application/json'
      headers['content-length'] = Buffer.byteLength(body)
    }
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: url, method: r.method, headers, agent }, (res) => {
        res.resume()
        res.on('end', resolve)
      })
      req.on('error', reject)
      if (body) req.write(body)
      req.end()
    })
  }

  const appTargets = ['pino', 'winston', 'winstonSimple', 'winstonPrintf', 'bunyan']
  emitPinoErrFirst()
  for (let i = 0; i < args.requests; i++) {
    for (const t of appTargets) {
      for (let k = rnd.poisson(args.eventsPerRequest); k > 0; k--) emitEvent(t)
    }
    await send(rnd.weighted(spec.routes, (x) => x.weight))
  }
  for (const t of appTargets) emitEvent(t)

  // ---- shut down and flush everything
  agent.destroy()
  await new Promise((resolve) => server.close(resolve))
  await new Promise((resolve) => setTimeout(resolve, 50)) // late 'finish' handlers
  pinoDest.flushSync()
  await Promise.all(streams.map((s) => new Promise((resolve) => s.end(resolve))))
  await new Promise((resolve) => bunyanLogger.streams[0].stream.end(resolve))
  for (const w of [winstonJson, winstonSimple, winstonPrintf]) w.end()

  // winston's File transport may report 'finish' before its bytes are on disk: wait until
  // every file holds as many lines as it has labels (bounded).
  const deadline = Date.now() + 20000
  const countLines = (f) => { const s = fs.readFileSync(f, 'utf8'); return s === '' ? 0 : s.split('\n').length - (s.endsWith('\n') ? 1 : 0) }
  const manifest = []
  for (const o of Object.values(out)) {
    while (countLines(o.file) < o.labels.length && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const n = countLines(o.file)
    if (n !== o.labels.length) throw new Error(`${o.name}.log has ${n} lines but ${o.labels.length} labels`)
    fs.writeFileSync(path.join(args.out, `${o.name}.labels`), o.labels.map((l) => l + '\n').join(''))
    manifest.push({ ...o.meta, lines: n })
  }
  fs.writeFileSync(path.join(args.out, 'node-manifest.json'), JSON.stringify(manifest, null, 2) + '\n')
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err)
  process.exit(1)
})
