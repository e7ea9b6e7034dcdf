#!/usr/bin/env node
'use strict'
// rota's sandbox platform: a small, real stand-in for the "Rylie AI" Node.js service.
//
//   node server.js --state-dir DIR --log-dir DIR --token-file FILE --cert PEM --key PEM
//                  [--http-port 0] [--https-port 0] [--headers good|weak|poor]
//                  [--logger pino|winston|morgan] [--error-rate 0.02] [--latency-ms 4]
//                  [--seed N] [--cache-max-keys 500] [--cache-ttl 300] [--http-redirect]
//
// The database URL comes from $ROTA_SANDBOX_DATABASE_URL (never argv: ps shows argv to
// every local user); without it the API serves synthetic records. It listens on 127.0.0.1
// over plain HTTP and over TLS, logs to <log-dir>/app.log, and once both ports listen writes
// <state-dir>/platform.json ({pid, ports, urls, ...}), which it removes on its way out.
//
// Signals: SIGTERM/SIGINT stop it at once (open keep-alive connections are closed); SIGHUP
// reopens the log file and reloads the certificate, as logrotate's postrotate and a
// renewal expect. rota_sandbox.launcher starts, finds and stops it.

const fs = require('node:fs')
const http = require('node:http')
const https = require('node:https')
const path = require('node:path')

const { createApp, VERSION } = require('./lib/app')
const { LruCache } = require('./lib/cache')
const { PROFILES } = require('./lib/headers')
const { LOGGERS, createLog } = require('./lib/logging')
const { PgStore, SyntheticStore } = require('./lib/store')

const HOST = '127.0.0.1'
const STATE_FILE = 'platform.json'
const CMDLINE_PATTERN = 'node.*server'
const DATABASE_URL_ENV = 'ROTA_SANDBOX_DATABASE_URL'

const OPTIONS = {
  '--state-dir': ['stateDir', String],
  '--log-dir': ['logDir', String],
  '--token-file': ['tokenFile', String],
  '--cert': ['cert', String],
  '--key': ['key', String],
  '--http-port': ['httpPort', Number],
  '--https-port': ['httpsPort', Number],
  '--headers': ['headers', String],
  '--logger': ['logger', String],
  '--error-rate': ['errorRate', Number],
  '--latency-ms': ['latencyMs', Number],
  '--seed': ['seed', Number],
  '--cache-max-keys': ['cacheMaxKeys', Number],
  '--cache-ttl': ['cacheTtl', Number]
}

function parseArgs (argv) {
  const args = {
    httpPort: 0,
    httpsPort: 0,
    headers: 'good',
    logger: 'pino',
    errorRate: 0.02,
    latencyMs: 4,
    seed: null,
    cacheMaxKeys: 500,
    cacheTtl: 300,
    httpRedirect: false
  }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--http-redirect') {
      args.httpRedirect = true
      continue
    }
    const option = OPTIONS[argv[i]]
    if (!option || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`)
    const [name, type] = option
    args[name] = type(argv[++i])
    if (type === Number && !Number.isFinite(args[name])) throw new Error(`${argv[i - 1]} needs a number`)
  }
  for (const required of ['stateDir', 'logDir', 'tokenFile', 'cert', 'key']) {
    if (!args[required]) throw new Error(`--${required.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} is required`)
  }
  if (!PROFILES.includes(args.headers)) throw new Error(`--headers: one of ${PROFILES.join(', ')}`)
  if (!LOGGERS.includes(args.logger)) throw new Error(`--logger: one of ${LOGGERS.join(', ')}`)
  return args
}

// mulberry32: a seeded random stream, so a seeded service injects the same faults.
function randomStream (seed) {
  if (seed === null) return Math.random
  let a = seed >>> 0
  return function () {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function listen (server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, HOST, () => {
      server.off('error', reject)
      resolve(server.address().port)
    })
  })
}

function writeJsonAtomic (file, obj) {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`)
  fs.writeFileSync(tmp, JSON.stringify(obj, null, 2) + '\n')
  fs.renameSync(tmp, file)
}

async function main () {
  const args = parseArgs(process.argv.slice(2))
  const stateDir = path.resolve(args.stateDir)
  fs.mkdirSync(stateDir, { recursive: true })
  const tlsOptions = () => ({
    cert: fs.readFileSync(args.cert),
    key: fs.readFileSync(args.key),
    minVersion: 'TLSv1.2'
  })

  const logFile = path.join(path.resolve(args.logDir), 'app.log')
  const log = createLog(args.logger, logFile)
  const databaseUrl = process.env[DATABASE_URL_ENV] || ''
  delete process.env[DATABASE_URL_ENV]
  const store = databaseUrl
    ? new PgStore(databaseUrl, (err) => log.app('warn', 'db', `idle client error: ${err.message}`))
    : new SyntheticStore()
  const shared = {
    settings: {
      headers: args.headers,
      error_rate: args.errorRate,
      latency_ms: args.latencyMs,
      health: 'ok',
      health_delay_ms: 0,
      leak_kb: 0
    },
    cache: new LruCache({ maxKeys: args.cacheMaxKeys, ttlSeconds: args.cacheTtl }),
    store,
    database: Boolean(databaseUrl),
    log,
    tokenFile: path.resolve(args.tokenFile),
    random: randomStream(args.seed),
    leaked: [],
    started: performance.now()
  }

  const secure = https.createServer(tlsOptions(), createApp(shared, { tls: true }))
  const httpsPort = await listen(secure, args.httpsPort)
  const httpsUrl = `https://${HOST}:${httpsPort}`
  const plain = http.createServer(
    createApp(shared, { tls: false, redirectTo: args.httpRedirect ? httpsUrl : null })
  )
  const httpPort = await listen(plain, args.httpPort)

  const statePath = path.join(stateDir, STATE_FILE)
  writeJsonAtomic(statePath, {
    pid: process.pid,
    http_port: httpPort,
    https_port: httpsPort,
    http_url: `http://${HOST}:${httpPort}`,
    https_url: httpsUrl,
    cmdline_pattern: CMDLINE_PATTERN,
    headers: args.headers,
    logger: args.logger,
    log_file: logFile,
    database: Boolean(databaseUrl),
    node: process.version,
    started_at: new Date().toISOString(),
    version: VERSION
  })
  log.app('info', 'server', `listening on ${HOST}:${httpPort} (http) and ${HOST}:${httpsPort} (https)`, {
    version: VERSION
  })

  let stopping = false
  function stop () {
    if (stopping) return
    stopping = true
    for (const server of [plain, secure]) {
      server.close()
      server.closeAllConnections()
    }
    try {
      if (JSON.parse(fs.readFileSync(statePath, 'utf8')).pid === process.pid) fs.unlinkSync(statePath)
    } catch {}
    // The pool gets a moment to say goodbye to PostgreSQL; a stop never waits on it.
    Promise.race([Promise.resolve(store.end()), new Promise((resolve) => setTimeout(resolve, 300))])
      .finally(() => process.exit(0))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.on('SIGHUP', () => {
    log.reopen()
    try {
      secure.setSecureContext(tlsOptions())
    } catch (err) {
      log.app('warn', 'server', `certificate reload failed, keeping the old one: ${err.message}`)
    }
  })
}

main().catch((err) => {
  process.stderr.write(`platform failed to start: ${err.message || err}\n`)
  process.exit(1)
})
