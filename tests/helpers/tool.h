/* tool.h - what the test tools (peer, lab03-crowd, lab04-chat) share. */
#ifndef TOOL_H
#define TOOL_H

/* Milliseconds on a clock that never jumps (CLOCK_MONOTONIC). */
long long tool_now_ms(void);

/* Bounds the whole run: after seconds, prints "PROGRAM: timeout: the whole
 * run did not end within N s (-T N): stopped there" on stderr and exits 124
 * at once, whatever the program is doing (an alarm and its handler,
 * async-signal-safe). */
void tool_run_bound(const char *program, unsigned int seconds);

#endif
