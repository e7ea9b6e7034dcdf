/* fingerprint.uniform for ASCII messages, compiled (see rota/logscan/fingerprint.py). */
#include "_linescan.h"
#include <string.h>

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
    int letter = 0;
    while (j < n && u_hex(m[j])) letter |= !is_digit((char)m[j++]);
    if (j - i < 8 || !letter || (j < n && u_word(m[j]))) return 0; /* (?=[0-9]*[a-fA-F]) */
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

PyObject *uniform(PyObject *self, PyObject *arg) {
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
