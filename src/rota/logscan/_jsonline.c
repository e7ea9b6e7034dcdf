/* One JSON line, read the way formats.parse_json reads it, in one pass and without objects.
 *
 * A service's JSON lines come from many loggers (pino, pino-http, winston, bunyan, structlog,
 * hand-rolled ones), each with its own key names, key order and extra keys. The report needs
 * six things from a line: time, level, method, path, status and duration; and from an error
 * line (an error level or a 5xx) what its group is made of: message, err and component.
 * json_line() walks the object once, validating it as json.loads would, and notes where the
 * keys parse_json looks for are (top level, plus "req"/"res" and an err object's
 * message/msg/type one level down, as pino-http, pino and bunyan write them); then it applies
 * parse_json's rules to those values:
 *
 *   - key priority: the first key of each tuple (formats._TIME_KEYS, ...) whose value is not
 *     null; durations: the first key of formats._DURATION_KEYS (in order) that yields one;
 *   - `_first(METHOD) or req.method`, `_first(PATH) or req.url`, `_first(STATUS)` else
 *     res.statusCode (with Python's truthiness: "", 0, false, {} and [] fall through);
 *   - levels lower-cased and alias-folded, numeric ones as `v - v % 10`; epoch numbers in ms
 *     above 1e11; digit-string statuses; durations with their unit suffix or the key's unit;
 *   - for an error line: msg when a string (other values are json.dumps'ed: per line), err
 *     when a non-empty string or an object's first truthy message/msg/type that is one,
 *     component when a string (_errline.c builds the message from these).
 *
 * The key tables, units, aliases and error levels are not written here: fastpath.py passes
 * formats.py's own tuples to configure() at import, so the two cannot drift apart.
 *
 * The rule is certainty: anything unusual returns 0 and the line goes to the exact per-line
 * parser. That is: a key of interest twice (json.loads keeps the last one; for the message
 * keys, and err's message/msg/type, only on an error line), an escape in a key or in a time,
 * level, method or path, a "unit"/"duration_unit" key, a non-ASCII time or level, nesting
 * deeper than MAX_DEPTH, NaN/Infinity, long numbers, epoch times outside 1970..9999, on an
 * error line a msg that is not a string or an escaped key in an err object, and anything
 * json.loads would reject. (Escapes in msg, err and component are decoded by _errline.c,
 * which leaves \u surrogates to json.loads.)
 */
#include "_linescan.h"

#include <math.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MAX_DEPTH 32
#define MAX_NUMBER 40 /* longer numbers go per line (int digit limits, float precision) */
#define MAX_PRIO 32
#define TABLE_SIZE 256 /* open addressing, power of two, more than 2x the keys */
#define EPOCH_LIMIT 253402300800.0 /* year 10000: datetime's range ends before */

enum { F_TIME, F_LEVEL, F_METHOD, F_PATH, F_STATUS, F_DURATION, F_REQ, F_RES, F_UNIT,
       F_MSG, F_ERR, F_COMP /* read for error lines only */, NFIELDS };
#define MAX_KEYS 128
#define MAX_ERR_KEYS 8 /* err keys whose object is looked into */
enum { V_STR = 1, V_NUM, V_TRUE, V_FALSE, V_NULL, V_OBJ, V_ARR };
enum { X_ESC = 1, X_NONASCII = 2, X_EMPTY = 4, X_FLOAT = 8 };

typedef struct {
    const char *s, *e; /* the token; for strings, the content between the quotes */
    uint8_t kind, flags;
} Val;

typedef struct {
    char *key;
    size_t len;
    int field, prio, id;
} KeyEntry;

typedef struct {
    char *name;
    size_t len;
    double factor;
} Unit;

typedef struct {
    char *from, *to;
    size_t from_len, to_len;
} Alias;

typedef struct {
    long long value;
    char *name;
    size_t len;
} NumericLevel;

static struct {
    int ready;
    KeyEntry keys[MAX_KEYS];
    int nkeys;
    int table[TABLE_SIZE]; /* index into keys + 1; 0 = empty */
    uint64_t lengths[256]; /* by a key's first byte: bit n set when a key of n bytes starts so */
    double duration_factor[MAX_PRIO]; /* 0: the key's unit is not one parse_duration_ms knows */
    char *req_keys[2], *res_key;      /* "method", "url"; "statusCode" */
    size_t req_lens[2], res_len;
    char *err_keys[3]; /* an err object's "message", "msg", "type", in `or` order */
    size_t err_lens[3];
    Unit units[32];
    int nunits;
    Alias aliases[32];
    int naliases;
    NumericLevel numeric[32];
    int nnumeric;
    char *errors[32];
    int nerrors;
    double epoch_ms_above;
} cfg;

typedef struct {
    uint64_t seen[MAX_KEYS / 64]; /* keys of interest met (json.loads keeps the last) */
    uint32_t present[NFIELDS];
    Val vals[NFIELDS][MAX_PRIO];
    int req_obj, req_empty, res_obj;
    int req_seen[2], res_seen;
    Val req[2], res_status;
    int doubt; /* something an error line's message or component may depend on is not
                  certain (a key twice, an escaped key in an err object): errors go per line */
    uint8_t err_seen[MAX_ERR_KEYS]; /* per err key: which of err_keys its object holds */
    Val err_sub[MAX_ERR_KEYS][3];
} Line;

/* ---------------------------------------------------------------- configuration */

static char *copy_str(PyObject *s, size_t *len) {
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    if (!u) return NULL;
    char *out = PyMem_Malloc((size_t)n + 1);
    if (!out) return (char *)PyErr_NoMemory();
    memcpy(out, u, (size_t)n + 1);
    if (len) *len = (size_t)n;
    return out;
}

static int add_key(PyObject *name, int field, int prio) {
    if (cfg.nkeys >= MAX_KEYS || prio >= MAX_PRIO || (field == F_ERR && prio >= MAX_ERR_KEYS)) {
        PyErr_SetString(PyExc_ValueError, "too many JSON keys for the fast path");
        return -1;
    }
    KeyEntry *k = &cfg.keys[cfg.nkeys];
    if (!(k->key = copy_str(name, &k->len))) return -1;
    k->field = field;
    k->prio = prio;
    k->id = cfg.nkeys;
    size_t j = hash_bytes(k->key, k->len) & (TABLE_SIZE - 1);
    while (cfg.table[j]) {
        KeyEntry *o = &cfg.keys[cfg.table[j] - 1];
        if (o->len == k->len && !memcmp(o->key, k->key, k->len)) {
            PyErr_Format(PyExc_ValueError, "JSON key %R is in two key tables", name);
            return -1;
        }
        j = (j + 1) & (TABLE_SIZE - 1);
    }
    cfg.table[j] = ++cfg.nkeys;
    if (k->len && k->len < 64) cfg.lengths[(unsigned char)k->key[0]] |= 1ULL << k->len;
    return 0;
}

static const KeyEntry *lookup(const char *p, size_t n) {
    if (!n || n >= 64 || !(cfg.lengths[(unsigned char)p[0]] & (1ULL << n))) return NULL;
    size_t j = hash_bytes(p, n) & (TABLE_SIZE - 1);
    while (cfg.table[j]) {
        const KeyEntry *k = &cfg.keys[cfg.table[j] - 1];
        if (k->len == n && same(k->key, p, n)) return k;
        j = (j + 1) & (TABLE_SIZE - 1);
    }
    return NULL;
}

static void reset(void) {
    for (int i = 0; i < cfg.nkeys; i++) PyMem_Free(cfg.keys[i].key);
    for (int i = 0; i < cfg.nunits; i++) PyMem_Free(cfg.units[i].name);
    for (int i = 0; i < cfg.naliases; i++) {
        PyMem_Free(cfg.aliases[i].from);
        PyMem_Free(cfg.aliases[i].to);
    }
    for (int i = 0; i < cfg.nnumeric; i++) PyMem_Free(cfg.numeric[i].name);
    for (int i = 0; i < cfg.nerrors; i++) PyMem_Free(cfg.errors[i]);
    PyMem_Free(cfg.req_keys[0]);
    PyMem_Free(cfg.req_keys[1]);
    PyMem_Free(cfg.res_key);
    for (int i = 0; i < 3; i++) PyMem_Free(cfg.err_keys[i]);
    memset(&cfg, 0, sizeof cfg);
}

/* configure(fields, duration_units, req_keys, res_key, err_keys, units, aliases,
 *           numeric_levels, error_levels, epoch_ms_above)
 *   fields: 12 tuples of key names in priority order (time, level, method, path, status,
 *           duration, req, res, unit, message, err and component keys); duration_units: the
 *           unit of each duration key; err_keys: what an err object's message is taken from. */
PyObject *json_configure(PyObject *self, PyObject *args, PyObject *kwargs) {
    PyObject *fields, *dunits, *req_keys, *res_key, *err_keys, *units, *aliases, *numeric;
    PyObject *errors;
    double ms_above;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOd", &fields, &dunits, &req_keys, &res_key, &err_keys,
                          &units, &aliases, &numeric, &errors, &ms_above))
        return NULL;
    reset();
    PyObject *f = PySequence_Fast(fields, "fields must be a sequence");
    if (!f) return NULL;
    if (PySequence_Fast_GET_SIZE(f) != NFIELDS) {
        Py_DECREF(f);
        PyErr_SetString(PyExc_ValueError, "fields: 12 key tuples expected");
        return NULL;
    }
    for (int field = 0; field < NFIELDS; field++) {
        PyObject *keys = PySequence_Fast(PySequence_Fast_GET_ITEM(f, field), "keys");
        if (!keys) goto fail_f;
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(keys); i++) {
            if (add_key(PySequence_Fast_GET_ITEM(keys, i), field, (int)i) < 0) {
                Py_DECREF(keys);
                goto fail_f;
            }
        }
        Py_DECREF(keys);
    }
    Py_DECREF(f);
    PyObject *seq;
    if (!(seq = PySequence_Fast(units, "units"))) goto fail;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq) && cfg.nunits < 32; i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(seq, i);
        Unit *u = &cfg.units[cfg.nunits];
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !(u->name = copy_str(PyTuple_GET_ITEM(pair, 0), &u->len))) {
            Py_DECREF(seq);
            goto fail;
        }
        cfg.nunits++;
        u->factor = PyFloat_AsDouble(PyTuple_GET_ITEM(pair, 1));
    }
    Py_DECREF(seq);
    if (!(seq = PySequence_Fast(dunits, "duration units"))) goto fail;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq) && i < MAX_PRIO; i++) {
        size_t n;
        char *name = copy_str(PySequence_Fast_GET_ITEM(seq, i), &n);
        if (!name) {
            Py_DECREF(seq);
            goto fail;
        }
        cfg.duration_factor[i] = 0.0;
        for (int j = 0; j < cfg.nunits; j++)
            if (cfg.units[j].len == n && !memcmp(cfg.units[j].name, name, n))
                cfg.duration_factor[i] = cfg.units[j].factor;
        PyMem_Free(name);
    }
    Py_DECREF(seq);
    if (!(seq = PySequence_Fast(req_keys, "req keys"))) goto fail;
    if (PySequence_Fast_GET_SIZE(seq) != 2 ||
        !(cfg.req_keys[0] = copy_str(PySequence_Fast_GET_ITEM(seq, 0), &cfg.req_lens[0])) ||
        !(cfg.req_keys[1] = copy_str(PySequence_Fast_GET_ITEM(seq, 1), &cfg.req_lens[1]))) {
        Py_DECREF(seq);
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "req keys: (method, url)");
        goto fail;
    }
    Py_DECREF(seq);
    if (!(cfg.res_key = copy_str(res_key, &cfg.res_len))) goto fail;
    if (!(seq = PySequence_Fast(err_keys, "err keys"))) goto fail;
    for (int i = 0; i < 3; i++) {
        if (PySequence_Fast_GET_SIZE(seq) != 3 ||
            !(cfg.err_keys[i] = copy_str(PySequence_Fast_GET_ITEM(seq, i), &cfg.err_lens[i]))) {
            Py_DECREF(seq);
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "err keys: three names");
            goto fail;
        }
    }
    Py_DECREF(seq);
    if (!(seq = PySequence_Fast(aliases, "aliases"))) goto fail;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq) && cfg.naliases < 32; i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(seq, i);
        Alias *a = &cfg.aliases[cfg.naliases];
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !(a->from = copy_str(PyTuple_GET_ITEM(pair, 0), &a->from_len)) ||
            !(a->to = copy_str(PyTuple_GET_ITEM(pair, 1), &a->to_len))) {
            Py_DECREF(seq);
            goto fail;
        }
        cfg.naliases++;
    }
    Py_DECREF(seq);
    if (!(seq = PySequence_Fast(numeric, "numeric levels"))) goto fail;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq) && cfg.nnumeric < 32; i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(seq, i);
        NumericLevel *l = &cfg.numeric[cfg.nnumeric];
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !(l->name = copy_str(PyTuple_GET_ITEM(pair, 1), &l->len))) {
            Py_DECREF(seq);
            goto fail;
        }
        cfg.nnumeric++;
        l->value = PyLong_AsLongLong(PyTuple_GET_ITEM(pair, 0));
    }
    Py_DECREF(seq);
    if (!(seq = PySequence_Fast(errors, "error levels"))) goto fail;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq) && cfg.nerrors < 32; i++) {
        if (!(cfg.errors[cfg.nerrors] = copy_str(PySequence_Fast_GET_ITEM(seq, i), NULL))) {
            Py_DECREF(seq);
            goto fail;
        }
        cfg.nerrors++;
    }
    Py_DECREF(seq);
    if (PyErr_Occurred()) goto fail;
    cfg.epoch_ms_above = ms_above;
    cfg.ready = 1;
    Py_RETURN_NONE;
fail_f:
    Py_DECREF(f);
fail:
    reset();
    return NULL;
}

int json_ready(void) { return cfg.ready; }

/* ---------------------------------------------------------------- validation and skipping */

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline uint64_t has_zero(uint64_t v) { return (v - ONES) & ~v & HIGHS; }

/* any '"', '\\', control or non-ASCII byte among the 8 */
static inline uint64_t special8(uint64_t w) {
    return has_zero(w ^ (ONES * '"')) | has_zero(w ^ (ONES * '\\')) |
           ((w - ONES * 0x20) & ~w & HIGHS) | (w & HIGHS);
}

static inline int is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* p just after an opening quote: the closing quote, or NULL when json.loads would reject the
 * string (raw control character, bad escape, no end). Plain bytes are skipped 16 (SSE2) or
 * 8 (SWAR) at a time; the first byte that is a quote, a backslash, a control character or
 * non-ASCII is then looked at alone. */
static const char *str_end(const char *p, const char *e, uint8_t *flags) {
    for (;;) {
#ifdef __SSE2__
        const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\');
        const __m128i space = _mm_set1_epi8(0x20);
        while (e - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)p);
            /* signed: bytes >= 0x80 are negative, so "< 0x20" also finds non-ASCII */
            __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, slash)),
                                       _mm_cmplt_epi8(v, space));
            int m = _mm_movemask_epi8(hit);
            if (m) {
                p += __builtin_ctz((unsigned)m);
                goto special;
            }
            p += 16;
        }
#endif
        while (e - p >= 8) {
            uint64_t w, m;
            memcpy(&w, p, 8);
            if ((m = special8(w))) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                p += __builtin_ctzll(m) >> 3; /* the lowest flagged byte is a true one */
#endif
                break;
            }
            p += 8;
        }
#ifdef __SSE2__
    special:
#endif
        if (p >= e) return NULL;
        unsigned char c = (unsigned char)*p;
        if (c == '"') return p;
        if (c == '\\') {
            *flags |= X_ESC;
            if (e - p < 2) return NULL;
            char x = p[1];
            if (x == 'u') {
                if (e - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5]))
                    return NULL;
                p += 6;
            } else if (x == '"' || x == '\\' || x == '/' || x == 'b' || x == 'f' || x == 'n' ||
                       x == 'r' || x == 't') {
                p += 2;
            } else {
                return NULL;
            }
            continue;
        }
        if (c < 0x20) return NULL;
        if (c >= 0x80) *flags |= X_NONASCII;
        p++;
    }
}

static inline const char *ws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    return p;
}

/* JSON's number grammar (json.loads's NUMBER_RE); NaN/Infinity are left to json.loads. */
static const char *num_end(const char *p, const char *e, uint8_t *flags) {
    const char *s = p;
    if (p < e && *p == '-') p++;
    if (p >= e) return NULL;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < e && is_digit(*p)) p++;
    } else {
        return NULL;
    }
    if (p < e && *p == '.') {
        const char *d = ++p;
        while (p < e && is_digit(*p)) p++;
        if (p == d) return NULL;
        *flags |= X_FLOAT;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        const char *d = p;
        while (p < e && is_digit(*p)) p++;
        if (p == d) return NULL;
        *flags |= X_FLOAT;
    }
    return p - s > MAX_NUMBER ? NULL : p;
}

static const char *value(const char *p, const char *e, int depth, Val *v);

static const char *skip_object(const char *p, const char *e, int depth, Val *v) {
    p = ws(p + 1, e);
    if (p < e && *p == '}') {
        v->flags |= X_EMPTY;
        return p + 1;
    }
    if (depth >= MAX_DEPTH) return NULL;
    for (;;) {
        uint8_t kf = 0;
        Val tmp;
        if (p >= e || *p != '"' || !(p = str_end(p + 1, e, &kf))) return NULL;
        p = ws(p + 1, e);
        if (p >= e || *p != ':') return NULL;
        if (!(p = value(ws(p + 1, e), e, depth + 1, &tmp))) return NULL;
        p = ws(p, e);
        if (p >= e) return NULL;
        if (*p == '}') return p + 1;
        if (*p != ',') return NULL;
        p = ws(p + 1, e);
    }
}

static const char *skip_array(const char *p, const char *e, int depth, Val *v) {
    p = ws(p + 1, e);
    if (p < e && *p == ']') {
        v->flags |= X_EMPTY;
        return p + 1;
    }
    if (depth >= MAX_DEPTH) return NULL;
    for (;;) {
        Val tmp;
        if (!(p = value(p, e, depth + 1, &tmp))) return NULL;
        p = ws(p, e);
        if (p >= e) return NULL;
        if (*p == ']') return p + 1;
        if (*p != ',') return NULL;
        p = ws(p + 1, e);
    }
}

/* One value at p (no leading space): its kind and extent in *v; the end, or NULL. */
static const char *value(const char *p, const char *e, int depth, Val *v) {
    v->flags = 0;
    v->s = p;
    if (p >= e) return NULL;
    switch (*p) {
    case '"':
        v->kind = V_STR;
        v->s = p + 1;
        if (!(p = str_end(p + 1, e, &v->flags))) return NULL;
        v->e = p;
        return p + 1;
    case '{':
        v->kind = V_OBJ;
        return skip_object(p, e, depth, v);
    case '[':
        v->kind = V_ARR;
        return skip_array(p, e, depth, v);
    case 't':
        v->kind = V_TRUE;
        return e - p >= 4 && !memcmp(p, "true", 4) ? p + 4 : NULL;
    case 'f':
        v->kind = V_FALSE;
        return e - p >= 5 && !memcmp(p, "false", 5) ? p + 5 : NULL;
    case 'n':
        v->kind = V_NULL;
        return e - p >= 4 && !memcmp(p, "null", 4) ? p + 4 : NULL;
    default:
        v->kind = V_NUM;
        if (!(v->e = num_end(p, e, &v->flags))) return NULL;
        return v->e;
    }
}

/* "req" / "res" objects: the keys parse_json reads from them, the rest skipped. */
static const char *sub_object(const char *p, const char *e, Line *L, int field) {
    Val whole = {0};
    p = ws(p + 1, e);
    if (p < e && *p == '}') {
        whole.flags |= X_EMPTY;
        p++;
    } else {
        for (;;) {
            uint8_t kf = 0;
            const char *k = p + 1, *ke;
            if (p >= e || *p != '"' || !(ke = str_end(k, e, &kf))) return NULL;
            if (kf & X_ESC) return NULL;
            size_t n = (size_t)(ke - k);
            Val *slot = NULL;
            int *seen = NULL;
            if (field == F_REQ) {
                for (int i = 0; i < 2; i++)
                    if (cfg.req_lens[i] == n && same(cfg.req_keys[i], k, n)) {
                        slot = &L->req[i];
                        seen = &L->req_seen[i];
                    }
            } else if (cfg.res_len == n && same(cfg.res_key, k, n)) {
                slot = &L->res_status;
                seen = &L->res_seen;
            }
            Val tmp;
            if (seen) {
                if (*seen) return NULL; /* twice: json.loads keeps the last */
                *seen = 1;
            }
            p = ws(ke + 1, e);
            if (p >= e || *p != ':') return NULL;
            if (!(p = value(ws(p + 1, e), e, 2, slot ? slot : &tmp))) return NULL;
            p = ws(p, e);
            if (p >= e) return NULL;
            if (*p == '}') {
                p++;
                break;
            }
            if (*p != ',') return NULL;
            p = ws(p + 1, e);
        }
    }
    if (field == F_REQ) {
        L->req_obj = 1;
        L->req_empty = (whole.flags & X_EMPTY) != 0;
    } else {
        L->res_obj = 1;
    }
    return p;
}

/* An err key's object: the values of its "message", "msg" and "type" noted (an escaped key
 * or one of them twice: L->doubt), the rest skipped as skip_object would. */
static const char *err_object(const char *p, const char *e, Line *L, int prio, Val *v) {
    v->kind = V_OBJ;
    v->flags = 0;
    v->s = p;
    p = ws(p + 1, e);
    if (p < e && *p == '}') {
        v->flags |= X_EMPTY;
        return p + 1;
    }
    for (;;) {
        uint8_t kf = 0;
        const char *k = p + 1, *ke;
        if (p >= e || *p != '"' || !(ke = str_end(k, e, &kf))) return NULL;
        size_t n = (size_t)(ke - k);
        Val tmp, *slot = &tmp;
        if (kf & X_ESC) {
            L->doubt = 1;
        } else {
            for (int i = 0; i < 3; i++)
                if (cfg.err_lens[i] == n && same(cfg.err_keys[i], k, n)) {
                    if (L->err_seen[prio] & (1u << i)) L->doubt = 1;
                    L->err_seen[prio] |= (uint8_t)(1u << i);
                    slot = &L->err_sub[prio][i];
                }
        }
        p = ws(ke + 1, e);
        if (p >= e || *p != ':') return NULL;
        if (!(p = value(ws(p + 1, e), e, 2, slot))) return NULL;
        p = ws(p, e);
        if (p >= e) return NULL;
        if (*p == '}') return p + 1;
        if (*p != ',') return NULL;
        p = ws(p + 1, e);
    }
}

/* The whole line as one JSON object; the values of the keys of interest noted in *L. */
static int read_object(const char *p, const char *e, Line *L) {
    p = ws(p + 1, e);
    if (p < e && *p == '}') {
        p++;
    } else {
        for (;;) {
            uint8_t kf = 0;
            const char *k = p + 1, *ke;
            if (p >= e || *p != '"' || !(ke = str_end(k, e, &kf))) return 0;
            if (kf & X_ESC) return 0; /* "\u0074ime" is "time" */
            p = ws(ke + 1, e);
            if (p >= e || *p != ':') return 0;
            p = ws(p + 1, e);
            const KeyEntry *key = (kf & X_NONASCII) ? NULL : lookup(k, (size_t)(ke - k));
            if (!key) {
                Val tmp;
                p = value(p, e, 1, &tmp);
            } else {
                uint64_t bit = 1ULL << (key->id & 63), *seen = &L->seen[key->id >> 6];
                if (*seen & bit) {
                    if (key->field < F_MSG) return 0;
                    L->doubt = 1; /* a message key twice: only an error line cares */
                }
                *seen |= bit;
                if (key->field == F_UNIT) return 0;
                if (key->field == F_ERR && p < e && *p == '{') {
                    L->present[F_ERR] |= 1u << key->prio;
                    L->err_seen[key->prio] = 0;
                    p = err_object(p, e, L, key->prio, &L->vals[F_ERR][key->prio]);
                } else if ((key->field == F_REQ || key->field == F_RES) && p < e && *p == '{') {
                    p = sub_object(p, e, L, key->field);
                } else if (key->field == F_REQ || key->field == F_RES) {
                    Val tmp;
                    p = value(p, e, 1, &tmp); /* not an object: parse_json ignores it */
                } else {
                    L->present[key->field] |= 1u << key->prio;
                    p = value(p, e, 1, &L->vals[key->field][key->prio]);
                }
            }
            if (!p) return 0;
            p = ws(p, e);
            if (p >= e) return 0;
            if (*p == '}') {
                p++;
                break;
            }
            if (*p != ',') return 0;
            p = ws(p + 1, e);
        }
    }
    return ws(p, e) == e;
}

/* ---------------------------------------------------------------- parse_json's rules */

/* _first(d, KEYS): the first key in priority order whose value is not null */
static const Val *first(const Line *L, int field) {
    uint32_t m = L->present[field];
    while (m) {
        int i = __builtin_ctz(m);
        if (L->vals[field][i].kind != V_NULL) return &L->vals[field][i];
        m &= m - 1;
    }
    return NULL;
}

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* float(token), correctly rounded. Plain decimals of up to 15 digits are an exact integer
 * divided by an exact power of ten: one IEEE division, correctly rounded, the same double
 * strtod gives (Clinger's fast path); anything else goes through PyOS_string_to_double. */
static double to_double(const Val *v) {
    const char *p = v->s;
    int neg = p < v->e && *p == '-', digits = 0, frac = -1;
    uint64_t m = 0;
    if (neg || (p < v->e && *p == '+')) p++;
    for (; p < v->e; p++) {
        if (is_digit(*p)) {
            m = m * 10 + (uint64_t)(*p - '0');
            if (++digits > 15) break;
            if (frac >= 0) frac++;
        } else if (*p == '.' && frac < 0) {
            frac = 0;
        } else {
            break;
        }
    }
    if (p == v->e && digits && digits <= 15) {
        double x = frac > 0 ? (double)m / POW10[frac] : (double)m;
        return neg ? -x : x;
    }
    char buf[MAX_NUMBER + 8];
    size_t n = (size_t)(v->e - v->s);
    memcpy(buf, v->s, n);
    buf[n] = '\0';
    return PyOS_string_to_double(buf, NULL, NULL); /* correctly rounded, as float() */
}

/* An int token as a long long; 0 when it has more digits than that holds exactly. */
static int to_int(const Val *v, long long *out) {
    const char *p = v->s;
    int neg = *p == '-';
    if (neg) p++;
    if (v->e - p > 17) return 0;
    long long x = 0;
    for (; p < v->e; p++) x = x * 10 + (*p - '0');
    *out = neg ? -x : x;
    return 1;
}

static int truthy(const Val *v) {
    switch (v->kind) {
    case V_STR:
        return v->e > v->s;
    case V_NUM:
        if (!(v->flags & X_FLOAT)) {
            for (const char *p = v->s; p < v->e; p++)
                if (*p >= '1' && *p <= '9') return 1;
            return 0;
        }
        return to_double(v) != 0.0;
    case V_TRUE:
        return 1;
    case V_OBJ:
    case V_ARR:
        return !(v->flags & X_EMPTY);
    }
    return 0;
}

/* `_first(d, KEYS) or (req and req.get(key))`, kept only if it is a string: 1 and *out
 * (NULL when not a string), or 0 to give the line up (an escape in the string). */
static int pick(const Line *L, int field, int sub, const Val **out) {
    const Val *v = first(L, field);
    *out = NULL;
    if (v && truthy(v)) {
        if (v->kind == V_STR) *out = v;
    } else if (L->req_obj && !L->req_empty && L->req_seen[sub] && L->req[sub].kind == V_STR) {
        *out = &L->req[sub];
    }
    return !(*out && ((*out)->flags & X_ESC));
}

static int is_error_level(const char *p, size_t n) {
    for (int i = 0; i < cfg.nerrors; i++)
        if (strlen(cfg.errors[i]) == n && !memcmp(cfg.errors[i], p, n)) return 1;
    return 0;
}

static int read_level(const Line *L, JsonRecord *out) {
    const Val *v = first(L, F_LEVEL);
    out->level = NULL;
    out->error = 0;
    if (!v) return 1;
    if (v->kind == V_STR) {
        size_t n = (size_t)(v->e - v->s);
        if ((v->flags & (X_ESC | X_NONASCII)) || n >= sizeof out->level_buf) return 0;
        for (size_t i = 0; i < n; i++) {
            char c = v->s[i];
            out->level_buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        out->level = out->level_buf;
        out->level_len = n;
        for (int i = 0; i < cfg.naliases; i++) {
            Alias *a = &cfg.aliases[i];
            if (a->from_len == n && !memcmp(a->from, out->level_buf, n)) {
                out->level = a->to;
                out->level_len = a->to_len;
                break;
            }
        }
    } else if (v->kind == V_NUM && !(v->flags & X_FLOAT)) {
        long long x;
        if (!to_int(v, &x)) return 0;
        long long r = x % 10;
        if (r < 0) r += 10; /* Python's modulo */
        for (int i = 0; i < cfg.nnumeric; i++)
            if (cfg.numeric[i].value == x - r) {
                out->level = cfg.numeric[i].name;
                out->level_len = cfg.numeric[i].len;
            }
    }
    if (out->level && out->level_len >= sizeof out->level_buf) return 0;
    out->error = out->level && is_error_level(out->level, out->level_len);
    if (out->level && out->level_len == 0) out->level = NULL; /* "" is not counted */
    return 1;
}

static int read_time(const Line *L, JsonRecord *out) {
    const Val *v = first(L, F_TIME);
    out->hour_kind = HOUR_NONE;
    if (!v) return 1;
    if (v->kind == V_STR) {
        if (v->flags & (X_ESC | X_NONASCII)) return 0;
        out->hour_kind = HOUR_TEXT;
        out->ts = v->s;
        out->ts_len = (size_t)(v->e - v->s);
        return 1;
    }
    if (v->kind != V_NUM) return 1; /* true/false/{}/[]: no time */
    double t;
    if (!(v->flags & X_FLOAT)) {
        long long x;
        if (!to_int(v, &x) || x < 0) return 0;
        if ((double)x > cfg.epoch_ms_above) {
            /* float(x) / 1000 is within a few microseconds of x ms: never across an hour */
            if ((double)x / 1000.0 >= EPOCH_LIMIT) return 0;
            out->epoch_hour = x / 3600000;
            out->epoch = (double)x / 1000.0; /* float(value) / 1000 */
        } else {
            out->epoch_hour = x / 3600;
            out->epoch = (double)x;
        }
        out->hour_kind = HOUR_EPOCH;
        return 1;
    }
    t = to_double(v);
    if (!(t >= 0.0)) return 0;
    if (t > cfg.epoch_ms_above) t /= 1000.0;
    if (t >= EPOCH_LIMIT) return 0;
    double whole;
    double frac = modf(t, &whole);
    /* fromtimestamp rounds to microseconds: a value that could round up into the next
       hour goes per line */
    if (frac * 1e6 >= 999999.0 && fmod(whole + 1.0, 3600.0) == 0.0) return 0;
    out->epoch_hour = (long long)whole / 3600;
    out->epoch = t;
    out->hour_kind = HOUR_EPOCH;
    return 1;
}

/* The status as parse_json reads it: out->server_error (>= 500) and out->status; 0 when
 * not certain. */
static int read_status(const Line *L, JsonRecord *out) {
    const Val *v = first(L, F_STATUS);
    out->server_error = 0;
    if (!v && L->res_obj && L->res_seen) v = &L->res_status;
    if (!v) return 1;
    if (v->kind == V_NUM && !(v->flags & X_FLOAT)) {
        if (!to_int(v, &out->status)) return 0;
    } else if (v->kind == V_STR) {
        if (v->flags & (X_ESC | X_NONASCII)) return 0; /* str.isdigit() knows more digits */
        const char *p = v->s;
        if (p == v->e) return 1; /* "".isdigit() is false */
        for (; p < v->e; p++)
            if (!is_digit(*p)) return 1; /* not a number: no status */
        for (p = v->s; p < v->e - 1 && *p == '0';) p++; /* int("0500") is 500 */
        if (v->e - p > 17) return 0;
        out->status = 0;
        for (; p < v->e; p++) out->status = out->status * 10 + (*p - '0');
    } else {
        return 1;
    }
    out->server_error = out->status >= 500;
    return 1;
}

static double unit_factor(const char *p, size_t n) {
    for (int i = 0; i < cfg.nunits; i++)
        if (cfg.units[i].len == n && !memcmp(cfg.units[i].name, p, n)) return cfg.units[i].factor;
    return 0.0;
}

/* parse_duration_ms on a number in a string ("12.3ms", " 2 s", "1e3us"): 1 read, -1 none
 * (the next key is tried), 0 give the line up. */
static int duration_text(const Val *v, double key_factor, JsonRecord *out) {
    const char *p = v->s, *e = v->e;
    if (v->flags & X_ESC) return 0;
    while (p < e && *p == ' ') p++;
    const char *num = p;
    if (p < e && (*p == '+' || *p == '-')) p++;
    const char *d = p;
    while (p < e && is_digit(*p)) p++;
    if (p == d) return (v->flags & X_NONASCII) ? 0 : -1;
    int int_digits = (int)(p - d), frac_digits = 0, expo = 0;
    if (p + 1 < e && *p == '.' && is_digit(p[1])) {
        d = ++p;
        while (p < e && is_digit(*p)) p++;
        frac_digits = (int)(p - d);
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        const char *q = p + 1;
        if (q < e && (*q == '+' || *q == '-')) q++;
        if (q < e && is_digit(*q)) {
            while (q < e && is_digit(*q)) q++;
            p = q;
            expo = 1;
        }
    }
    const char *num_e = p;
    while (p < e && *p == ' ') p++;
    const char *u = p;
    for (;;) { /* [a-zµμ]* */
        if (p < e && *p >= 'a' && *p <= 'z') {
            p++;
        } else if (e - p >= 2 && (unsigned char)p[0] == 0xC2 && (unsigned char)p[1] == 0xB5) {
            p += 2;
        } else if (e - p >= 2 && (unsigned char)p[0] == 0xCE && (unsigned char)p[1] == 0xBC) {
            p += 2;
        } else {
            break;
        }
    }
    const char *u_e = p;
    while (p < e && *p == ' ') p++;
    if (p != e) {
        /* not the regex's shape, certainly so only when there is no non-ASCII (\s, \d) */
        for (const char *q = v->s; q < v->e; q++)
            if ((unsigned char)*q >= 0x80) return 0;
        return -1;
    }
    /* the string's own non-ASCII may only be the unit's µ/μ */
    for (const char *q = v->s; q < u; q++)
        if ((unsigned char)*q >= 0x80) return 0;
    double factor = u_e > u ? unit_factor(u, (size_t)(u_e - u)) : key_factor;
    if (factor == 0.0) return -1;
    if (num_e - num > MAX_NUMBER) return 0;
    Val n = {num, num_e, V_NUM, 0};
    out->ms = to_double(&n) * factor;
    out->exact = factor == 1.0 && !expo && frac_digits <= 6 && int_digits <= 9;
    return 1;
}

/* the loop over _DURATION_KEYS: 1 with out->timed set or not, 0 to give the line up */
static int read_duration(const Line *L, JsonRecord *out) {
    uint32_t m = L->present[F_DURATION];
    out->timed = 0;
    while (m) {
        int i = __builtin_ctz(m);
        m &= m - 1;
        const Val *v = &L->vals[F_DURATION][i];
        double factor = cfg.duration_factor[i];
        int got = -1;
        if (v->kind == V_NUM) {
            if (factor == 0.0) continue;
            if (!(v->flags & X_FLOAT) && v->e - v->s > 17) return 0;
            out->ms = to_double(v) * factor;
            out->exact = factor == 1.0 && !(v->flags & X_FLOAT);
            if (v->flags & X_FLOAT && factor == 1.0) {
                /* d{1,9}(.d{1,6})? keeps its value through round(x, 6) */
                const char *p = v->s + (*v->s == '-'), *dot = memchr(p, '.', (size_t)(v->e - p));
                int expo = memchr(p, 'e', (size_t)(v->e - p)) || memchr(p, 'E', (size_t)(v->e - p));
                out->exact = dot && !expo && dot - p <= 9 && v->e - dot - 1 <= 6;
            }
            got = 1;
        } else if (v->kind == V_STR) {
            got = duration_text(v, factor, out);
            if (got == 0) return 0;
        }
        if (got == 1) {
            if (!isfinite(out->ms) || (out->ms == 0.0 && signbit(out->ms))) return 0;
            out->timed = 1;
            return 1;
        }
    }
    return 1;
}

static void text_of(const Val *v, JsonText *out) {
    *out = (JsonText){v ? v->s : NULL, v ? (size_t)(v->e - v->s) : 0, v && (v->flags & X_ESC)};
}

/* An error line's message parts as parse_json reads them: msg (a string or absent; other
 * values are json.dumps'ed: per line), err (`_first(ERR)`, an object's first truthy
 * message/msg/type, kept when a non-empty string), component (when a string); 0 when not
 * certain. */
static int read_error_text(const Line *L, JsonRecord *out) {
    const Val *v = first(L, F_MSG);
    if (L->doubt || (v && v->kind != V_STR)) return 0;
    text_of(v, &out->msg);
    v = first(L, F_ERR);
    if (v && v->kind == V_OBJ) {
        int prio = (int)(v - L->vals[F_ERR]);
        const Val *chosen = NULL;
        for (int i = 0; i < 3 && !chosen; i++)
            if ((L->err_seen[prio] & (1u << i)) && truthy(&L->err_sub[prio][i]))
                chosen = &L->err_sub[prio][i];
        v = chosen;
    }
    text_of(v && v->kind == V_STR && v->e > v->s ? v : NULL, &out->err);
    v = first(L, F_COMP);
    text_of(v && v->kind == V_STR ? v : NULL, &out->comp);
    return 1;
}

int json_line(const char *p, const char *e, JsonRecord *out) {
    Line L;
    L.seen[0] = L.seen[1] = 0;
    memset(L.present, 0, sizeof L.present);
    L.req_obj = L.res_obj = L.req_empty = L.doubt = 0;
    L.req_seen[0] = L.req_seen[1] = L.res_seen = 0;
    if (!cfg.ready || !read_object(p, e, &L)) return 0;
    if (!read_level(&L, out) || !read_status(&L, out) || !read_time(&L, out)) return 0;
    const Val *method, *path;
    if (!pick(&L, F_METHOD, 0, &method) || !pick(&L, F_PATH, 1, &path)) return 0;
    out->request = method && path;
    out->method = method ? method->s : NULL;
    out->method_len = method ? (size_t)(method->e - method->s) : 0;
    out->path = path ? path->s : NULL;
    out->path_len = path ? (size_t)(path->e - path->s) : 0;
    out->error |= out->server_error;
    if (out->error && !read_error_text(&L, out)) return 0;
    return read_duration(&L, out);
}
