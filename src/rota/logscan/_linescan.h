/* Shared between _linescan.c (the chunk walker, plain lines, tallies) and _jsonline.c (the
 * JSON line reader): what one JSON line contributes to the report, when it is certain. */
#ifndef ROTA_LINESCAN_H
#define ROTA_LINESCAN_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum { HOUR_NONE = 0, HOUR_TEXT = 1, HOUR_EPOCH = 2 };

typedef struct {
    const char *s; /* NULL: absent */
    size_t n;
    int esc;
} JsonText;

typedef struct {
    int hour_kind;      /* HOUR_NONE: no usable time ("unknown" row); HOUR_TEXT: ts below;
                           HOUR_EPOCH: epoch_hour */
    const char *ts;     /* the time string (ASCII, no escapes) */
    size_t ts_len;
    long long epoch_hour; /* whole hours since 1970 (UTC) */
    const char *level;  /* canonical level (lower case, alias folded) or NULL */
    size_t level_len;
    char level_buf[32];
    int request;        /* method and path are both strings */
    const char *method, *path; /* each NULL when not a string */
    size_t method_len, path_len;
    int timed;          /* a duration was read: ms, and whether it is already what round(ms, 6)
                           gives (else Python rounds it) */
    double ms;
    int exact;
    double epoch;       /* HOUR_EPOCH: the epoch seconds parse_json gives */
    /* an error line: an error level or a 5xx status (server_error, status) */
    int error, server_error;
    long long status;
    /* error lines only: the strings parse_json builds the message and component from, each
       NULL when absent (or not a string), esc when it holds an escape */
    JsonText msg, err, comp;
} JsonRecord;

/* 1: the line (p..e, starting with '{') was read and *out holds what parse_json would give;
 * 0: the line goes to the per-line parser. */
int json_line(const char *p, const char *e, JsonRecord *out);
/* (level, start, end, component, message, epoch, http) for an error line json_line() read
 * (_errline.c): a new reference; NULL with no exception set when the line must go to the
 * per-line parser (an escape json.loads decodes otherwise). buf/cap: a scratch buffer. */
PyObject *json_error_row(const JsonRecord *j, Py_ssize_t start, Py_ssize_t end, char **buf,
                         size_t *cap);
/* TimeReader.epoch of "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" at t (a valid date, exactly as a
 * double): the form's length and *out, or 0 (_linescan.c). */
int utc_epoch(const char *t, const char *e, double *out);
int json_ready(void);
PyObject *json_configure(PyObject *self, PyObject *args, PyObject *kwargs);
/* fingerprint.uniform for an ASCII message (_uniform.c) */
PyObject *uniform(PyObject *self, PyObject *arg);

static inline int is_digit(char c) { return c >= '0' && c <= '9'; }

/* memcmp(a, b, n) == 0 for the short keys here, inlined (a libc call costs more) */
static inline int same(const char *a, const char *b, size_t n) {
    uint64_t x, y;
    while (n >= 8) {
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y) return 0;
        a += 8;
        b += 8;
        n -= 8;
    }
    while (n--)
        if (*a++ != *b++) return 0;
    return 1;
}

/* A fast hash of a short byte string, 8 bytes at a time (keys here are 5..60 bytes). */
static inline uint64_t hash_bytes(const char *p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n, w;
    while (n >= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}

#endif
