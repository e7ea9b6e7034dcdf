"""The platform service's security-header profiles: ``good``, ``weak`` and ``poor``.

Shared by the service (:mod:`rota_sandbox.platform`, which sends them) and its launcher
(:mod:`rota_sandbox.launcher`, which checks a profile name before spawning the process), so
that neither of those two imports the other. Data only; it imports nothing.
"""

from __future__ import annotations

__all__ = ["COOKIE_ATTRS", "HEADER_PROFILES"]

#: Security headers per profile. ``good`` follows the OWASP Secure Headers project and
#: Helmet's defaults; ``weak`` passes a presence check but not a graded one; ``poor`` is a
#: typical unhardened Express app behind nginx. ``Server`` is handled separately because
#: http.server always wants to send one. HSTS is only ever sent over TLS (RFC 6797 §7.2).
HEADER_PROFILES: dict[str, dict[str, str]] = {
    "good": {
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'"
        ),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "X-XSS-Protection": "0",
        "Cache-Control": "no-store",
    },
    "weak": {
        "Strict-Transport-Security": "max-age=86400",
        "Content-Security-Policy": "default-src 'self' 'unsafe-inline' 'unsafe-eval' https:",
        "X-Frame-Options": "SAMEORIGIN",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer-when-downgrade",
        "X-XSS-Protection": "1; mode=block",
        "Server": "nginx",
    },
    "poor": {
        "X-XSS-Protection": "1; mode=block",
        "X-Powered-By": "Express",
        "Server": "nginx/1.18.0 (Ubuntu)",
        "Access-Control-Allow-Origin": "*",
    },
}

#: The session cookie's attributes per profile, as each kind of app sets them.
COOKIE_ATTRS: dict[str, str] = {
    "good": "; Path=/; Secure; HttpOnly; SameSite=Strict",
    "weak": "; Path=/; HttpOnly",
    "poor": "; Path=/",
}
