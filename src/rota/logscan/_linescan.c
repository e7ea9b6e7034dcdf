/* The fast path's line classifier, compiled: whole chunks of lines counted without Python
 * objects per line.
 *
 * scan(data) walks the complete lines of ``data`` (it ends with a newline, holds no CR or
 * NUL and is valid UTF-8: the caller checks) and sorts each line into one of these kinds:
 *
 *   - a JSON line json_line() (_jsonline.c) reads with certainty: any logger's key names and
 *     order, parse_json's rules -> counted per (hour key, level) and, for a request, per
 *     (method, route key) with its duration. An error line (an error level or a 5xx) is
 *     counted so too, its error and 5xx included, and returned with its index as an error
 *     tuple (below, built by json_error_row() in _errline.c) for its group;
 *   - a plain "TIMESTAMP LEVEL [" line (an ISO timestamp in any of the forms parse_text
 *     reads, an upper-case non-error level) -> counted per (hour key, level);
 *   - a plain error line "TIMESTAMP ERROR [component] message" whose every part reads the
 *     same as formats.parse_text reads it (ASCII component, message starting and ending
 *     on a printable ASCII character, a timestamp as above) -> counted
 *     per (hour key, level) and returned with its index as an error tuple (level, start
 *     offset, end offset, component, message, epoch, None); its group is the caller's
 *     business (fingerprints stay in Python). The epoch is a float for a "...Z" time (see
 *     utc_epoch), else the time string, for TimeReader.epoch. A JSON error's tuple holds,
 *     last, the (method, path, status) of a 5xx whose message the caller must extend as
 *     LineParser.line does;
 *   - anything else -> returned whole (bytes) with its index, for the exact per-line parser.
 *
 * Hours. TimeReader.hour memoizes on the time string's first 13 characters plus its zone
 * suffix, so every line sharing that key gets the hour of the first such line the reader
 * saw, whatever its minutes say. The fast path keeps that: lines are counted per *hour key*
 * (or per whole epoch hour, for numeric times, which are not memoized), and the first line of
 * each key in the chunk is returned with its index and time string, so the caller can hand
 * it to TimeReader.hour in line order, between the per-line parser's lines.
 *
 * Routes. A request is counted under (method, route key): the path cut at '?'/'#', with the
 * segments route.template_path certainly turns into ":id" (numbers, uuids, long hex, long
 * letter+digit tokens, emails) written as "0". The caller applies template_path to the key,
 * which gives what it gives for the path: segments are templated one by one.
 *
 * Returns (lines, blank, tallies, routes, firsts, other_index, other_items):
 *   tallies: [(hour key bytes | epoch hour int | None, level str | None, is_text, lines,
 *             requests, errors, 5xx requests)]
 *   routes: {(method bytes, route key bytes): [requests, {ms: count}, {ms: count}, 5xx]} where
 *           the first dict holds durations already equal to round(ms, 6) and the second ones
 *           the caller must round (a unit conversion or an exponent)
 *   firsts: [(index, hour key bytes, time bytes)] for each hour key's first line
 *   other_index / other_items: line indexes in order, and for each the line's bytes or the
 *   error tuple above (one list, so the caller meets errors in line order)
 * The pure-Python path in fastpath.py gives the same results (it hands more lines to the
 * per-line parser); tests hold both to the per-line parser's results.
 */
#include "_linescan.h"

#include <string.h>

#define NLEVELS 11
static const char *LEVEL_NAMES[NLEVELS] = {"trace", "debug", "info", "notice", "warn",     "error",
                                           "fatal", "critical", "panic", "alert", "emerg"};
static size_t level_len[NLEVELS];
static PyObject *level_str[NLEVELS];
#define MAX_METHOD 256 /* longer "methods" go per line */


/* "YYYY-MM-DDTHH:[0-5]D:[0-5]D(.D{1,9})?Z" at p; returns the end or NULL. */
static const char *match_ts(const char *p, const char *e) {
    static const char shape[] = "DDDD-DD-DDTDD:5D:5D";
    if (e - p < 20) return NULL;
    for (int i = 0; i < 19; i++) {
        char s = shape[i], c = p[i];
        if (s == 'D') {
            if (!is_digit(c)) return NULL;
        } else if (s == '5') {
            if (c < '0' || c > '5') return NULL;
        } else if (c != s) {
            return NULL;
        }
    }
    p += 19;
    if (p < e && *p == '.') {
        const char *q = p + 1;
        while (q < e && is_digit(*q)) q++;
        if (q - (p + 1) < 1 || q - (p + 1) > 9) return NULL;
        p = q;
    }
    if (p < e && *p == 'Z') return p + 1;
    return NULL;
}


/* The upper-case non-error level words headers.py reads (its _LEVEL_WORDS), as the
 * LEVEL_NAMES index formats.py folds each to (FINE -> debug, CONFIG -> info ...). */
static int text_level(const char *p, size_t n) {
    switch (n) {
    case 4:
        if (!memcmp(p, "INFO", 4)) return 2;
        if (!memcmp(p, "WARN", 4)) return 4;
        if (!memcmp(p, "FINE", 4)) return 1;
        return -1;
    case 5:
        if (!memcmp(p, "TRACE", 5)) return 0;
        if (!memcmp(p, "DEBUG", 5)) return 1;
        if (!memcmp(p, "FINER", 5)) return 0;
        return -1;
    case 6:
        if (!memcmp(p, "NOTICE", 6)) return 3;
        if (!memcmp(p, "CONFIG", 6)) return 2;
        if (!memcmp(p, "FINEST", 6)) return 0;
        return -1;
    case 7:
        if (!memcmp(p, "WARNING", 7)) return 4;
        if (!memcmp(p, "VERBOSE", 7)) return 0;
        return -1;
    case 11:
        return memcmp(p, "INFORMATION", 11) ? -1 : 2;
    }
    return -1;
}

/* Every word of headers._LEVEL_WORDS: a syslog host starting with one of them (then a
 * non-word character) is no host to that rule. */
static const char *ALL_LEVEL_WORDS[] = {
    "TRACE", "DEBUG", "INFO", "INFORMATION", "NOTICE", "WARN", "WARNING", "ERROR", "ERR",
    "FATAL", "CRITICAL", "CRIT", "PANIC", "SEVERE", "ALERT", "EMERG", "EMERGENCY", "FINE",
    "FINER", "FINEST", "CONFIG", "VERBOSE", "FAILURE", NULL};

static inline int word_char(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* A line parse_text could read another way than by its leading time and level: control
 * bytes or colours (headers strips and splits on them), an access log's "[04/Dec/2026:" or a
 * morgan line's " ms" ending. Conservative: such a line simply goes to the per-line parser. */
static int plain_doubt(const char *p, const char *e) {
    for (const char *q = p; q < e; q++) {
        unsigned char c = (unsigned char)*q;
        if (c < 0x20 || c == 0x7f) return 1;
        if (c == '[' && e - q >= 4 && is_digit(q[1]) && is_digit(q[2]) && q[3] == '/') return 1;
    }
    if (e - p >= 3 && e[-3] == ' ' && e[-2] == 'm' && e[-1] == 's') return 1;
    for (const char *q = p; (q = memchr(q, ' ', (size_t)(e - q))) && e - q >= 6; q++)
        if (q[1] == 'm' && q[2] == 's' && q[3] == ' ' && q[4] == '-' && q[5] == ' ') return 1;
    return 0;
}

/* parse_text's ISO timestamp, as greedy as its regex:
 * \d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?  -> its end, or NULL.
 * Its value does not matter here: TimeReader.hour reads it (see the hour keys above). */
static const char *match_iso(const char *p, const char *e) {
    static const char shape[] = "DDDD-DD-DD?DD:DD:DD";
    if (e - p < 19) return NULL;
    for (int i = 0; i < 19; i++) {
        char s = shape[i], c = p[i];
        if (s == 'D' ? !is_digit(c) : s == '?' ? (c != 'T' && c != ' ') : c != s) return NULL;
    }
    p += 19;
    if (e - p >= 2 && (*p == '.' || *p == ',') && is_digit(p[1])) {
        p += 2;
        while (p < e && is_digit(*p)) p++;
    }
    if (p < e && *p == 'Z') {
        p++;
    } else if (e - p >= 3 && (*p == '+' || *p == '-') && is_digit(p[1]) && is_digit(p[2])) {
        const char *q = p + 3;
        if (q < e && *q == ':') q++;
        if (e - q >= 2 && is_digit(q[0]) && is_digit(q[1])) p = q + 2;
    }
    return p;
}

/* "TIMESTAMP LEVEL ..." with an upper-case non-error level right after the time (the rest
 * of the line does not matter for a non-error line: headers' "text" and "leveled" rules
 * both take that word as the level, and no rule before them can take such a line): the
 * level, and the timestamp's end in *ts_end; or -1. */
static int match_text(const char *p, const char *e, const char **ts_end) {
    const char *q, *start = p;
    if (!(p = match_iso(p, e))) return -1;
    *ts_end = p;
    if (p >= e || *p != ' ') return -1;
    while (p < e && *p == ' ') p++;
    q = p;
    while (q < e && *q >= 'A' && *q <= 'Z') q++;
    int level = text_level(p, (size_t)(q - p));
    if (level < 0 || q >= e || *q != ' ' || plain_doubt(start, e)) return -1;
    return level;
}

/* A syslog line as headers' "syslog" rule reads it, in the plain subset: "Mmm dd HH:MM:SS
 * host tag[pid]: ..." (an optional fraction; one or two spaces before the day; host and tag
 * ASCII without spaces, brackets or colons; the host no level word). Such a line has no
 * level: only its time counts, given in *ts as the rule normalises it (single spaces). */
static int match_syslog(const char *p, const char *e, char *ts, size_t *ts_len) {
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char *q = p, *day;
    int month = -1;
    if (e - p < 20) return 0;
    for (int i = 0; i < 12; i++)
        if (!memcmp(p, months + 3 * i, 3)) month = i;
    if (month < 0 || p[3] != ' ') return 0;
    q = p + 4;
    if (*q == ' ') q++;
    day = q;
    while (q < e && is_digit(*q) && q - day < 2) q++;
    if (q == day || e - q < 10 || *q != ' ') return 0;
    q++;
    if (!(is_digit(q[0]) && is_digit(q[1]) && q[2] == ':' && is_digit(q[3]) && is_digit(q[4]) &&
          q[5] == ':' && is_digit(q[6]) && is_digit(q[7])))
        return 0;
    q += 8;
    if (e - q >= 2 && (*q == '.' || *q == ',') && is_digit(q[1])) {
        q += 2;
        while (q < e && is_digit(*q)) q++;
    }
    size_t n = (size_t)(q - day);
    if (n + 4 > 64 || q >= e || *q != ' ') return 0;
    memcpy(ts, p, 4); /* "Mmm " then the day on: the rule joins the parts with single spaces */
    memcpy(ts + 4, day, n);
    *ts_len = n + 4;
    const char *host = ++q;
    while (q < e && *q > ' ' && *q < 0x7f && *q != '[' && *q != ']') q++;
    if (q == host || q >= e || *q != ' ') return 0;
    for (int i = 0; ALL_LEVEL_WORDS[i]; i++) {
        size_t w = strlen(ALL_LEVEL_WORDS[i]);
        if ((size_t)(q - host) >= w && !memcmp(host, ALL_LEVEL_WORDS[i], w) &&
            ((size_t)(q - host) == w || !word_char(host[w])))
            return 0;
    }
    const char *tag = ++q;
    while (q < e && *q > ' ' && *q < 0x7f && *q != '[' && *q != ']' && *q != ':') q++;
    if (q == tag || q - tag > 41 || q >= e) return 0;
    if (*q == '[') {
        const char *pid = ++q;
        while (q < e && is_digit(*q)) q++;
        if (q == pid || q >= e || *q != ']') return 0;
        q++;
    }
    if (q >= e || *q != ':' || (q + 1 < e && q[1] != ' ')) return 0;
    for (q = p; q < e; q++) /* colours or control bytes: headers reads the line otherwise */
        if ((unsigned char)*q < 0x20 || *q == 0x7f) return 0;
    return 1;
}

/* An error level token as parse_text folds it (upper case only here). */
static int error_level(const char *p, size_t n) {
    switch (n) {
    case 3:
        return memcmp(p, "ERR", 3) ? -1 : 5;
    case 4:
        return memcmp(p, "CRIT", 4) ? -1 : 7;
    case 5:
        if (!memcmp(p, "ERROR", 5)) return 5;
        if (!memcmp(p, "FATAL", 5)) return 6;
        if (!memcmp(p, "PANIC", 5)) return 8;
        if (!memcmp(p, "ALERT", 5)) return 9;
        if (!memcmp(p, "EMERG", 5)) return 10;
        return -1;
    case 6:
        return memcmp(p, "SEVERE", 6) ? -1 : 5;
    case 8:
        return memcmp(p, "CRITICAL", 8) ? -1 : 7;
    }
    return -1;
}

static inline int printable(unsigned char c) { return c > 0x20 && c < 0x7f; }

static int days_in_month(int y, int m) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return days[m - 1];
}

static long long days_from_civil(long long y, int m, int d) { /* H. Hinnant's algorithm */
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static inline int num(const char *p, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) v = v * 10 + (p[i] - '0');
    return v;
}

typedef struct {
    int level;
    const char *comp, *msg;
    size_t comp_len, msg_len, ts_len;
    int exact;    /* epoch holds TimeReader.epoch of the time, else the caller computes it */
    double epoch;
} ErrorLine;

int utc_epoch(const char *t, const char *e, double *out) {
    const char *q;
    if (!(q = match_ts(t, e)) || q - t > 27) return 0; /* more than 6 fraction digits */
    int y = num(t, 4), mo = num(t + 5, 2), d = num(t + 8, 2), h = num(t + 11, 2);
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23) return 0;
    long long secs = days_from_civil(y, mo, d) * 86400LL + h * 3600 + num(t + 14, 2) * 60 +
                     num(t + 17, 2);
    long long micros = 0;
    if (t[19] == '.') {
        int digits = (int)(q - 1 - (t + 20));
        micros = num(t + 20, digits);
        for (int i = digits; i < 6; i++) micros *= 10;
    }
    micros += secs * 1000000LL;
    /* Python divides the exact integer: the same double while it converts exactly */
    if (micros < 0 || micros > (1LL << 53)) return 0;
    *out = (double)micros / 1e6;
    return (int)(q - t);
}

/* "TS LEVEL [component] message" with an error level, read exactly as parse_text reads it
 * (TS in any form match_iso reads: headers' rules all read it as _ISO), or 0 (then the line
 * goes to the per-line parser). The epoch of a "...Z" time is TimeReader.epoch's. */
static int match_error(const char *p, const char *e, ErrorLine *out) {
    const char *t = p, *q;
    if (!(q = match_iso(p, e))) return 0;
    out->ts_len = (size_t)(q - t);
    out->exact = (size_t)utc_epoch(t, q, &out->epoch) == out->ts_len;
    p = q;
    if (p >= e || *p != ' ') return 0;
    p++;
    q = p;
    while (q < e && *q >= 'A' && *q <= 'Z') q++;
    if ((out->level = error_level(p, (size_t)(q - p))) < 0) return 0;
    if (e - q < 2 || q[0] != ' ' || q[1] != '[') return 0;
    p = q + 2;
    q = p;
    while (q < e && *q != ']') {
        if (!printable((unsigned char)*q) && *q != ' ') return 0;
        q++;
    }
    if (q >= e || q == p || q - p > 80) return 0;
    out->comp = p;
    out->comp_len = (size_t)(q - p);
    p = q + 1;
    if (e - p < 2 || p[0] != ' ' || !printable((unsigned char)p[1])) return 0;
    if (!printable((unsigned char)e[-1]) || plain_doubt(t, e)) return 0;
    out->msg = p + 1;
    out->msg_len = (size_t)(e - (p + 1));
    return 1;
}

/* ---------------------------------------------------------------- counting tables */

typedef struct {
    uint64_t hash;
    size_t off; /* the key's bytes in the arena */
    size_t len;
    Py_ssize_t a, b, c, d, id;
    int used;
} Slot;

typedef struct {
    Slot *slots;
    size_t cap, n;
    char *arena;
    size_t arena_len, arena_cap;
    Slot *recent[16]; /* slots found lately, by a cheap hash: lines in a row share keys */
} Table;

static inline size_t recent_index(const char *key, size_t len) {
    return len ? ((unsigned char)key[0] * 5u + len + (unsigned char)key[len - 1]) & 15u : 0;
}

/* The slot of ``key`` (created with zero counts if new: *created = 1), or NULL (no memory).
 * A pointer stays valid until the next call. */
static Slot *table_get(Table *t, const char *key, size_t len, int *created) {
    *created = 0;
    Slot **recent = &t->recent[recent_index(key, len)];
    if (*recent && (*recent)->len == len && same(t->arena + (*recent)->off, key, len))
        return *recent;
    uint64_t h = hash_bytes(key, len);
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        Slot *slots = PyMem_Calloc(cap, sizeof(Slot));
        if (!slots) return NULL;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->slots[i].used) continue;
            size_t j = t->slots[i].hash & (cap - 1);
            while (slots[j].used) j = (j + 1) & (cap - 1);
            slots[j] = t->slots[i];
        }
        PyMem_Free(t->slots);
        t->slots = slots;
        t->cap = cap;
        memset(t->recent, 0, sizeof t->recent);
    }
    size_t j = h & (t->cap - 1);
    while (t->slots[j].used) {
        Slot *s = &t->slots[j];
        if (s->hash == h && s->len == len && same(t->arena + s->off, key, len))
            return *recent = s;
        j = (j + 1) & (t->cap - 1);
    }
    if (t->arena_len + len > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap * 2 : 4096;
        while (cap < t->arena_len + len) cap *= 2;
        char *arena = PyMem_Realloc(t->arena, cap);
        if (!arena) return NULL;
        t->arena = arena;
        t->arena_cap = cap;
    }
    Slot *s = &t->slots[j];
    if (len) memcpy(t->arena + t->arena_len, key, len); /* an empty key: no arena yet */
    s->off = t->arena_len;
    s->len = len;
    s->hash = h;
    s->used = 1;
    s->a = s->b = s->c = s->d = 0;
    s->id = (Py_ssize_t)t->n++;
    t->arena_len += len;
    *created = 1;
    return *recent = s;
}

static void table_free(Table *t) {
    PyMem_Free(t->slots);
    PyMem_Free(t->arena);
}

/* ---------------------------------------------------------------- route keys */

static inline int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static inline int is_hexc(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A path segment route._ID_SEGMENT certainly matches whole (ASCII cases only). */
static int id_segment(const char *s, size_t n) {
    size_t i, digits = 0, alphas = 0, hex = 0, at = 0, word = 0;
    if (!n) return 0;
    for (i = 0; i < n; i++) {
        char c = s[i];
        digits += is_digit(c);
        alphas += is_alpha(c);
        hex += is_hexc(c);
        at += c == '@';
        word += is_digit(c) || is_alpha(c) || c == '_' || c == '-';
    }
    if (digits == n) return 1; /* \d+ */
    if (hex == n && n >= 8 && digits) return 1; /* (?=[a-fA-F]*\d)[0-9a-fA-F]{8,} */
    if (word == n && n >= 16 && digits && alphas) return 1; /* long letter+digit token */
    if (at == 1 && s[0] != '@' && s[n - 1] != '@') return 1; /* [^/@]+@[^/@]+ */
    /* \d+\.\d+ */
    const char *dot = memchr(s, '.', n);
    if (dot && dot > s && dot < s + n - 1 && digits == n - 1) return 1;
    /* uuid 8-4-4-4-12 */
    if (n == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' && hex == 32)
        return 1;
    return 0;
}

/* The route key of a path (see the module comment) into out (at least n + 1 bytes). */
static size_t route_key(const char *p, size_t n, char *out) {
    size_t cut = n, o = 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] == '?' || p[i] == '#') {
            cut = i;
            break;
        }
    if (!cut) {
        out[0] = '/';
        return 1;
    }
    const char *s = p, *end = p + cut;
    for (;;) {
        const char *slash = memchr(s, '/', (size_t)(end - s));
        const char *t = slash ? slash : end;
        if (id_segment(s, (size_t)(t - s))) {
            out[o++] = '0';
        } else {
            memcpy(out + o, s, (size_t)(t - s));
            o += (size_t)(t - s);
        }
        if (!slash) break;
        out[o++] = '/';
        s = slash + 1;
    }
    return o;
}

static PyObject *py_route_key(PyObject *self, PyObject *arg) {
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
    char *out = PyMem_Malloc((size_t)b.len + 1);
    PyObject *r = out ? PyBytes_FromStringAndSize(out, (Py_ssize_t)route_key(b.buf, (size_t)b.len, out))
                      : PyErr_NoMemory();
    PyMem_Free(out);
    PyBuffer_Release(&b);
    return r;
}

/* ---------------------------------------------------------------- one chunk */

typedef struct {
    Table tallies, memo, routes, durations;
    PyObject *firsts;
    char last_memo[32];
    size_t last_memo_len;
    char *scratch, *text;
    size_t scratch_cap, text_cap;
} State;

/* TimeReader.hour's memo key: ts[:13] + ("Z" if it ends so else the offset at its end) */
static size_t memo_key(const char *ts, size_t n, char *out) {
    size_t head = n < 13 ? n : 13, suffix = 0;
    const char *t = ts + n;
    if (n && t[-1] == 'Z') {
        suffix = 1;
    } else if (n >= 6 && (t[-6] == '+' || t[-6] == '-') && is_digit(t[-5]) && is_digit(t[-4]) &&
               t[-3] == ':' && is_digit(t[-2]) && is_digit(t[-1])) {
        suffix = 6;
    } else if (n >= 5 && (t[-5] == '+' || t[-5] == '-') && is_digit(t[-4]) && is_digit(t[-3]) &&
               is_digit(t[-2]) && is_digit(t[-1])) {
        suffix = 5;
    }
    memcpy(out, ts, head);
    memcpy(out + head, t - suffix, suffix);
    return head + suffix;
}

static int count_line(State *S, Py_ssize_t index, int text, int hour_kind, const char *ts,
                      size_t ts_len, long long epoch_hour, const char *level, size_t level_len,
                      int request, int error, int failed) {
    char key[96];
    size_t n = 0;
    int created;
    key[n++] = (char)text;
    key[n++] = (char)hour_kind;
    if (hour_kind == HOUR_TEXT) {
        size_t m = memo_key(ts, ts_len, key + n + 1);
        key[n++] = (char)m;
        if (m != S->last_memo_len || !same(key + n, S->last_memo, m)) {
            Slot *s = table_get(&S->memo, key + n, m, &created);
            if (!s) goto nomem;
            if (created) {
                PyObject *row = Py_BuildValue("(ny#y#)", index, key + n, (Py_ssize_t)m, ts,
                                              (Py_ssize_t)ts_len);
                int rc = row ? PyList_Append(S->firsts, row) : -1;
                Py_XDECREF(row);
                if (rc) return -1;
            }
            memcpy(S->last_memo, key + n, m);
            S->last_memo_len = m;
        }
        n += m;
    } else if (hour_kind == HOUR_EPOCH) {
        memcpy(key + n, &epoch_hour, sizeof epoch_hour);
        n += sizeof epoch_hour;
    }
    key[n++] = level != NULL;
    if (level) {
        memcpy(key + n, level, level_len); /* < 32 bytes */
        n += level_len;
    }
    Slot *s = table_get(&S->tallies, key, n, &created);
    if (!s) goto nomem;
    s->a++;
    s->b += request;
    s->c += error;
    s->d += failed;
    return 0;
nomem:
    PyErr_NoMemory();
    return -1;
}

static int count_request(State *S, const JsonRecord *r) {
    size_t need = r->method_len + r->path_len + 8;
    int created;
    if (need > S->scratch_cap) {
        char *buf = PyMem_Realloc(S->scratch, need * 2);
        if (!buf) goto nomem;
        S->scratch = buf;
        S->scratch_cap = need * 2;
    }
    char *k = S->scratch;
    k[0] = (char)r->method_len;
    memcpy(k + 1, r->method, r->method_len);
    size_t n = 1 + r->method_len + route_key(r->path, r->path_len, k + 1 + r->method_len);
    Slot *route = table_get(&S->routes, k, n, &created);
    if (!route) goto nomem;
    route->a++;
    route->c += r->server_error;
    if (r->timed) {
        char d[13];
        uint32_t id = (uint32_t)route->id;
        memcpy(d, &id, 4);
        d[4] = (char)r->exact;
        memcpy(d + 5, &r->ms, 8);
        Slot *s = table_get(&S->durations, d, sizeof d, &created);
        if (!s) goto nomem;
        s->a++;
    }
    return 0;
nomem:
    PyErr_NoMemory();
    return -1;
}

static PyObject *tallies_list(State *S) {
    Table *t = &S->tallies;
    PyObject *out = PyList_New(0);
    if (!out) return NULL;
    for (size_t i = 0; i < t->cap; i++) {
        Slot *s = &t->slots[i];
        if (!s->used) continue;
        const char *k = t->arena + s->off, *end = k + s->len;
        int text = k[0], kind = k[1];
        PyObject *hour, *level;
        k += 2;
        if (kind == HOUR_TEXT) {
            size_t m = (unsigned char)*k++;
            hour = PyBytes_FromStringAndSize(k, (Py_ssize_t)m);
            k += m;
        } else if (kind == HOUR_EPOCH) {
            long long h;
            memcpy(&h, k, sizeof h);
            k += sizeof h;
            hour = PyLong_FromLongLong(h);
        } else {
            hour = Py_NewRef(Py_None);
        }
        level = *k++ ? PyUnicode_FromStringAndSize(k, end - k) : Py_NewRef(Py_None);
        PyObject *row = (hour && level) ? Py_BuildValue("(OOOnnnn)", hour, level,
                                                        text ? Py_True : Py_False, s->a, s->b,
                                                        s->c, s->d)
                                        : NULL;
        Py_XDECREF(hour);
        Py_XDECREF(level);
        if (!row || PyList_Append(out, row)) {
            Py_XDECREF(row);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(row);
    }
    return out;
}

static PyObject *routes_dict(State *S) {
    Table *t = &S->routes, *d = &S->durations;
    PyObject *out = PyDict_New(), **by_id = PyMem_Calloc(t->n + 1, sizeof(PyObject *));
    if (!out || !by_id) goto fail;
    for (size_t i = 0; i < t->cap; i++) {
        Slot *s = &t->slots[i];
        if (!s->used) continue;
        const char *k = t->arena + s->off;
        size_t m = (unsigned char)k[0];
        PyObject *key = Py_BuildValue("(y#y#)", k + 1, (Py_ssize_t)m, k + 1 + m,
                                      (Py_ssize_t)(s->len - 1 - m));
        PyObject *val = Py_BuildValue("[n{}{}n]", s->a, s->c);
        int rc = (key && val) ? PyDict_SetItem(out, key, val) : -1;
        Py_XDECREF(key);
        by_id[s->id] = val; /* borrowed: the dict holds it */
        Py_XDECREF(val);
        if (rc) goto fail;
    }
    for (size_t i = 0; i < d->cap; i++) {
        Slot *s = &d->slots[i];
        if (!s->used) continue;
        const char *k = d->arena + s->off;
        uint32_t id;
        double ms;
        memcpy(&id, k, 4);
        memcpy(&ms, k + 5, 8);
        PyObject *durations = PyList_GET_ITEM(by_id[id], k[4] ? 1 : 2);
        PyObject *key = PyFloat_FromDouble(ms), *val = PyLong_FromSsize_t(s->a);
        int rc = (key && val) ? PyDict_SetItem(durations, key, val) : -1;
        Py_XDECREF(key);
        Py_XDECREF(val);
        if (rc) goto fail;
    }
    PyMem_Free(by_id);
    return out;
fail:
    PyMem_Free(by_id);
    Py_XDECREF(out);
    return NULL;
}

static int append_other(PyObject *index, PyObject *items, Py_ssize_t i, PyObject *item) {
    PyObject *n = PyLong_FromSsize_t(i);
    int rc = (n && item) ? (PyList_Append(index, n) | PyList_Append(items, item)) : -1;
    Py_XDECREF(n);
    Py_XDECREF(item);
    return rc;
}

static PyObject *scan(PyObject *self, PyObject *arg) {
    Py_buffer buf;
    if (PyObject_GetBuffer(arg, &buf, PyBUF_SIMPLE) < 0) return NULL;
    const char *p = buf.buf, *end = p + buf.len;
    State S;
    memset(&S, 0, sizeof S);
    S.last_memo_len = (size_t)-1; /* no key yet (an empty time string has an empty key) */
    S.firsts = PyList_New(0);
    PyObject *other_index = PyList_New(0), *other_items = PyList_New(0);
    PyObject *tallies = NULL, *routes = NULL, *result = NULL;
    Py_ssize_t lines = 0, blank = 0;
    if (!S.firsts || !other_index || !other_items) goto done;

    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) e = end; /* the caller passes complete lines; a tail is still one line */
        JsonRecord j;
        ErrorLine err;
        PyObject *row = NULL;
        const char *hour = NULL;
        int level;
        char sys_ts[64];
        size_t sys_len;
        if (e == p) {
            blank++;
        } else if (*p == '{' && json_line(p, e, &j) &&
                   (!j.request || j.method_len < MAX_METHOD) &&
                   (!j.error || (row = json_error_row(&j, p - (const char *)buf.buf,
                                                      e - (const char *)buf.buf, &S.text,
                                                      &S.text_cap)))) {
            if (count_line(&S, lines, 0, j.hour_kind, j.ts, j.ts_len, j.epoch_hour, j.level,
                           j.level_len, j.request, j.error, j.request && j.server_error) < 0 ||
                (j.request && count_request(&S, &j) < 0)) {
                Py_XDECREF(row);
                goto done;
            }
            if (row && append_other(other_index, other_items, lines, row)) goto done;
        } else if (is_digit(*p) && (level = match_text(p, e, &hour)) >= 0) {
            if (count_line(&S, lines, 1, HOUR_TEXT, p, (size_t)(hour - p), 0, LEVEL_NAMES[level],
                           level_len[level], 0, 0, 0) < 0)
                goto done;
        } else if (*p >= 'A' && *p <= 'S' && match_syslog(p, e, sys_ts, &sys_len)) {
            if (count_line(&S, lines, 1, HOUR_TEXT, sys_ts, sys_len, 0, NULL, 0, 0, 0, 0) < 0)
                goto done;
        } else if (is_digit(*p) && match_error(p, e, &err)) {
            if (count_line(&S, lines, 1, HOUR_TEXT, p, err.ts_len, 0, LEVEL_NAMES[err.level],
                           level_len[err.level], 0, 1, 0) < 0)
                goto done;
            PyObject *epoch = err.exact ? PyFloat_FromDouble(err.epoch)
                                        : PyUnicode_FromStringAndSize(p, (Py_ssize_t)err.ts_len);
            row = epoch ? Py_BuildValue("(Onns#s#OO)", level_str[err.level],
                                        (Py_ssize_t)(p - (const char *)buf.buf),
                                        (Py_ssize_t)(e - (const char *)buf.buf), err.comp,
                                        (Py_ssize_t)err.comp_len, err.msg,
                                        (Py_ssize_t)err.msg_len, epoch, Py_None)
                        : NULL;
            Py_XDECREF(epoch);
            if (append_other(other_index, other_items, lines, row)) goto done;
        } else {
            if (PyErr_Occurred()) goto done; /* json_error_row failed (no memory) */
            if (append_other(other_index, other_items, lines, PyBytes_FromStringAndSize(p, e - p)))
                goto done;
        }
        lines++;
        p = e + 1;
    }
    if (!(tallies = tallies_list(&S)) || !(routes = routes_dict(&S))) goto done;
    result = Py_BuildValue("(nnOOOOO)", lines, blank, tallies, routes, S.firsts, other_index,
                           other_items);
done:
    Py_XDECREF(tallies);
    Py_XDECREF(routes);
    Py_XDECREF(S.firsts);
    Py_XDECREF(other_index);
    Py_XDECREF(other_items);
    table_free(&S.tallies);
    table_free(&S.memo);
    table_free(&S.routes);
    table_free(&S.durations);
    PyMem_Free(S.scratch);
    PyMem_Free(S.text);
    PyBuffer_Release(&buf);
    return result;
}

static PyObject *ready(PyObject *self, PyObject *unused) { return PyBool_FromLong(json_ready()); }

static PyMethodDef methods[] = {
    {"scan", scan, METH_O, "Classify and count the complete lines of a chunk (see module doc)."},
    {"configure", (PyCFunction)(void (*)(void))json_configure, METH_VARARGS,
     "Give the JSON reader formats.py's key tables (see _jsonline.c)."},
    {"configured", ready, METH_NOARGS, "Whether configure() succeeded."},
    {"route_key", py_route_key, METH_O, "The route key of a path (bytes), for tests."},
    {"uniform", uniform, METH_O, "fingerprint.uniform for an ASCII message; None otherwise."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "rota.logscan._linescan",
    "The fast path's line classifier, compiled (see rota/logscan/fastpath.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__linescan(void) {
    for (int i = 0; i < NLEVELS; i++) {
        level_str[i] = PyUnicode_InternFromString(LEVEL_NAMES[i]);
        level_len[i] = strlen(LEVEL_NAMES[i]);
        if (!level_str[i]) return NULL;
    }
    return PyModule_Create(&module);
}
