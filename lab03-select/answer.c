/* answer.c - lab02's answer to one line: its length in bytes and in
 * characters once it is checked as strict UTF-8 (utf8.c), "bye" to "fin",
 * or why it is refused. Written once, so that a server shows only how it
 * serves its clients. Leaves out: reading the line (linebuf.c), sending the
 * answer, and what "fin" ends (the server's business).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "answer.h"
#include "utf8.h"

/* Returns 1 if the line is "fin" in any letter case. */
static int is_fin(const char *line, size_t len)
{
    return len == strlen("fin") && strncasecmp(line, "fin", len) == 0;
}

enum answer_kind answer_line(enum linebuf_result result, const char *line, size_t len,
                             char answer[ANSWER_SIZE])
{
    size_t chars, error_at;

    if (result == LINEBUF_TOO_LONG) {
        snprintf(answer, ANSWER_SIZE, "ERR line too long\n");
        return ANSWER_ERROR;
    }
    if (!utf8_check(line, len, &chars, &error_at)) {
        snprintf(answer, ANSWER_SIZE, "ERR invalid UTF-8 at byte %zu\n", error_at);
        return ANSWER_ERROR;
    }
    if (is_fin(line, len)) {
        snprintf(answer, ANSWER_SIZE, "bye\n");
        return ANSWER_BYE;
    }
    snprintf(answer, ANSWER_SIZE, "OK %zu bytes %zu chars\n", len, chars);
    return ANSWER_OK;
}
