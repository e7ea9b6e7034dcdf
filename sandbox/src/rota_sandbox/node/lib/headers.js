'use strict'
// Security-header profiles, made by helmet the way a real Express app makes them:
//
//   good  helmet configured strictly: a CSP with default-src 'none' and
//         frame-ancestors 'none', a year of HSTS with includeSubDomains, X-Frame-Options
//         DENY, no referrer, same-origin COOP/CORP; plus Permissions-Policy and
//         Cache-Control: no-store, which helmet does not set.
//   weak  helmet's defaults, untouched: every header present, but a CSP that allows
//         'unsafe-inline' styles and https: fonts and only frame-ancestors 'self'.
//   poor  helmet mostly off, as in an app that installed it and disabled what got in the
//         way: no CSP, no HSTS, no nosniff; Express's X-Powered-By, a versioned Server, the
//         legacy X-XSS-Protection and a wildcard CORS header.
//
// HSTS is only ever sent over TLS (RFC 6797 section 7.2), so each profile is built twice.
// The session cookie's attributes follow the profile too.

const helmet = require('helmet')

const PROFILES = ['good', 'weak', 'poor']

const COOKIE = {
  good: { path: '/', secure: true, httpOnly: true, sameSite: 'strict' },
  weak: { path: '/', httpOnly: true },
  poor: { path: '/' }
}

function goodHelmet (tls) {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"]
      }
    },
    strictTransportSecurity: tls ? { maxAge: 31536000, includeSubDomains: true } : false,
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' }
  })
}

function weakHelmet (tls) {
  return tls ? helmet() : helmet({ strictTransportSecurity: false })
}

function poorHelmet () {
  return helmet({
    contentSecurityPolicy: false,
    crossOriginEmbedderPolicy: false,
    crossOriginOpenerPolicy: false,
    crossOriginResourcePolicy: false,
    originAgentCluster: false,
    referrerPolicy: false,
    strictTransportSecurity: false,
    xContentTypeOptions: false,
    xDownloadOptions: false,
    xFrameOptions: false,
    xPermittedCrossDomainPolicies: false,
    xPoweredBy: false,
    xXssProtection: false
    // left on: xDnsPrefetchControl, the one nobody turns off
  })
}

const EXTRA = {
  good: {
    'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
    'Cache-Control': 'no-store'
  },
  weak: {},
  poor: {
    'X-XSS-Protection': '1; mode=block',
    Server: 'nginx/1.18.0 (Ubuntu)',
    'Access-Control-Allow-Origin': '*'
  }
}

// Middleware sending the headers of the profile getProfile() names at request time (the
// drill hook can switch it while the service runs).
function securityHeaders (getProfile, { tls }) {
  const built = {
    good: goodHelmet(tls),
    weak: weakHelmet(tls),
    poor: poorHelmet()
  }
  return function (req, res, next) {
    const profile = getProfile()
    for (const [name, value] of Object.entries(EXTRA[profile])) res.setHeader(name, value)
    built[profile](req, res, next)
  }
}

module.exports = { PROFILES, COOKIE, securityHeaders }
