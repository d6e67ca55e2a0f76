/* tool.c - what the test tools share (see tool.h). */
#include "tool.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

long long tool_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The message written when the run's bound passes, made beforehand: the
 * handler may only call async-signal-safe functions. */
static char run_bound_message[128];
static size_t run_bound_length;

static void on_run_bound(int signal_number)
{
    (void)signal_number;
    if (write(STDERR_FILENO, run_bound_message, run_bound_length) < 0)
        _exit(124);
    _exit(124);
}

void tool_run_bound(const char *program, unsigned int seconds)
{
    struct sigaction on_alarm;
    int n = snprintf(run_bound_message, sizeof run_bound_message,
                     "%s: timeout: the whole run did not end within %u s (-T %u): stopped there\n",
                     program, seconds, seconds);

    run_bound_length = n > 0 && (size_t)n < sizeof run_bound_message ? (size_t)n : 0;
    memset(&on_alarm, 0, sizeof on_alarm);
    on_alarm.sa_handler = on_run_bound;
    sigaction(SIGALRM, &on_alarm, NULL);
    alarm(seconds);
}

_Noreturn void tool_die(const char *program, const char *format, ...)
{
    va_list args;

    fflush(stdout);
    fprintf(stderr, "%s: ", program);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    exit(1);
}

const char *tool_shown(const char *bytes, size_t len)
{
    static char text[512];
    size_t i, n = 0;

    /* 100 bytes of 4 characters at most, and the length, fit in text. */
    for (i = 0; i < len && i < 100; i++) {
        unsigned char byte = (unsigned char)bytes[i];
        if (byte >= 0x20 && byte < 0x7f && byte != '\\')
            text[n++] = (char)byte;
        else
            n += (size_t)snprintf(text + n, sizeof text - n, "\\x%02X", byte);
    }
    if (i < len)
        n += (size_t)snprintf(text + n, sizeof text - n, "...(%zu bytes)", len);
    text[n] = '\0';
    return text;
}
