/* oracle.c - the fuzz harnesses' independent answers (see oracle.h).
 * UTF-8 is decoded by a state machine: a table of transitions, one row per
 * (state, byte range) of Unicode Table 3-7, expanded once into a 256-column
 * array. It shares no code and no structure with the lab's utf8.c, which
 * looks up the first byte's row and then loops over the sequence. Lines are
 * split by a plain walk over the whole stream, which knows nothing of
 * buffers or recv().
 */
#include <stdio.h>
#include <string.h>

#include "oracle.h"

/* The decoder's states: what the bytes so far allow next. */
enum state {
    START,      /* between characters */
    TAIL_1,     /* one more byte 80..BF ends the character */
    TAIL_2,     /* two more bytes 80..BF */
    TAIL_3,     /* three more bytes 80..BF */
    AFTER_E0,   /* after E0: A0..BF (80..9F would be overlong), then one */
    AFTER_ED,   /* after ED: 80..9F (A0..BF would be a surrogate), then one */
    AFTER_F0,   /* after F0: 90..BF (80..8F would be overlong), then two */
    AFTER_F4,   /* after F4: 80..8F (90..BF would be above U+10FFFF), then two */
    STATES,
    REJECT = STATES
};

/* How many bytes a state still waits for. A first byte that leads to it
 * holds 6 - that many bits of the code point: 0x3F >> that many. */
static const unsigned char bytes_to_come[STATES] = { 0, 1, 2, 3, 2, 2, 3, 3 };

/* Unicode Table 3-7, as transitions. A byte not listed from a state rejects. */
static const struct transition {
    unsigned char from, low, high, to;
} transitions[] = {
    { START, 0x00, 0x7F, START },       /* U+0000..U+007F */
    { START, 0xC2, 0xDF, TAIL_1 },      /* U+0080..U+07FF */
    { START, 0xE0, 0xE0, AFTER_E0 },    /* U+0800..U+0FFF */
    { START, 0xE1, 0xEC, TAIL_2 },      /* U+1000..U+CFFF */
    { START, 0xED, 0xED, AFTER_ED },    /* U+D000..U+D7FF */
    { START, 0xEE, 0xEF, TAIL_2 },      /* U+E000..U+FFFF */
    { START, 0xF0, 0xF0, AFTER_F0 },    /* U+10000..U+3FFFF */
    { START, 0xF1, 0xF3, TAIL_3 },      /* U+40000..U+FFFFF */
    { START, 0xF4, 0xF4, AFTER_F4 },    /* U+100000..U+10FFFF */
    { TAIL_1, 0x80, 0xBF, START },
    { TAIL_2, 0x80, 0xBF, TAIL_1 },
    { TAIL_3, 0x80, 0xBF, TAIL_2 },
    { AFTER_E0, 0xA0, 0xBF, TAIL_1 },
    { AFTER_ED, 0x80, 0x9F, TAIL_1 },
    { AFTER_F0, 0x90, 0xBF, TAIL_2 },
    { AFTER_F4, 0x80, 0x8F, TAIL_2 },
};

static unsigned char next_state[STATES][256];
static int table_built = 0;

/* Expands the transitions into next_state, once. */
static void build_table(void)
{
    size_t i;
    int byte;

    memset(next_state, REJECT, sizeof next_state);
    for (i = 0; i < sizeof transitions / sizeof transitions[0]; i++)
        for (byte = transitions[i].low; byte <= transitions[i].high; byte++)
            next_state[transitions[i].from][byte] = transitions[i].to;
    table_built = 1;
}

void oracle_utf8_step(const unsigned char *s, size_t len, size_t pos, struct oracle_step *step)
{
    enum state state = START, next;
    uint32_t value = 0;
    size_t i;

    if (!table_built)
        build_table();
    for (i = pos; i < len; i++) {
        next = (enum state)next_state[state][s[i]];
        if (next == REJECT) {
            step->well_formed = 0;
            /* A first byte that starts nothing is a subpart of its own;
             * otherwise the subpart stops before the byte that broke it. */
            step->length = i == pos ? 1 : i - pos;
            step->broken_at = i;
            return;
        }
        if (i == pos)
            value = next == START ? s[i] : s[i] & (0x3Fu >> bytes_to_come[next]);
        else
            value = (value << 6) | (s[i] & 0x3Fu);
        state = next;
        if (state == START) {
            step->well_formed = 1;
            step->length = i - pos + 1;
            step->code_point = value;
            step->broken_at = 0;
            return;
        }
    }
    step->well_formed = 0;          /* the input ended inside the sequence */
    step->length = len - pos;
    step->broken_at = len;
}

void oracle_utf8_check(const unsigned char *s, size_t len, struct oracle_verdict *verdict)
{
    struct oracle_step step;
    size_t pos = 0, chars = 0;

    while (pos < len) {
        oracle_utf8_step(s, len, pos, &step);
        if (!step.well_formed) {
            verdict->valid = 0;
            verdict->error_at = pos;
            verdict->bad = step;
            verdict->chars = 0;
            return;
        }
        pos += step.length;
        chars++;
    }
    verdict->valid = 1;
    verdict->chars = chars;
    verdict->error_at = 0;
}

/* What the bytes after first must be, in words ("80..8F"). */
static const char *second_range(unsigned char first)
{
    switch (first) {
    case 0xE0: return "A0..BF";
    case 0xED: return "80..9F";
    case 0xF0: return "90..BF";
    case 0xF4: return "80..8F";
    default: return "80..BF";
    }
}

/* How many bytes a sequence that first starts has, or 0 if it starts none. */
static size_t sequence_length(unsigned char first)
{
    if (first <= 0x7F)
        return 1;
    if (first >= 0xC2 && first <= 0xDF)
        return 2;
    if (first >= 0xE0 && first <= 0xEF)
        return 3;
    if (first >= 0xF0 && first <= 0xF4)
        return 4;
    return 0;
}

const char *oracle_utf8_why(const unsigned char *s, size_t len, size_t pos, char *why, size_t size)
{
    struct oracle_step step;
    unsigned char first = s[pos], second;

    oracle_utf8_step(s, len, pos, &step);
    if (step.well_formed) {
        snprintf(why, size, "it is a well-formed character, U+%04X", (unsigned)step.code_point);
    } else if (first >= 0x80 && first <= 0xBF) {
        snprintf(why, size, "%02X is a continuation byte (80..BF) with no first byte before it", first);
    } else if (first == 0xC0 || first == 0xC1) {
        snprintf(why, size, "%02X starts only overlong forms: 2 bytes for a character of 1 (U+0000..U+007F)", first);
    } else if (first >= 0xF5 && first <= 0xF7) {
        snprintf(why, size, "%02X would start a code point above U+10FFFF; F5..FF never occur in UTF-8", first);
    } else if (first >= 0xF8) {
        snprintf(why, size, "%02X never occurs in UTF-8 (F5..FF are not UTF-8 bytes)", first);
    } else if (step.broken_at == len) {
        snprintf(why, size, "the bytes end after %zu of the %zu bytes that %02X starts (a truncated sequence)",
                 len - pos, sequence_length(first), first);
    } else if (step.broken_at == pos + 1) {
        second = s[pos + 1];
        if (first == 0xE0 && second >= 0x80 && second <= 0x9F)
            snprintf(why, size, "E0 %02X is an overlong start: 3 bytes for U+0000..U+07FF, which take 1 or 2 (after E0 only A0..BF)", second);
        else if (first == 0xF0 && second >= 0x80 && second <= 0x8F)
            snprintf(why, size, "F0 %02X is an overlong start: 4 bytes for U+0000..U+FFFF, which take 3 at most (after F0 only 90..BF)", second);
        else if (first == 0xED && second >= 0xA0 && second <= 0xBF)
            snprintf(why, size, "ED %02X starts a surrogate (U+D800..U+DFFF), half of a UTF-16 pair, not a character (after ED only 80..9F)", second);
        else if (first == 0xF4 && second >= 0x90 && second <= 0xBF)
            snprintf(why, size, "F4 %02X starts a code point above U+10FFFF, where Unicode ends (after F4 only 80..8F)", second);
        else
            snprintf(why, size, "%02X starts a %zu-byte sequence, and %02X cannot follow it (only %s)",
                     first, sequence_length(first), second, second_range(first));
    } else {
        snprintf(why, size, "%02X starts a %zu-byte sequence, and its byte %zu, %02X, is not a continuation byte (80..BF)",
                 first, sequence_length(first), step.broken_at - pos + 1, s[step.broken_at]);
    }
    return why;
}

size_t oracle_to_latin1(const unsigned char *s, size_t len, unsigned char *out, size_t *origin)
{
    struct oracle_step step;
    size_t pos = 0, written = 0;

    while (pos < len) {
        oracle_utf8_step(s, len, pos, &step);
        if (step.well_formed && step.code_point <= 0xFF)
            out[written] = (unsigned char)step.code_point;
        else
            out[written] = '?';
        if (origin != NULL)
            origin[written] = pos;
        written++;
        pos += step.length;
    }
    return written;
}

size_t oracle_from_latin1(const unsigned char *s, size_t len, unsigned char *out)
{
    size_t i, written = 0;

    /* Latin-1 byte N is U+00NN; below U+0080 one byte, else two:
     * 110000yy 10zzzzzz for the bits yyzzzzzz. */
    for (i = 0; i < len; i++) {
        if (s[i] < 0x80) {
            out[written++] = s[i];
        } else {
            out[written++] = (unsigned char)(0xC0 + s[i] / 64);
            out[written++] = (unsigned char)(0x80 + s[i] % 64);
        }
    }
    return written;
}

size_t oracle_split(const unsigned char *stream, size_t len, struct oracle_event *events, size_t max)
{
    size_t count = 0, line_start = 0, i, length;
    int dropping = 0;

    for (i = 0; i < len; i++) {
        if (dropping) {
            if (stream[i] == '\n') {
                dropping = 0;
                events[count - 1].dropped_to = i + 1;
                line_start = i + 1;
            }
            continue;
        }
        if (stream[i] == '\n') {
            length = i - line_start;
            if (length > 0 && stream[i - 1] == '\r')
                length--;
            if (count == max)
                return count;
            events[count].kind = length > ORACLE_LINE_MAX ? ORACLE_TOO_LONG : ORACLE_LINE;
            events[count].start = line_start;
            events[count].length = length;
            events[count].end = i + 1;
            events[count].complete = 1;
            events[count].dropped_to = i + 1;
            count++;
            line_start = i + 1;
        } else if (i + 1 - line_start == ORACLE_UNDECIDED_MAX) {
            /* That many bytes and no "\n": too long whatever comes next. */
            if (count == max)
                return count;
            events[count].kind = ORACLE_TOO_LONG;
            events[count].start = line_start;
            events[count].length = ORACLE_UNDECIDED_MAX;
            events[count].end = i + 1;
            events[count].complete = 0;
            events[count].dropped_to = len;
            count++;
            dropping = 1;
        }
    }
    return count;
}
