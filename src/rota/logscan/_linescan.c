/* The fast path's line classifier, compiled: the same decisions as fastpath.LINE, at memchr speed.
 *
 * scan(data) walks the complete lines of ``data`` (it ends with a newline, holds no CR or
 * NUL and is valid UTF-8: the caller checks) and sorts each line into one of three kinds,
 * exactly as the regex alternation in rota/logscan/fastpath.py does:
 *
 *   - a JSON request line of the fixed shape  -> counted per (hour, level) and per
 *     (method, route prefix) with its duration;
 *   - a plain "TIMESTAMP LEVEL [" line with a non-error level -> counted per (hour, level);
 *   - a plain error line "TIMESTAMP ERROR [component] message" whose every part reads the
 *     same as formats.parse_text reads it (ASCII component, message starting and ending
 *     on a printable ASCII character, a valid date, at most 6 fraction digits) -> counted
 *     per (hour, level) and returned with its index as (level, start offset, end offset,
 *     component, message, epoch); its group is the caller's business (fingerprints stay
 *     in Python);
 *   - anything else -> returned whole (bytes) with its index, for the exact per-line parser.
 *
 * Returns (lines, blank, json_hours, text_hours, routes, other_index, other_items):
 *   json_hours / text_hours: {(hour bytes, level str): count} (text_hours includes errors)
 *   routes: {(method bytes, route prefix bytes): [requests, {duration float: count}]}
 *   other_index / other_items: line indexes in order, and for each the line's bytes or the
 *   error tuple above (one list, so the caller meets errors in line order)
 * The regex stays the reference (and the fallback when this module is not built); tests
 * compare the two on adversarial lines.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define NLEVELS 11
#define FIRST_ERROR_LEVEL 5
static const char *LEVEL_NAMES[NLEVELS] = {"trace", "debug", "info", "notice", "warn",     "error",
                                           "fatal", "critical", "panic", "alert", "emerg"};
static PyObject *level_str[NLEVELS];

static inline int is_digit(char c) { return c >= '0' && c <= '9'; }

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

static inline const char *lit(const char *p, const char *e, const char *s, size_t n) {
    if ((size_t)(e - p) < n || memcmp(p, s, n) != 0) return NULL;
    return p + n;
}
#define LIT(p, e, s) lit((p), (e), (s), sizeof(s) - 1)

/* JSON level token up to the next '"': trace|debug|info|notice|warn|warning. */
static int json_level(const char *p, size_t n) {
    switch (n) {
    case 4:
        if (!memcmp(p, "info", 4)) return 2;
        if (!memcmp(p, "warn", 4)) return 4;
        return -1;
    case 5:
        if (!memcmp(p, "trace", 5)) return 0;
        if (!memcmp(p, "debug", 5)) return 1;
        return -1;
    case 6:
        return memcmp(p, "notice", 6) ? -1 : 3;
    case 7:
        return memcmp(p, "warning", 7) ? -1 : 4;
    }
    return -1;
}

static int text_level(const char *p, size_t n) {
    switch (n) {
    case 4:
        if (!memcmp(p, "INFO", 4)) return 2;
        if (!memcmp(p, "WARN", 4)) return 4;
        return -1;
    case 5:
        if (!memcmp(p, "TRACE", 5)) return 0;
        if (!memcmp(p, "DEBUG", 5)) return 1;
        return -1;
    case 6:
        return memcmp(p, "NOTICE", 6) ? -1 : 3;
    case 7:
        return memcmp(p, "WARNING", 7) ? -1 : 4;
    }
    return -1;
}

static inline int path_excluded(unsigned char c) {
    return c == '"' || c == '\\' || c < 0x20 || is_digit((char)c) || c == '@' || c == '?' ||
           c == '#';
}

typedef struct {
    const char *hour; /* 13 bytes */
    int level;
    const char *method;
    size_t method_len;
    const char *route;
    size_t route_len;
    const char *dur;
    size_t dur_len;
} JsonLine;

/* The JSON request shape of fastpath.LINE, matched to the end of the line. */
static int match_json(const char *p, const char *e, JsonLine *out) {
    const char *q;
    if (!(p = LIT(p, e, "{\"time\":\""))) return 0;
    out->hour = p;
    if (!(p = match_ts(p, e))) return 0;
    if (!(p = LIT(p, e, "\",\"level\":\""))) return 0;
    q = memchr(p, '"', (size_t)(e - p));
    if (!q || (out->level = json_level(p, (size_t)(q - p))) < 0) return 0;
    p = q;
    if (!(p = LIT(p, e, "\",\"msg\":\"API request\",\"method\":\""))) return 0;
    q = p;
    while (q < e && *q >= 'A' && *q <= 'Z') q++;
    if (q - p < 3 || q - p > 7) return 0;
    out->method = p;
    out->method_len = (size_t)(q - p);
    p = q;
    if (!(p = LIT(p, e, "\",\"path\":\""))) return 0;
    if (p >= e || *p != '/') return 0;
    q = p + 1;
    while (q < e && !path_excluded((unsigned char)*q)) q++;
    if (q < e && q[-1] == '/' && is_digit(*q)) q++;
    out->route = p;
    out->route_len = (size_t)(q - p);
    if (is_digit(q[-1]))
        while (q < e && is_digit(*q)) q++;
    p = q;
    if (!(p = LIT(p, e, "\",\"status\":"))) return 0;
    if (e - p < 3 || p[0] < '1' || p[0] > '4' || !is_digit(p[1]) || !is_digit(p[2])) return 0;
    p += 3;
    if (!(p = LIT(p, e, ",\"duration\":\""))) return 0;
    q = p;
    while (q < e && is_digit(*q)) q++;
    if (q - p < 1 || q - p > 9) return 0;
    if (q < e && *q == '.') {
        const char *f = q + 1;
        while (f < e && is_digit(*f)) f++;
        if (f - (q + 1) < 1 || f - (q + 1) > 6) return 0;
        q = f;
    }
    out->dur = p;
    out->dur_len = (size_t)(q - p);
    p = q;
    if (!(p = LIT(p, e, "ms\""))) return 0;
    if (p < e && *p == ',') {
        if (!(p = LIT(p, e, ",\"request_id\":\""))) return 0;
        while (p < e && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) p++;
        if (!(p = LIT(p, e, "\""))) return 0;
    }
    return e - p == 1 && *p == '}';
}

/* "TIMESTAMP LEVEL [" with a non-error level; the rest of the line does not matter. */
static int match_text(const char *p, const char *e, const char **hour) {
    const char *q, *start = p;
    if (!(p = match_ts(p, e))) return -1;
    if (p >= e || *p != ' ') return -1;
    p++;
    q = p;
    while (q < e && *q >= 'A' && *q <= 'Z') q++;
    int level = text_level(p, (size_t)(q - p));
    if (level < 0 || e - q < 2 || q[0] != ' ' || q[1] != '[') return -1;
    *hour = start;
    return level;
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
    size_t comp_len, msg_len;
    double epoch;
} ErrorLine;

/* "TS LEVEL [component] message" with an error level, read exactly as parse_text and
 * TimeReader read it, or 0 (then the line goes to the per-line parser). */
static int match_error(const char *p, const char *e, ErrorLine *out) {
    const char *t = p, *q;
    if (!(q = match_ts(p, e)) || q - p > 27) return 0; /* more than 6 fraction digits */
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
    out->epoch = (double)(secs * 1000000LL + micros) / 1e6;
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
    if (!printable((unsigned char)e[-1])) return 0;
    out->msg = p + 1;
    out->msg_len = (size_t)(e - (p + 1));
    return 1;
}

/* ---------------------------------------------------------------- small hash tables */

typedef struct {
    char hour[13];
    int used;
    Py_ssize_t json[NLEVELS];
    Py_ssize_t text[NLEVELS];
} HourSlot;

typedef struct {
    HourSlot *slots;
    size_t cap, n;
} HourTable;

static uint64_t fnv(const char *p, size_t n, uint64_t h) {
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

static HourSlot *hour_slot(HourTable *t, const char *hour) {
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        HourSlot *slots = PyMem_Calloc(cap, sizeof(HourSlot));
        if (!slots) return NULL;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->slots[i].used) continue;
            size_t j = fnv(t->slots[i].hour, 13, 14695981039346656037ULL) & (cap - 1);
            while (slots[j].used) j = (j + 1) & (cap - 1);
            slots[j] = t->slots[i];
        }
        PyMem_Free(t->slots);
        t->slots = slots;
        t->cap = cap;
    }
    size_t j = fnv(hour, 13, 14695981039346656037ULL) & (t->cap - 1);
    while (t->slots[j].used) {
        if (!memcmp(t->slots[j].hour, hour, 13)) return &t->slots[j];
        j = (j + 1) & (t->cap - 1);
    }
    HourSlot *s = &t->slots[j];
    memcpy(s->hour, hour, 13);
    s->used = 1;
    t->n++;
    return s;
}

typedef struct {
    char *key; /* method, NUL, route */
    size_t method_len, route_len;
    uint64_t hash;
    Py_ssize_t requests;
    PyObject *durations; /* dict float -> int */
} RouteSlot;

typedef struct {
    RouteSlot *slots;
    size_t cap, n;
} RouteTable;

static RouteSlot *route_slot(RouteTable *t, const JsonLine *j) {
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        RouteSlot *slots = PyMem_Calloc(cap, sizeof(RouteSlot));
        if (!slots) return NULL;
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->slots[i].key) continue;
            size_t k = t->slots[i].hash & (cap - 1);
            while (slots[k].key) k = (k + 1) & (cap - 1);
            slots[k] = t->slots[i];
        }
        PyMem_Free(t->slots);
        t->slots = slots;
        t->cap = cap;
    }
    uint64_t h = fnv(j->method, j->method_len, 14695981039346656037ULL);
    h = fnv(j->route, j->route_len, h ^ 0xff);
    size_t k = h & (t->cap - 1);
    while (t->slots[k].key) {
        RouteSlot *s = &t->slots[k];
        if (s->hash == h && s->method_len == j->method_len && s->route_len == j->route_len &&
            !memcmp(s->key, j->method, j->method_len) &&
            !memcmp(s->key + j->method_len + 1, j->route, j->route_len))
            return s;
        k = (k + 1) & (t->cap - 1);
    }
    RouteSlot *s = &t->slots[k];
    s->key = PyMem_Malloc(j->method_len + j->route_len + 2);
    s->durations = PyDict_New();
    if (!s->key || !s->durations) return NULL;
    memcpy(s->key, j->method, j->method_len);
    s->key[j->method_len] = '\0';
    memcpy(s->key + j->method_len + 1, j->route, j->route_len);
    s->method_len = j->method_len;
    s->route_len = j->route_len;
    s->hash = h;
    s->requests = 0;
    t->n++;
    return s;
}

static void free_routes(RouteTable *t) {
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].key) {
            PyMem_Free(t->slots[i].key);
            Py_XDECREF(t->slots[i].durations);
        }
    }
    PyMem_Free(t->slots);
}

static int count_duration(RouteSlot *s, const char *dur, size_t n) {
    char buf[32];
    memcpy(buf, dur, n); /* n <= 16 by the shape */
    buf[n] = '\0';
    double v = PyOS_string_to_double(buf, NULL, NULL);
    if (v == -1.0 && PyErr_Occurred()) return -1;
    PyObject *key = PyFloat_FromDouble(v);
    if (!key) return -1;
    PyObject *old = PyDict_GetItemWithError(s->durations, key);
    Py_ssize_t c = 1;
    if (old) {
        c = PyLong_AsSsize_t(old) + 1;
    } else if (PyErr_Occurred()) {
        Py_DECREF(key);
        return -1;
    }
    PyObject *val = PyLong_FromSsize_t(c);
    int rc = val ? PyDict_SetItem(s->durations, key, val) : -1;
    Py_XDECREF(val);
    Py_DECREF(key);
    s->requests++;
    return rc;
}

static int add_count(PyObject *d, const char *hour, int level, Py_ssize_t c) {
    PyObject *key = Py_BuildValue("(y#O)", hour, (Py_ssize_t)13, level_str[level]);
    PyObject *val = PyLong_FromSsize_t(c);
    int rc = (key && val) ? PyDict_SetItem(d, key, val) : -1;
    Py_XDECREF(key);
    Py_XDECREF(val);
    return rc;
}

static PyObject *scan(PyObject *self, PyObject *arg) {
    Py_buffer buf;
    if (PyObject_GetBuffer(arg, &buf, PyBUF_SIMPLE) < 0) return NULL;
    const char *p = buf.buf, *end = p + buf.len;
    HourTable hours = {0};
    RouteTable routes = {0};
    PyObject *other_index = PyList_New(0), *other_lines = PyList_New(0);
    PyObject *json_hours = NULL, *text_hours = NULL, *route_dict = NULL, *result = NULL;
    Py_ssize_t lines = 0, blank = 0;
    HourSlot *last = NULL;
    if (!other_index || !other_lines) goto done;

    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) e = end; /* the caller passes complete lines; a tail is still one line */
        JsonLine j = {0};
        ErrorLine err;
        const char *hour = NULL;
        int level = -1, is_json = 0;
        if (e == p) {
            blank++;
        } else if (*p == '{' && match_json(p, e, &j)) {
            hour = j.hour;
            level = j.level;
            is_json = 1;
        } else if (is_digit(*p) && (level = match_text(p, e, &hour)) >= 0) {
            /* counted below */
        } else if (is_digit(*p) && match_error(p, e, &err)) {
            hour = p;
            level = err.level;
            PyObject *i = PyLong_FromSsize_t(lines);
            PyObject *row = Py_BuildValue(
                "(Onns#s#d)", level_str[level], (Py_ssize_t)(p - (const char *)buf.buf),
                (Py_ssize_t)(e - (const char *)buf.buf), err.comp, (Py_ssize_t)err.comp_len,
                err.msg, (Py_ssize_t)err.msg_len, err.epoch);
            int rc = (i && row) ? (PyList_Append(other_index, i) | PyList_Append(other_lines, row))
                                : -1;
            Py_XDECREF(i);
            Py_XDECREF(row);
            if (rc) goto done;
        } else {
            PyObject *i = PyLong_FromSsize_t(lines);
            PyObject *b = PyBytes_FromStringAndSize(p, e - p);
            int rc = (i && b) ? (PyList_Append(other_index, i) | PyList_Append(other_lines, b)) : -1;
            Py_XDECREF(i);
            Py_XDECREF(b);
            if (rc) goto done;
        }
        if (hour) {
            /* the slot found last stays valid: only a lookup that inserts can move slots */
            if (!last || memcmp(last->hour, hour, 13)) {
                last = hour_slot(&hours, hour);
                if (!last) {
                    PyErr_NoMemory();
                    goto done;
                }
            }
            if (is_json) {
                last->json[level]++;
                RouteSlot *r = route_slot(&routes, &j);
                if (!r) {
                    if (!PyErr_Occurred()) PyErr_NoMemory();
                    goto done;
                }
                if (count_duration(r, j.dur, j.dur_len) < 0) goto done;
            } else {
                last->text[level]++;
            }
        }
        lines++;
        p = e + 1;
    }

    json_hours = PyDict_New();
    text_hours = PyDict_New();
    route_dict = PyDict_New();
    if (!json_hours || !text_hours || !route_dict) goto done;
    for (size_t i = 0; i < hours.cap; i++) {
        HourSlot *s = &hours.slots[i];
        if (!s->used) continue;
        for (int l = 0; l < NLEVELS; l++) {
            if (s->json[l] && add_count(json_hours, s->hour, l, s->json[l]) < 0) goto done;
            if (s->text[l] && add_count(text_hours, s->hour, l, s->text[l]) < 0) goto done;
        }
    }
    for (size_t i = 0; i < routes.cap; i++) {
        RouteSlot *s = &routes.slots[i];
        if (!s->key) continue;
        PyObject *key = Py_BuildValue("(y#y#)", s->key, (Py_ssize_t)s->method_len,
                                      s->key + s->method_len + 1, (Py_ssize_t)s->route_len);
        PyObject *val = Py_BuildValue("[nO]", s->requests, s->durations);
        int rc = (key && val) ? PyDict_SetItem(route_dict, key, val) : -1;
        Py_XDECREF(key);
        Py_XDECREF(val);
        if (rc < 0) goto done;
    }
    result = Py_BuildValue("(nnOOOOO)", lines, blank, json_hours, text_hours, route_dict,
                           other_index, other_lines);
done:
    Py_XDECREF(json_hours);
    Py_XDECREF(text_hours);
    Py_XDECREF(route_dict);
    Py_XDECREF(other_index);
    Py_XDECREF(other_lines);
    PyMem_Free(hours.slots);
    free_routes(&routes);
    PyBuffer_Release(&buf);
    return result;
}

/* ---------------------------------------------------------------- uniform(message)
 *
 * rota.logscan.fingerprint.uniform for ASCII messages, by hand: the same spans replaced by
 * the same constants, then the same digit mapping; tests compare the two byte for byte.
 * Returns None for a message that is not ASCII (the Python version handles it).
 */
static inline int u_space(unsigned char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}
static inline int u_word(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit((char)c) || c == '_';
}
static inline int u_hex(unsigned char c) {
    return is_digit((char)c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static inline int u_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* (?=[\s)\],;]|[:.](?:\s|$)|$) at i */
static int u_edge_after(const unsigned char *m, Py_ssize_t n, Py_ssize_t i) {
    if (i >= n) return 1;
    unsigned char c = m[i];
    if (u_space(c) || c == ')' || c == ']' || c == ',' || c == ';') return 1;
    if (c == ':' || c == '.') return i + 1 >= n || u_space(m[i + 1]);
    return 0;
}

static Py_ssize_t u_uuid(const unsigned char *m, Py_ssize_t n, Py_ssize_t i) {
    static const int groups[] = {8, 4, 4, 4, 12};
    Py_ssize_t j = i;
    for (int g = 0; g < 5; g++) {
        if (g) {
            if (j >= n || m[j] != '-') return 0;
            j++;
        }
        for (int k = 0; k < groups[g]; k++, j++)
            if (j >= n || !u_hex(m[j])) return 0;
    }
    if (j < n && u_word(m[j])) return 0; /* \b */
    return j;
}

static inline int u_email_local(unsigned char c) { return u_word(c) || c == '.' || c == '+' || c == '-'; }
static inline int u_label(unsigned char c) { return u_word(c) || c == '-'; }

static Py_ssize_t u_email(const unsigned char *m, Py_ssize_t n, Py_ssize_t i) {
    if (!u_word(m[i])) return 0; /* \b at the start (the character before is not a word one) */
    Py_ssize_t j = i;
    while (j < n && u_email_local(m[j])) j++;
    if (j >= n || m[j] != '@') return 0;
    j++;
    Py_ssize_t k = j;
    while (k < n && u_label(m[k])) k++;
    if (k == j) return 0;
    int labels = 0;
    while (k + 1 < n && m[k] == '.' && u_label(m[k + 1])) {
        k++;
        while (k < n && u_label(m[k])) k++;
        labels++;
    }
    if (!labels || !u_word(m[k - 1])) return 0; /* only the whole extent can meet the edge */
    return k;
}

static inline int u_url_char(unsigned char c) {
    return !(u_space(c) || c == '"' || c == '\'' || c == '<' || c == '>' || c == '(' || c == ')' ||
             c == '[' || c == ']' || c == '{' || c == '}' || c == ',' || c == ';' || c == '&');
}

static Py_ssize_t u_url(const unsigned char *m, Py_ssize_t n, Py_ssize_t i) {
    if (!u_alpha(m[i])) return 0;
    Py_ssize_t j = i + 1;
    while (j < n && (u_alpha(m[j]) || is_digit((char)m[j]) || m[j] == '+' || m[j] == '.' || m[j] == '-'))
        j++;
    if (j + 3 > n || m[j] != ':' || m[j + 1] != '/' || m[j + 2] != '/') return 0;
    j += 3;
    Py_ssize_t k = j;
    while (k < n && u_url_char(m[k])) k++;
    return k > j ? k : 0;
}

static Py_ssize_t u_hexid(const unsigned char *m, Py_ssize_t n, Py_ssize_t i) {
    Py_ssize_t j;
    if (m[i] == '0' && i + 1 < n && (m[i + 1] == 'x' || m[i + 1] == 'X')) {
        j = i + 2;
        while (j < n && u_hex(m[j])) j++;
        if (j > i + 2 && !(j < n && u_word(m[j]))) return j;
    }
    j = i;
    while (j < n && u_hex(m[j]) && !is_digit((char)m[j])) j++;
    if (j >= n || !is_digit((char)m[j])) return 0; /* (?=[a-fA-F]*\d) */
    j = i;
    while (j < n && u_hex(m[j])) j++;
    if (j - i < 8 || (j < n && u_word(m[j]))) return 0;
    return j;
}

static Py_ssize_t u_value(const unsigned char *m, Py_ssize_t n, Py_ssize_t i) {
    if (!(u_alpha(m[i]) || m[i] == '_')) return 0;
    Py_ssize_t j = i;
    while (j < n && j - i < 8 && u_hex(m[j])) j++;
    if (j - i == 8) return 0; /* (?![0-9a-fA-F]{8}) */
    j = i;
    for (; j < n; j++) {
        unsigned char c = m[j];
        if (u_space(c) || c == ',' || c == ';' || c == ')' || c == ']' || c == '}' || c == '&' ||
            c == '"' || c == '\'')
            return j; /* the lookahead's set: the value ends here */
        if (c == ':' || c == '/' || c == '@' || c == '<' || c == '>' || c == '(' || c == '[' ||
            c == '{')
            return 0;
    }
    return j;
}

static PyObject *uniform(PyObject *self, PyObject *arg) {
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(arg, &n);
    if (!s) {
        PyErr_Clear(); /* lone surrogates: the Python version handles them */
        Py_RETURN_NONE;
    }
    const unsigned char *m = (const unsigned char *)s;
    int quoted = 0, zero_x = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (m[i] >= 0x80) Py_RETURN_NONE;
        if (m[i] == '"' || m[i] == '\'') quoted = 1;
    }
    /* a span of at least 3 characters becomes at most 8 (0x1 -> abcdef01): 3n bounds the
       result; the copy below checks anyway */
    size_t cap = (size_t)n * 3 + 64;
    unsigned char *out = PyMem_Malloc(cap);
    if (!out) return PyErr_NoMemory();
    Py_ssize_t o = 0, i = 0;
    while (i < n) {
        Py_ssize_t end = 0;
        const char *constant = NULL;
        /* a span starts at the start or after whitespace, "=", "(", "[" or ","; whitespace
           and "," not after a digit */
        int edge = i == 0 || u_space(m[i - 1]) || m[i - 1] == '=' || m[i - 1] == '(' ||
                   m[i - 1] == '[' || m[i - 1] == ',';
        if (edge && i >= 2 && is_digit((char)m[i - 2]) && (u_space(m[i - 1]) || m[i - 1] == ','))
            edge = 0;
        if (edge && !quoted) {
            if ((end = u_uuid(m, n, i)) && u_edge_after(m, n, end))
                constant = "abcdefab-cdef-abcd-efab-cdefabcdefab";
            else if ((end = u_email(m, n, i)) && u_edge_after(m, n, end))
                constant = "g@g.gg";
            else if ((end = u_url(m, n, i)) && u_edge_after(m, n, end))
                constant = "g://g";
            else if ((end = u_hexid(m, n, i)) && u_edge_after(m, n, end))
                constant = "abcdef01";
            else if (i > 0 && m[i - 1] == '=' && (end = u_value(m, n, i)))
                constant = "g";
        }
        if (constant) {
            size_t len = strlen(constant);
            if ((size_t)o + len > cap) { /* cannot happen by the bound above; never overrun */
                PyMem_Free(out);
                Py_RETURN_NONE;
            }
            memcpy(out + o, constant, len);
            o += (Py_ssize_t)len;
            i = end;
            continue;
        }
        out[o++] = m[i++];
    }
    for (Py_ssize_t k = 0; k + 1 < o; k++)
        if (out[k] == '0' && (out[k + 1] == 'x' || out[k + 1] == 'X')) zero_x = 1;
    for (Py_ssize_t k = 0; k < o; k++) {
        unsigned char c = out[k];
        if ((c >= '2' && c <= '9') || (c == '0' && !zero_x)) out[k] = '1';
    }
    PyObject *result = PyBytes_FromStringAndSize((const char *)out, o);
    PyMem_Free(out);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_O, "Classify and count the complete lines of a chunk (see module doc)."},
    {"uniform", uniform, METH_O, "fingerprint.uniform for an ASCII message; None otherwise."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "rota.logscan._linescan",
    "The fast path's line classifier, compiled (same decisions as rota.logscan.fastpath.LINE).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__linescan(void) {
    for (int i = 0; i < NLEVELS; i++) {
        level_str[i] = PyUnicode_InternFromString(LEVEL_NAMES[i]);
        if (!level_str[i]) return NULL;
    }
    return PyModule_Create(&module);
}
