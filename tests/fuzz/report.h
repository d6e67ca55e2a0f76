/* report.h - how the fuzz harnesses word a finding (see report.c). */
#ifndef REPORT_H
#define REPORT_H

#include <stddef.h>

/* "s" after a count other than 1: "%zu byte%s", n, PLURAL(n). */
#define PLURAL(n) ((n) == 1 ? "" : "s")

/* The lines around a finding on standard error, which tests/tools/fuzz
 * looks for. */
#define REPORT_BEGIN "==== fuzz finding ===="
#define REPORT_END "==== end of finding ===="

/* The line of a finding that names the check that failed ("check:
 * utf8_check"), for tests/tools/fuzz: it shrinks the input keeping that
 * check failing (FUZZ_FOCUS) and does not show the line. */
#define REPORT_CHECK "check: "

/* Starts a finding of the check named (one word; see REPORT_CHECK). */
void report_check(const char *check);

/* Whether the check named is to be made: FUZZ_FOCUS unset or naming it. */
int report_focus(const char *check);

/* Adds one line to the finding being written (printf-style). The first line
 * after report_check() is its summary: "your utf8_check accepts ...". */
void report_line(const char *format, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Prints the finding between REPORT_BEGIN and REPORT_END on standard error
 * and aborts, so that libFuzzer keeps the input. */
void report_abort(void);

/* Writes into out (size bytes, NUL-terminated) bytes as two-digit hex, "F4 90
 * 80 80": all of them when there are few, else about 16 around byte at, with
 * "..." where some are left out. Returns out. */
const char *report_hex(const unsigned char *bytes, size_t len, size_t at, char *out, size_t size);

/* Writes into out bytes as C-like quoted text, a long run of one byte as
 * 'a' x 65537: "dos\r\n" + 'a' x 65537 + "\nok\n". Cut with "..." and the
 * total length past about size - 40 characters. Returns out. */
const char *report_quote(const unsigned char *bytes, size_t len, char *out, size_t size);

#endif
