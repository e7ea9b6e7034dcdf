/* A JSON error line's arguments to LineParser.error, built as LineParser.line builds them
 * from parse_json's record (_jsonline.c reads the line and its message parts; fastpath's
 * _per_line makes the call):
 *
 *   - message: msg, plus ": " + err when err is a non-empty string (then err alone when msg
 *     is empty); JSON escapes decoded (\uXXXX surrogates are left to the per-line parser);
 *   - for a 5xx whose message holds no ": ", the request it names: (method or "", path or
 *     "", status), which Python appends as " {method} {template_path(path)} HTTP {status}";
 *   - epoch: TimeReader.epoch of the time. Computed here for an epoch number (parse_json's
 *     float) and for the "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" form (utc_epoch, as for plain
 *     errors); any other time string is returned as is for TimeReader.epoch in Python;
 *   - component when a string, else ""; level, or "error" when there is none.
 */
#include "_linescan.h"

static int hex_value(const char *p) {
    int x = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        x = x * 16 + (is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return x;
}

static Py_ssize_t json_unescape(const char *s, size_t n, char *out) {
    const char *e = s + n;
    char *o = out;
    while (s < e) {
        const char *b = memchr(s, '\\', (size_t)(e - s));
        size_t plain = (size_t)((b ? b : e) - s);
        memcpy(o, s, plain);
        o += plain;
        if (!b) break;
        char x = b[1];
        s = b + 2;
        switch (x) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            int c = hex_value(s); /* str_end checked the four hex digits */
            s += 4;
            if (c >= 0xD800 && c <= 0xDFFF) return -1; /* surrogates: json.loads's business */
            if (c < 0x80) {
                *o++ = (char)c;
            } else if (c < 0x800) { /* "\u00e9" is 6 bytes, its UTF-8 at most 3 */
                *o++ = (char)(0xC0 | (c >> 6));
                *o++ = (char)(0x80 | (c & 0x3F));
            } else {
                *o++ = (char)(0xE0 | (c >> 12));
                *o++ = (char)(0x80 | ((c >> 6) & 0x3F));
                *o++ = (char)(0x80 | (c & 0x3F));
            }
            break;
        }
        default: *o++ = x; /* '"', '\\', '/' */
        }
    }
    return o - out;
}

static int has_colon_space(const char *p, size_t n) {
    for (size_t i = 0; i + 1 < n; i++)
        if (p[i] == ':' && p[i + 1] == ' ') return 1;
    return 0;
}

/* Decode t (a string or absent) into *o: its length, or -1 (left to json.loads). */
static Py_ssize_t decode(const JsonText *t, char *o) {
    if (!t->s) return 0;
    if (!t->esc) {
        memcpy(o, t->s, t->n);
        return (Py_ssize_t)t->n;
    }
    return json_unescape(t->s, t->n, o);
}

PyObject *json_error_row(const JsonRecord *j, Py_ssize_t start, Py_ssize_t end, char **buf,
                         size_t *cap) {
    size_t need = j->msg.n + 2 + j->err.n + j->comp.n + 1;
    if (need > *cap) {
        char *b = PyMem_Realloc(*buf, need * 2);
        if (!b) return PyErr_NoMemory();
        *buf = b;
        *cap = need * 2;
    }
    char *msg = *buf;
    Py_ssize_t n = decode(&j->msg, msg), m;
    if (n < 0) return NULL;
    if (j->err.s) {
        if (n) {
            msg[n++] = ':';
            msg[n++] = ' ';
        }
        if ((m = decode(&j->err, msg + n)) < 0) return NULL;
        n += m;
    }
    char *comp = msg + n;
    Py_ssize_t comp_len = decode(&j->comp, comp);
    if (comp_len < 0) return NULL;

    PyObject *epoch, *http, *row;
    double t;
    if (j->hour_kind == HOUR_EPOCH) {
        epoch = PyFloat_FromDouble(j->epoch);
    } else if (j->hour_kind == HOUR_TEXT) {
        int form = utc_epoch(j->ts, j->ts + j->ts_len, &t);
        epoch = form && (size_t)form == j->ts_len
                    ? PyFloat_FromDouble(t)
                    : PyUnicode_FromStringAndSize(j->ts, (Py_ssize_t)j->ts_len);
    } else {
        epoch = Py_NewRef(Py_None);
    }
    if (j->server_error && !has_colon_space(msg, (size_t)n)) {
        http = Py_BuildValue("(s#s#L)", j->method ? j->method : "", (Py_ssize_t)j->method_len,
                             j->path ? j->path : "", (Py_ssize_t)j->path_len, j->status);
    } else {
        http = Py_NewRef(Py_None);
    }
    if (!epoch || !http) {
        row = NULL;
    } else if (j->level) {
        row = Py_BuildValue("(s#nns#s#OO)", j->level, (Py_ssize_t)j->level_len, start, end,
                            comp, comp_len, msg, n, epoch, http);
    } else {
        row = Py_BuildValue("(snns#s#OO)", "error", start, end, comp, comp_len, msg, n, epoch,
                            http);
    }
    Py_XDECREF(epoch);
    Py_XDECREF(http);
    return row;
}
