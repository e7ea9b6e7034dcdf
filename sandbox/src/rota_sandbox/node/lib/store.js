'use strict'
// Where the API's records come from.
//
// PgStore reads the platform's tables (users, conversations, messages) through a pg Pool;
// the messages query is the platform's known slow one (no index on conversation_id in a
// neglected database), so a cache miss costs what it costs in production. SyntheticStore,
// for a service started without a database, makes a stable fake record per id.
// Both return a JSON string, or null when there is no such record.

const crypto = require('node:crypto')

const QUERIES = {
  conversations: {
    id: 'SELECT id, public_id, user_id, title, model, status, message_count, created_at, updated_at FROM conversations WHERE id = $1',
    uuid: 'SELECT id, public_id, user_id, title, model, status, message_count, created_at, updated_at FROM conversations WHERE public_id = $1'
  },
  users: {
    id: 'SELECT id, display_name, role, status, created_at FROM users WHERE id = $1'
  },
  // The platform's slow statement (rota_sandbox.traffic plants it too): without the
  // declared index on conversation_id it reads the whole table on every call.
  messages:
    'SELECT id, role, content, created_at FROM messages WHERE conversation_id = $1 ORDER BY created_at'
}

const NUMERIC = /^\d{1,18}$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

class PgStore {
  constructor (url, onError) {
    const { Pool } = require('pg')
    this.pool = new Pool({
      connectionString: url,
      application_name: 'rylie-api',
      max: 4,
      connectionTimeoutMillis: 2000,
      idleTimeoutMillis: 10000,
      statement_timeout: 10000
    })
    // An idle client whose server went away emits 'error' on the pool; unhandled, it
    // would kill the process.
    this.pool.on('error', (err) => onError(err))
  }

  async check () {
    const client = await this.pool.connect()
    try {
      await client.query('SELECT 1')
    } finally {
      client.release()
    }
  }

  async record (kind, ident) {
    if (kind === 'messages') {
      if (!NUMERIC.test(ident)) return null
      const { rows } = await this.pool.query(QUERIES.messages, [ident])
      return JSON.stringify({ conversation_id: ident, messages: rows }) + '\n'
    }
    const q = QUERIES[kind]
    let rows
    if (NUMERIC.test(ident)) ({ rows } = await this.pool.query(q.id, [ident]))
    else if (q.uuid && UUID.test(ident)) ({ rows } = await this.pool.query(q.uuid, [ident]))
    else return null
    return rows.length ? JSON.stringify(rows[0]) + '\n' : null
  }

  end () {
    return this.pool.end()
  }
}

const WORDS = (
  'model reply prompt token stream summary user assistant context window latency cache ' +
  'retry vector search embed chat thread draft answer question follow-up system'
).split(' ')

class SyntheticStore {
  async check () {}

  async record (kind, ident) {
    const r = seeded(`${kind}:${ident}`)
    const int = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1))
    const words = (lo, hi) =>
      Array.from({ length: int(lo, hi) }, () => WORDS[Math.floor(r() * WORDS.length)]).join(' ')
    const created = new Date(Date.UTC(2026, 0, 1) + Math.floor(r() * 300 * 86400) * 1000)
    const doc = { id: ident, created_at: created.toISOString().replace('.000Z', 'Z') }
    if (kind === 'conversations') {
      const title = words(2, 6)
      Object.assign(doc, {
        user_id: int(1, 5000),
        title: title[0].toUpperCase() + title.slice(1),
        message_count: int(1, 240),
        summary: words(40, 160)
      })
    } else if (kind === 'users') {
      Object.assign(doc, { email: `user${ident}@example.com`, plan: ['free', 'pro', 'team'][int(0, 2)] })
    } else {
      doc.messages = Array.from({ length: int(2, 20) }, (_, i) => ({
        id: uuid4(r),
        role: i % 2 ? 'assistant' : 'user',
        content: words(3, 30)
      }))
    }
    return JSON.stringify(doc) + '\n'
  }

  end () {}
}

// mulberry32, seeded from a string's SHA-256: the same id always gives the same record.
function seeded (text) {
  let a = crypto.createHash('sha256').update(text).digest().readUInt32LE(0)
  return function () {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function uuid4 (r) {
  const b = Buffer.alloc(16)
  for (let i = 0; i < 16; i++) b[i] = Math.floor(r() * 256)
  b[6] = (b[6] & 0x0f) | 0x40
  b[8] = (b[8] & 0x3f) | 0x80
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

module.exports = { PgStore, SyntheticStore }
