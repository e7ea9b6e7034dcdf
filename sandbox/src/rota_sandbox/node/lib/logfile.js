'use strict'
// The live log file, rotated by date the way the sandbox's logrotate policy leaves it
// (dateext, dateyesterday, compress, delaycompress):
//
//   app.log            today, written to
//   app.log-20261203   yesterday, plain
//   app.log-20261202.gz ...
//
// Writes are synchronous, so a line is on disk before the response it describes leaves;
// a reader that got its answer finds the line. reopen() follows an external logrotate
// (`create` + postrotate SIGHUP).

const fs = require('node:fs')
const path = require('node:path')
const { Writable } = require('node:stream')
const zlib = require('node:zlib')

class DailyFile extends Writable {
  constructor (file) {
    super({ decodeStrings: false })
    this.file = file
    this.fd = null
    this.open()
  }

  open () {
    fs.mkdirSync(path.dirname(this.file), { recursive: true })
    this.fd = fs.openSync(this.file, 'a')
    const st = fs.fstatSync(this.fd)
    // The day the file holds: that of its last line (its mtime), today if it is new.
    this.day = utcDay(st.size ? st.mtime : new Date())
  }

  reopen () {
    fs.closeSync(this.fd)
    this.open()
  }

  _write (chunk, _encoding, callback) {
    try {
      this.writeNow(chunk)
      callback()
    } catch (err) {
      callback(err)
    }
  }

  // Synchronous write, for callers that bypass the stream machinery (pino does not).
  writeNow (chunk) {
    const today = utcDay(new Date())
    if (today !== this.day) this.rotate()
    fs.writeSync(this.fd, chunk)
  }

  _final (callback) {
    fs.closeSync(this.fd)
    callback()
  }

  rotate () {
    const stamp = this.day.replaceAll('-', '')
    const rotated = `${this.file}-${stamp}`
    fs.closeSync(this.fd)
    if (!fs.existsSync(rotated) && !fs.existsSync(`${rotated}.gz`)) {
      fs.renameSync(this.file, rotated)
      compressOlder(this.file, rotated)
    }
    this.open()
  }
}

// delaycompress: the file rotated just now stays plain; the plain ones before it get gzipped
// (keeping their mtime, as gzip does).
function compressOlder (file, keep) {
  const dir = path.dirname(file)
  const base = path.basename(file)
  for (const name of fs.readdirSync(dir)) {
    const full = path.join(dir, name)
    if (full === keep || !/^-\d{8}$/.test(name.slice(base.length)) || !name.startsWith(base)) {
      continue
    }
    const st = fs.statSync(full)
    fs.writeFileSync(`${full}.gz`, zlib.gzipSync(fs.readFileSync(full)))
    fs.utimesSync(`${full}.gz`, st.atime, st.mtime)
    fs.unlinkSync(full)
  }
}

function utcDay (date) {
  return date.toISOString().slice(0, 10)
}

module.exports = { DailyFile }
