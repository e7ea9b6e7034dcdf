'use strict'
// Request and application logs, in one of three shapes a Node service really writes:
//
//   pino     (default) JSON lines: {"level":"info","time":"<ISO>","method":...,"msg":"API request"}
//            configured the way the platform's historic logs look (level labels, ISO time,
//            no pid/hostname) so the runbook's `grep -oP 'duration":"[^"]*'` still works;
//   winston  JSON lines from winston's json format: {"level":...,"message":...,"timestamp":...};
//   morgan   Apache "combined" access lines for requests; the application's own messages as
//            plain "<ISO> LEVEL [component] message" lines, as console logging leaves them.
//
// All three write to the same DailyFile (<log-dir>/app.log, rotated by date).

const { DailyFile } = require('./logfile')

const LOGGERS = ['pino', 'winston', 'morgan']

function levelFor (status) {
  return status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info'
}

function requestRecord (req, res, durationMs, err) {
  const record = {
    method: req.method,
    path: req.path,
    status: res.statusCode,
    duration: `${durationMs.toFixed(1)}ms`,
    request_id: res.getHeader('X-Request-Id')
  }
  if (res.statusCode >= 500) record.err = err || 'Internal Server Error'
  return record
}

function makePino (file) {
  const pino = require('pino')
  const logger = pino(
    {
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) }
    },
    file
  )
  return {
    request (req, res, durationMs, err) {
      const record = requestRecord(req, res, durationMs, err)
      logger[levelFor(record.status)](record, 'API request')
    },
    app (level, component, message, fields = {}) {
      logger[level]({ component, ...fields }, message)
    },
    middleware: null
  }
}

function makeWinston (file) {
  const winston = require('winston')
  const logger = winston.createLogger({
    level: 'info',
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream: file })]
  })
  return {
    request (req, res, durationMs, err) {
      const record = requestRecord(req, res, durationMs, err)
      logger.log(levelFor(record.status), 'API request', record)
    },
    app (level, component, message, fields = {}) {
      logger.log(level, message, { component, ...fields })
    },
    middleware: null
  }
}

function makeMorgan (file) {
  const morgan = require('morgan')
  function app (level, component, message) {
    file.write(`${new Date().toISOString()} ${level.toUpperCase()} [${component}] ${message}\n`)
  }
  return {
    request (req, res, _durationMs, err) {
      // The access line is morgan's; a 5xx's cause goes to the application log, as
      // an error handler that console.error()s it leaves it.
      if (res.statusCode >= 500) {
        app('error', 'api', `${req.method} ${req.path} failed: ${err || 'Internal Server Error'}`)
      }
    },
    app,
    middleware: morgan('combined', {
      stream: file,
      skip: (req) => req.originalUrl.startsWith('/__sandbox/')
    })
  }
}

function createLog (kind, filePath) {
  if (!LOGGERS.includes(kind)) throw new Error(`unknown logger ${kind}: use ${LOGGERS.join(', ')}`)
  const file = new DailyFile(filePath)
  const made = { pino: makePino, winston: makeWinston, morgan: makeMorgan }[kind](file)
  return { kind, file, ...made, reopen: () => file.reopen() }
}

module.exports = { LOGGERS, createLog }
