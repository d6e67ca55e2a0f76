/* tool.h - what the test tools (peer, lab03-crowd, lab04-chat, faults-chat,
 * faults-flood) share. */
#ifndef TOOL_H
#define TOOL_H

#include <stddef.h>

/* Milliseconds on a clock that never jumps (CLOCK_MONOTONIC). */
long long tool_now_ms(void);

/* Bounds the whole run: after seconds, prints "PROGRAM: timeout: the whole
 * run did not end within N s (-T N): stopped there" on stderr and exits 124
 * at once, whatever the program is doing (an alarm and its handler,
 * async-signal-safe). */
void tool_run_bound(const char *program, unsigned int seconds);

#if defined(__GNUC__) || defined(__clang__)
#define TOOL_PRINTF_LIKE(fmt, first) __attribute__((format(printf, fmt, first)))
#else
#define TOOL_PRINTF_LIKE(fmt, first)
#endif

/* Prints "PROGRAM: what" (format and its arguments, as printf) and a newline
 * on stderr, stdout flushed first, and exits 1. */
_Noreturn void tool_die(const char *program, const char *format, ...) TOOL_PRINTF_LIKE(2, 3);

/* bytes made printable for a message: printable ASCII as is, any other byte
 * (and the backslash) as \xHH, cut after 100 bytes with "...(N bytes)".
 * The text lives in a static buffer, overwritten by the next call. */
const char *tool_shown(const char *bytes, size_t len);

#endif
