"""Request paths as route templates: ``/api/conversations/42`` → ``/api/conversations/:id``.

A segment is an id when it is a number, a uuid, a hex string of 8+ digits with a digit in
it, a long token mixing letters and digits (slugs with numbers, opaque keys), or a file
name carrying a content hash (``app.0523cdf7.js``). Query
strings and fragments are dropped: they never name a route.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["template_path"]

_ID_SEGMENT = re.compile(
    r"\d+(?:\.\d+)?"
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?=[a-fA-F]*\d)[0-9a-fA-F]{8,}"
    r"|(?=[^/]*\d)(?=[^/]*[A-Za-z])[\w-]{16,}"
    r"|[^/@]+@[^/@]+"
    # a file name with a content hash (app.0523cdf7.js): one route for every build
    r"|[\w-]+\.(?=[a-fA-F]*\d)[0-9a-fA-F]{8,}(?:\.\w+)+"
)


@lru_cache(maxsize=65536)
def template_path(path: str) -> str:
    """The route a request path belongs to; ``""`` stays ``/``."""
    cut = len(path)
    for sep in "?#":
        i = path.find(sep)
        if i != -1 and i < cut:
            cut = i
    path = path[:cut] or "/"
    if not any(c.isdigit() or c == "@" for c in path):
        return path
    return "/".join(":id" if seg and _ID_SEGMENT.fullmatch(seg) else seg for seg in path.split("/"))
