'use strict'
// The platform's in-process cache: LRU with a TTL and node-cache-like statistics.
//
// A Map keeps insertion order, so re-inserting a key on every hit makes its first key the
// least recently used one. clear() also resets the statistics, as node-cache's flushAll
// does, so a hit ratio read after a clear describes only what happened since.

class LruCache {
  constructor ({ maxKeys = 500, ttlSeconds = 300 } = {}) {
    this.maxKeys = maxKeys
    this.ttlSeconds = ttlSeconds
    this.data = new Map() // key -> { expires (ms, monotonic), value (string) }
    this.bytes = 0
    this.resetStats()
  }

  resetStats () {
    this.hits = 0
    this.misses = 0
    this.evictions = 0
    this.expired = 0
  }

  // The cached value, or undefined; counts a hit or a miss.
  get (key) {
    const item = this.data.get(key)
    if (item !== undefined && item.expires > now()) {
      this.data.delete(key)
      this.data.set(key, item)
      this.hits++
      return item.value
    }
    if (item !== undefined) {
      this.drop(key)
      this.expired++
    }
    this.misses++
    return undefined
  }

  set (key, value) {
    if (this.data.has(key)) this.drop(key)
    this.data.set(key, { expires: now() + this.ttlSeconds * 1000, value })
    this.bytes += Buffer.byteLength(key) + Buffer.byteLength(value)
    while (this.data.size > this.maxKeys) {
      this.drop(this.data.keys().next().value)
      this.evictions++
    }
  }

  clear () {
    const n = this.data.size
    this.data.clear()
    this.bytes = 0
    this.resetStats()
    return n
  }

  // The JSON /api/health/cache serves; rota's cache.review reads it.
  stats () {
    const lookups = this.hits + this.misses
    return {
      hits: this.hits,
      misses: this.misses,
      lookups,
      hit_ratio: lookups ? Math.round((this.hits / lookups) * 10000) / 10000 : 0.0,
      keys: this.data.size,
      max_keys: this.maxKeys,
      evictions: this.evictions,
      expired: this.expired,
      ttl_s: this.ttlSeconds,
      memory_bytes: this.bytes
    }
  }

  drop (key) {
    const item = this.data.get(key)
    this.data.delete(key)
    this.bytes -= Buffer.byteLength(key) + Buffer.byteLength(item.value)
  }
}

function now () {
  return performance.now()
}

module.exports = { LruCache }
