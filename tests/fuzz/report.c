/* report.c - a finding in words, for a student: what the lab's code did,
 * what it should have done and why, the bytes in hex or quoted. Printed once,
 * then the harness aborts (libFuzzer saves the input; tests/tools/fuzz finds
 * the lines between the markers).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* The finding's lines so far. */
static char report[16384];
static size_t report_len = 0;

void report_check(const char *check)
{
    report_len = 0;
    report_line("%s%s", REPORT_CHECK, check);
}

int report_focus(const char *check)
{
    static const char *focus = NULL;
    static int read = 0;

    if (!read) {
        focus = getenv("FUZZ_FOCUS");
        if (focus != NULL && focus[0] == '\0')
            focus = NULL;
        read = 1;
    }
    return focus == NULL || strcmp(focus, check) == 0;
}

void report_line(const char *format, ...)
{
    va_list args;
    int written;

    if (report_len + 2 >= sizeof report)
        return;
    va_start(args, format);
    written = vsnprintf(report + report_len, sizeof report - report_len - 1, format, args);
    va_end(args);
    if (written < 0)
        return;
    report_len += (size_t)written;
    if (report_len > sizeof report - 2)
        report_len = sizeof report - 2;
    report[report_len++] = '\n';
    report[report_len] = '\0';
}

void report_abort(void)
{
    fprintf(stderr, "%s\n%s%s\n", REPORT_BEGIN, report, REPORT_END);
    fflush(stderr);
    abort();
}

/* Appends text to out[*used..size), keeping room for the NUL. Returns 0 once
 * it no longer fits. */
static int append(char *out, size_t size, size_t *used, const char *text)
{
    size_t len = strlen(text);

    if (*used + len + 1 > size)
        return 0;
    memcpy(out + *used, text, len + 1);
    *used += len;
    return 1;
}

const char *report_hex(const unsigned char *bytes, size_t len, size_t at, char *out, size_t size)
{
    size_t from = 0, to = len, i, used = 0;
    char piece[8];

    out[0] = '\0';
    if (len == 0) {
        append(out, size, &used, "(no bytes)");
        return out;
    }
    if (len > 24) {                 /* show 16 bytes around at */
        from = at > 6 ? at - 6 : 0;
        to = from + 16 < len ? from + 16 : len;
    }
    if (from > 0)
        append(out, size, &used, "... ");
    for (i = from; i < to; i++) {
        snprintf(piece, sizeof piece, i + 1 < to ? "%02X " : "%02X", bytes[i]);
        if (!append(out, size, &used, piece))
            return out;
    }
    if (to < len)
        append(out, size, &used, " ...");
    return out;
}

/* The byte as it is written inside quotes: a letter, \n, \x1B... */
static void quote_byte(unsigned char byte, char *piece, size_t size)
{
    switch (byte) {
    case '\n': snprintf(piece, size, "\\n"); break;
    case '\r': snprintf(piece, size, "\\r"); break;
    case '\t': snprintf(piece, size, "\\t"); break;
    case '\0': snprintf(piece, size, "\\0"); break;
    case '"': snprintf(piece, size, "\\\""); break;
    case '\\': snprintf(piece, size, "\\\\"); break;
    default:
        if (byte >= 0x20 && byte < 0x7F)
            snprintf(piece, size, "%c", byte);
        else
            snprintf(piece, size, "\\x%02X", byte);
    }
}

const char *report_quote(const unsigned char *bytes, size_t len, char *out, size_t size)
{
    size_t i = 0, run, used = 0;
    int quoted = 0, first = 1;
    char piece[48], byte[8];

    out[0] = '\0';
    if (len == 0) {
        append(out, size, &used, "\"\"");
        return out;
    }
    while (i < len) {
        for (run = 1; i + run < len && bytes[i + run] == bytes[i]; run++)
            ;
        if (used + 60 > size) {     /* room for the end */
            snprintf(piece, sizeof piece, "%s... (%zu bytes in all)", quoted ? "\" + " : " + ", len);
            append(out, size, &used, piece);
            return out;
        }
        quote_byte(bytes[i], byte, sizeof byte);
        if (run >= 8) {             /* a run: 'a' x 65537 */
            snprintf(piece, sizeof piece, "%s'%s' x %zu", quoted ? "\" + " : first ? "" : " + ",
                     strcmp(byte, "'") == 0 ? "\\'" : strcmp(byte, "\\\"") == 0 ? "\"" : byte, run);
            append(out, size, &used, piece);
            quoted = 0;
            i += run;
        } else {
            if (!quoted)
                append(out, size, &used, first ? "\"" : " + \"");
            append(out, size, &used, byte);
            quoted = 1;
            i++;
        }
        first = 0;
    }
    if (quoted)
        append(out, size, &used, "\"");
    return out;
}
