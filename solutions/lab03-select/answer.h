/* answer.h - lab02's answer to one line, written once (see answer.c). */
#ifndef ANSWER_H
#define ANSWER_H

#include <stddef.h>

#include "linebuf.h"

/* Room for the longest answer, "OK <B> bytes <C> chars\n", and its NUL. */
#define ANSWER_SIZE 64

/* What the line was, as far as the server is concerned. */
enum answer_kind {
    ANSWER_ERROR,               /* over-long or not UTF-8: answered "ERR ..." */
    ANSWER_OK,                  /* a valid line: answered "OK <B> bytes <C> chars" */
    ANSWER_BYE                  /* "fin" in any letter case: answered "bye" */
};

/* Writes into answer lab02's answer to a line that linebuf_next() handed
 * out (result LINEBUF_LINE or LINEBUF_TOO_LONG, line, len), as a NUL-
 * terminated string that ends with "\n": "ERR line too long", "ERR invalid
 * UTF-8 at byte I", "bye", or "OK <B> bytes <C> chars" (B the length in
 * bytes, C in characters). Returns what the line was. */
enum answer_kind answer_line(enum linebuf_result result, const char *line, size_t len,
                             char answer[ANSWER_SIZE]);

#endif
