"""The platform service's security-header profiles: ``good``, ``weak`` and ``poor``.

The headers themselves are made by helmet inside the Node app (``node/lib/headers.js``);
this module names the profiles so the launcher can check one before spawning the process.
Data only; it imports nothing.
"""

from __future__ import annotations

__all__ = ["HEADER_PROFILES"]

#: Profile name -> what the service sends with it. HSTS only ever goes out over TLS
#: (RFC 6797 §7.2).
HEADER_PROFILES: dict[str, str] = {
    "good": (
        "helmet configured strictly: CSP default-src 'none' and frame-ancestors 'none', a year "
        "of HSTS with includeSubDomains, X-Frame-Options DENY, Referrer-Policy no-referrer, "
        "same-origin COOP/CORP, plus Permissions-Policy and Cache-Control: no-store; "
        "session cookie Secure, HttpOnly, SameSite=Strict"
    ),
    "weak": (
        "helmet's defaults: every header present, but a CSP allowing 'unsafe-inline' styles "
        "and frame-ancestors 'self', X-Frame-Options SAMEORIGIN; session cookie HttpOnly only"
    ),
    "poor": (
        "helmet mostly off: no CSP, HSTS or nosniff; X-Powered-By: Express, a versioned "
        "Server header, X-XSS-Protection: 1; mode=block, Access-Control-Allow-Origin: *; "
        "session cookie without attributes"
    ),
}
