/*
 * faults-chat - clients that misbehave around a chat, for tests/faults.bats
 * =========================================================================
 *
 * Plays many clients of a lab03 server (answers) or a lab04 relay (chat)
 * at once, in one poll() loop, and checks every line they get.  Two modes:
 *
 *   faults-chat [-t SECONDS] [-T SECONDS] HOST PORT chat LAB [OPTION VALUE...]
 *       Chatters connect one after the other (each once the one before is
 *       in: its welcome, with lab04), then talk while others disturb the
 *       server: connect-and-reset loops, clients that join and leave at
 *       random.  Each chatter's lines are paced by the disturbance (line i
 *       of L goes once i/L of it is done), so the chat lasts as long as the
 *       disturbance does.  Every chatter must then have: with LAB 3, every
 *       answer to its lines, in order ("OK <n> bytes <n> chars"); with LAB
 *       4, every line of every other chatter, whole, in order, once each.
 *       Then each says fin and must get bye, then end of file.
 *       OPTIONS (each a word and a number):
 *         chatters N   the chatters (default 8; 1 to 64)
 *         lines N      lines each chatter sends (default 200)
 *         resets N     connect-and-reset loops: connect, then close with
 *                      SO_LINGER 0 (a reset); every other one first sends
 *                      half a line (default 0)
 *         parallel N   reset loops at once (default 4)
 *         churn N      clients that join and leave at random (default 0):
 *                      each sends 0 to 2 lines, a few ms apart, then
 *                      leaves by fin (it must get bye, then end of file),
 *                      by end of input (shutdown: its answers, then end of
 *                      file), by a reset, or by a plain close; all read
 *                      what comes while they are there
 *         at-once N    churners connected at once, at most (default 10)
 *         seed N       the random choices' seed (default 1)
 *       Prints one summary line: "chat: ...".
 *
 *   faults-chat [-t SECONDS] [-T SECONDS] HOST PORT crowd LAB [WAIT_MS]
 *       Connections driven one command at a time, read from standard input
 *       (one a line, so that a test drives it through a FIFO), each
 *       answered by one line "ok ..." on stdout.  Connections are numbered
 *       from 1 in the order they were opened; while a command runs, every
 *       open connection is read (news, answers).
 *         open N      opens N connections, one after the other, then sees
 *                     what became of each: served (LAB 3: its "hello K"
 *                     answered "OK ..."; LAB 4: "welcome client-K"),
 *                     refused ("ERR server full", then end of file),
 *                     closed (end of file or a reset, and nothing else),
 *                     or, given WAIT_MS, waiting (none of those within
 *                     WAIT_MS ms: left open, it may be served later).
 *                     "ok open N: S served, R refused, C closed, W
 *                     waiting: served LIST refused LIST closed LIST
 *                     waiting LIST" (LIST: ranges such as "1-25 27", or
 *                     "none").  Refused and closed ones are closed.
 *         knock N MS  the same for N connections, one every MS ms, each
 *                     seen to its verdict before the next.
 *         ping        every served connection still open says
 *                     "ping K": LAB 3, each gets its answer; LAB 4, each
 *                     other one hears it.  "ok ping: S connections".
 *         leave A B   closes the served connections A to B still open.
 *                     "ok leave A B: N closed".
 *         served N    waits until N served connections are open (those
 *                     waiting may be served meanwhile).  "ok served N: M".
 *   A served connection that the server closes, a line that has no place
 *   in the conversation, or nothing moving for the bound is a failure.
 *
 *   -t SECONDS (default 5, decimals allowed): the bound of each wait; the
 *       program fails when nothing moved on any connection for that long,
 *       saying what it waited for ("faults-chat: timeout: ...").
 *   -T SECONDS (whole seconds): bounds the whole run (exit status 124).
 *   Exit status: 0 as expected; 1 something went wrong (on stderr);
 *   2 bad usage; 124 the whole run's bound passed.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "tool.h"

#define PROGRAM "faults-chat"
#define READ_SIZE (64 * 1024)       /* bytes per recv() */
#define LINE_LIMIT (256 * 1024)     /* a line longer than this is a failure */
#define MAX_CHATTERS 64
#define MAX_OPEN 4096               /* connections open at once, at most */
#define LAB03_WINDOW 32             /* lab03 chatter: lines sent ahead of their answers */
#define TICK_MS 20                  /* poll() wakes at least this often */

enum kind { CHATTER, RESETTER, CHURNER, CROWD };
enum state {
    CONNECTING,                     /* connect() in progress */
    JOINING,                        /* connected, its first line awaited */
    TALKING,                        /* in the conversation */
    LEAVING,                        /* fin sent: bye awaited, then end of file */
    DRAINING,                       /* end of file awaited (after shutdown, or a refusal) */
    DONE                            /* closed */
};
enum way { BY_FIN, BY_EOF, BY_RESET, BY_CLOSE };
enum verdict { UNKNOWN, SERVED, REFUSED, CLOSED_BARE, WAITING };

struct conn {
    int fd;
    enum kind kind;
    enum state state;
    unsigned id;                    /* chatter index, churner or crowd number */
    unsigned long number;           /* lab04's client-K (from its welcome) */
    char *in;                       /* received, not yet a whole line */
    size_t in_len, in_cap;
    char *out;                      /* to send: out[out_sent..out_len) */
    size_t out_len, out_cap, out_sent;
    int got_bye;
    /* chatter */
    unsigned sent_lines;            /* lines queued */
    unsigned answered;              /* lab03: answers checked */
    unsigned next_seq[MAX_CHATTERS]; /* lab04: next line expected from each chatter */
    unsigned long heard;            /* lab04: chatters' lines heard */
    /* churner */
    enum way way;
    unsigned lines_left, churn_sent, churn_answered;
    long long next_at;              /* when its next step is due */
    /* crowd */
    enum verdict verdict;
    long long opened_at;
    unsigned pings_heard, pings_answered;
};

/* Everything the loop shares. */
static struct {
    int lab;                        /* 3 or 4 */
    struct sockaddr_storage address;
    socklen_t address_len;
    long long bound_ms;             /* -t */
    long long last_move;            /* when something last moved */
    struct conn *open[MAX_OPEN];
    size_t open_count;
    struct pollfd polled[MAX_OPEN];
    /* chat */
    struct conn *chatters[MAX_CHATTERS];
    unsigned chatter_count, lines;
    unsigned long resets, resets_started, resets_done, parallel, resetting;
    unsigned long churn, churn_started, churn_done, at_once, churning;
    unsigned long churn_ways[4];
    unsigned long long seed;
    /* crowd */
    struct conn **crowd;
    size_t crowd_count, crowd_cap;
    long long wait_ms;              /* 0, or no verdict after this is "waiting" */
} g = { .lab = 4, .bound_ms = 5000, .chatter_count = 8, .lines = 200, .parallel = 4,
        .at_once = 10, .seed = 1 };

/* die("what", ...): prints "PROGRAM: what" on stderr and exits 1. */
#define die(...) tool_die(PROGRAM, __VA_ARGS__)

static void *checked_realloc(void *old, size_t size)
{
    void *grown = realloc(old, size);

    if (grown == NULL)
        die("out of memory");
    return grown;
}

/* A random number below n (xorshift64*: the same seed, the same run). */
static unsigned long random_below(unsigned long n)
{
    g.seed ^= g.seed >> 12;
    g.seed ^= g.seed << 25;
    g.seed ^= g.seed >> 27;
    return (unsigned long)((g.seed * 2685821657736338717ULL) >> 33) % n;
}

/* Who a connection is, for messages. */
static const char *describe(const struct conn *c)
{
    static char text[96];
    static const char *kinds[] = { "chatter", "reset loop", "churner", "connection" };

    if (c->number > 0)
        snprintf(text, sizeof text, "%s %u (client-%lu)", kinds[c->kind], c->id, c->number);
    else
        snprintf(text, sizeof text, "%s %u", kinds[c->kind], c->id);
    return text;
}

/* ---- connections ------------------------------------------------------ */

/* Opens a non-blocking connection of the given kind; it is CONNECTING. */
static struct conn *conn_open(enum kind kind, unsigned id)
{
    struct conn *c;
    int fd;

    if (g.open_count == MAX_OPEN)
        die("more than %d connections open at once", MAX_OPEN);
    fd = socket(g.address.ss_family, SOCK_STREAM, 0);
    if (fd == -1)
        die("socket: %s", strerror(errno));
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
        die("fcntl: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&g.address, g.address_len) == -1 && errno != EINPROGRESS)
        die("connect (%s %u): %s", kind == RESETTER ? "reset loop" : "connection", id, strerror(errno));
    c = calloc(1, sizeof *c);
    if (c == NULL)
        die("out of memory");
    c->fd = fd;
    c->kind = kind;
    c->id = id;
    c->state = CONNECTING;
    g.open[g.open_count++] = c;
    return c;
}

/* Closes c's socket (with a reset if abortive) and takes it out of the
 * loop; c itself stays (chatters and the crowd keep theirs). */
static void conn_close(struct conn *c, int abortive)
{
    struct linger reset = { 1, 0 };
    size_t i;

    if (c->state == DONE)
        return;
    if (abortive && setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset) == -1)
        die("setsockopt SO_LINGER: %s", strerror(errno));
    close(c->fd);
    c->fd = -1;
    c->state = DONE;
    for (i = 0; i < g.open_count; i++) {
        if (g.open[i] == c) {
            g.open[i] = g.open[--g.open_count];
            break;
        }
    }
}

/* Queues len bytes to send on c; sent as the socket takes them. */
static void conn_send(struct conn *c, const char *bytes, size_t len)
{
    if (c->out_sent == c->out_len)
        c->out_sent = c->out_len = 0;
    if (c->out_len + len > c->out_cap) {
        c->out_cap = 2 * (c->out_len + len);
        c->out = checked_realloc(c->out, c->out_cap);
    }
    memcpy(c->out + c->out_len, bytes, len);
    c->out_len += len;
}

static void conn_send_text(struct conn *c, const char *text)
{
    conn_send(c, text, strlen(text));
}

/* ---- what each kind does ---------------------------------------------- */

static size_t chat_line(unsigned chatter, unsigned n, char *text, size_t size);

/* Parses "client-K" at text (len bytes); returns K, or 0 if it is not one. */
static unsigned long parse_client(const char *text, size_t len, size_t *used)
{
    unsigned long k = 0;
    size_t i = strlen("client-");

    if (len < i + 1 || memcmp(text, "client-", i) != 0)
        return 0;
    for (; i < len && text[i] >= '0' && text[i] <= '9'; i++)
        k = k * 10 + (unsigned long)(text[i] - '0');
    *used = i;
    return k;
}

/* Returns 1 if line is "* client-K joined" or "* client-K left". */
static int is_news(const char *line, size_t len)
{
    size_t used;

    if (len < 2 || memcmp(line, "* ", 2) != 0 || parse_client(line + 2, len - 2, &used) == 0)
        return 0;
    line += 2 + used;
    len -= 2 + used;
    return (len == 7 && memcmp(line, " joined", 7) == 0) || (len == 5 && memcmp(line, " left", 5) == 0);
}

/* Returns 1 if line is lab03's answer to a line of n ASCII bytes. */
static int is_ok_answer(const char *line, size_t len, size_t n)
{
    char expected[64];
    int expected_len = snprintf(expected, sizeof expected, "OK %zu bytes %zu chars", n, n);

    return (size_t)expected_len == len && memcmp(line, expected, len) == 0;
}

/* Returns 1 if line is lab03's answer "OK <n> bytes <n> chars" for any n. */
static int is_any_ok(const char *line, size_t len)
{
    unsigned long bytes, chars;
    char tail[8];
    char copy[64];

    if (len >= sizeof copy)
        return 0;
    memcpy(copy, line, len);
    copy[len] = '\0';
    return sscanf(copy, "OK %lu bytes %lu chars%7s", &bytes, &chars, tail) == 2;
}

/* A lab04 relayed line heard by a chatter: from another chatter, checked
 * against what that one sent; from anyone else, only its form. */
static void chatter_hears(struct conn *c, unsigned long from, const char *text, size_t len)
{
    char expected[256];
    size_t expected_len;
    unsigned j;

    for (j = 0; j < g.chatter_count; j++)
        if (g.chatters[j]->number == from)
            break;
    if (j == g.chatter_count)
        return; /* a churner's line, or a crowd's ping */
    if (j == c->id)
        die("%s heard its own line back: \"%s\"", describe(c), tool_shown(text, len));
    if (c->next_seq[j] >= g.lines)
        die("%s heard more than %u lines from chatter %u: \"%s\"", describe(c), g.lines, j, tool_shown(text, len));
    expected_len = chat_line(j, c->next_seq[j], expected, sizeof expected);
    if (len != expected_len || memcmp(text, expected, len) != 0) {
        char want[300];
        snprintf(want, sizeof want, "%s", tool_shown(expected, expected_len));
        die("%s: line %u from chatter %u (client-%lu) is wrong (lost, cut, spliced or out of order)\n"
            "  expected: \"%s\"\n  got:      \"%s\"", describe(c), c->next_seq[j], j, from, want, tool_shown(text, len));
    }
    c->next_seq[j]++;
    c->heard++;
}

/* The first line of a connection that was refused or served; sets its
 * verdict. Returns 1 if it was a first line of this kind, else 0. */
static int first_line(struct conn *c, const char *line, size_t len)
{
    size_t used;

    if (c->state != JOINING)
        return 0;
    /* (A connection "waiting" may be refused or served later.) */
    if (len == 15 && memcmp(line, "ERR server full", 15) == 0) {
        if (c->kind != CROWD)
            die("%s was refused: \"ERR server full\"", describe(c));
        c->verdict = REFUSED;
        c->state = DRAINING;
        return 1;
    }
    if (g.lab == 4) {
        if (len < 8 || memcmp(line, "welcome ", 8) != 0
            || (c->number = parse_client(line + 8, len - 8, &used)) == 0 || 8 + used != len)
            die("%s: its first line should be \"welcome client-K\"; got \"%s\"", describe(c), tool_shown(line, len));
    } else if (c->kind == CROWD) {
        char hello[32];
        int hello_len = snprintf(hello, sizeof hello, "hello %u", c->id);
        if (!is_ok_answer(line, len, (size_t)hello_len))
            die("%s: the answer to \"%s\" should be \"OK %d bytes %d chars\"; got \"%s\"", describe(c),
                hello, hello_len, hello_len, tool_shown(line, len));
    } else {
        return 0; /* lab03 sends nothing first: not a first line */
    }
    c->verdict = SERVED;
    c->state = TALKING;
    return 1;
}

/* One whole line received on c (without its "\n"). */
static void handle_line(struct conn *c, const char *line, size_t len)
{
    unsigned long from;
    size_t used;

    if (len > 0 && line[len - 1] == '\r')
        die("%s: a line ends with \\r\\n: \"%s\"", describe(c), tool_shown(line, len));
    if (c->state == JOINING && first_line(c, line, len))
        return;
    if (c->state == JOINING) /* lab03: connected and talking at once */
        c->state = TALKING;
    if (c->state == DRAINING && c->kind == CROWD && c->verdict == REFUSED)
        die("%s: a line after \"ERR server full\": \"%s\"", describe(c), tool_shown(line, len));
    if (c->got_bye)
        die("%s: a line after bye: \"%s\"", describe(c), tool_shown(line, len));
    if (len == 3 && memcmp(line, "bye", 3) == 0) {
        if (c->state != LEAVING)
            die("%s: bye, though it did not say fin", describe(c));
        c->got_bye = 1;
        return;
    }
    if (g.lab == 4) {
        if (is_news(line, len))
            return;
        from = parse_client(line, len, &used);
        if (from == 0 || used + 2 > len || memcmp(line + used, "> ", 2) != 0)
            die("%s: an unexpected line: \"%s\"", describe(c), tool_shown(line, len));
        if (from == c->number)
            die("%s heard its own line back: \"%s\"", describe(c), tool_shown(line, len));
        line += used + 2;
        len -= used + 2;
        if (c->kind == CHATTER)
            chatter_hears(c, from, line, len);
        else if (c->kind == CROWD && len > 5 && memcmp(line, "ping ", 5) == 0)
            c->pings_heard++;
        return;
    }
    /* lab03: the answers, in order. */
    if (c->kind == CHATTER) {
        char text[256];
        size_t text_len;
        if (c->answered >= c->sent_lines)
            die("%s: an answer to no line: \"%s\"", describe(c), tool_shown(line, len));
        text_len = chat_line(c->id, c->answered, text, sizeof text);
        if (!is_ok_answer(line, len, text_len))
            die("%s: the answer to its line %u (%zu bytes) should be \"OK %zu bytes %zu chars\"; got \"%s\"",
                describe(c), c->answered, text_len, text_len, text_len, tool_shown(line, len));
        c->answered++;
    } else if (c->kind == CHURNER) {
        if (!is_any_ok(line, len) || c->churn_answered >= c->churn_sent)
            die("%s: an unexpected line: \"%s\"", describe(c), tool_shown(line, len));
        c->churn_answered++;
    } else if (c->kind == CROWD && c->verdict == SERVED && is_any_ok(line, len)) {
        c->pings_answered++;
    } else {
        die("%s: an unexpected line: \"%s\"", describe(c), tool_shown(line, len));
    }
}

/* The server closed c (end of file, or a reset when ended). */
static void handle_end(struct conn *c, int reset)
{
    const char *how = reset ? "a reset" : "end of file";

    switch (c->kind) {
    case CHATTER:
        if (c->state != LEAVING || !c->got_bye)
            die("%s: the server closed the connection (%s) before its bye", describe(c), how);
        break;
    case CHURNER:
        if (c->state == LEAVING && !c->got_bye)
            die("%s: %s after fin, without bye", describe(c), how);
        if (c->state != LEAVING && c->state != DRAINING)
            die("%s: the server closed the connection (%s) while it was there", describe(c), how);
        if (c->state == DRAINING && g.lab == 3 && c->churn_answered != c->churn_sent)
            die("%s: %s after %u answers to its %u lines", describe(c), how, c->churn_answered, c->churn_sent);
        g.churn_done++;
        g.churning--;
        break;
    case CROWD:
        if (c->state == JOINING)
            c->verdict = CLOSED_BARE;
        else if (c->verdict == SERVED)
            die("%s: the server closed the connection (%s), though it served it", describe(c), how);
        break;
    case RESETTER:
        return; /* never read */
    }
    conn_close(c, 0);
}

/* Reads what c received; hands out its lines. */
static void conn_read(struct conn *c)
{
    char buffer[READ_SIZE];
    ssize_t got = recv(c->fd, buffer, sizeof buffer, 0);
    size_t start = 0, i;

    if (got == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    g.last_move = tool_now_ms();
    if (got <= 0) {
        if (got == -1 && errno != ECONNRESET)
            die("recv (%s): %s", describe(c), strerror(errno));
        if (c->in_len > 0)
            die("%s: the connection ended in the middle of a line: \"%s\"", describe(c), tool_shown(c->in, c->in_len));
        handle_end(c, got == -1);
        return;
    }
    if (c->in_len + (size_t)got > c->in_cap) {
        c->in_cap = 2 * (c->in_len + (size_t)got);
        c->in = checked_realloc(c->in, c->in_cap);
    }
    memcpy(c->in + c->in_len, buffer, (size_t)got);
    c->in_len += (size_t)got;
    for (i = c->in_len - (size_t)got; i < c->in_len && c->state != DONE; i++) {
        if (c->in[i] == '\n') {
            handle_line(c, c->in + start, i - start);
            start = i + 1;
        }
    }
    if (c->state == DONE)
        return;
    memmove(c->in, c->in + start, c->in_len - start);
    c->in_len -= start;
    if (c->in_len > LINE_LIMIT)
        die("%s: a line of more than %d bytes: \"%s\"", describe(c), LINE_LIMIT, tool_shown(c->in, c->in_len));
}

/* Sends what c has queued, as much as the socket takes. */
static void conn_flush(struct conn *c)
{
    ssize_t sent;

    while (c->out_sent < c->out_len) {
        sent = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, 0);
        if (sent == -1) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            if (errno == EPIPE || errno == ECONNRESET) {
                /* Closed by the server: the read side says what it means. */
                c->out_sent = c->out_len;
                return;
            }
            die("send (%s): %s", describe(c), strerror(errno));
        }
        c->out_sent += (size_t)sent;
        g.last_move = tool_now_ms();
    }
}

/* connect() finished on c: a failure ends the run; then its first step. */
static void connected(struct conn *c)
{
    int error = 0;
    socklen_t len = sizeof error;

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
        error = errno;
    if (error != 0)
        die("connect (%s): %s", describe(c), strerror(error));
    g.last_move = tool_now_ms();
    /* lab04 welcomes a client first; lab03 sends nothing until it talks. */
    c->state = g.lab == 4 || c->kind == CROWD ? JOINING : TALKING;
    if (c->kind == RESETTER) {
        /* Every other one leaves half a line in the server's reader. */
        if (c->id % 2 == 1 && send(c->fd, "half a li", 9, 0) == -1 && errno != EAGAIN)
            die("send (%s): %s", describe(c), strerror(errno));
        conn_close(c, 1);
        g.resets_done++;
        g.resetting--;
        free(c);
        return;
    }
    if (c->kind == CROWD && g.lab == 3) {
        char hello[32];
        snprintf(hello, sizeof hello, "hello %u\n", c->id);
        conn_send_text(c, hello);
    }
    if (c->kind == CHURNER)
        c->next_at = tool_now_ms() + (long long)random_below(20);
}

/* ---- the chatters' lines and the disturbance ------------------------- */

/* Line n of chatter j (without "\n") into text; returns its length. Its
 * letters depend on j, n and their place, so that a spliced line shows. */
static size_t chat_line(unsigned chatter, unsigned n, char *text, size_t size)
{
    int len = snprintf(text, size, "c%u %u ", chatter, n);
    size_t i, fill = 20 + (n * 7 + chatter * 3) % 60;

    for (i = 0; i < fill && (size_t)len + 1 < size; i++)
        text[len++] = (char)('a' + (chatter + n + i) % 26);
    text[len] = '\0';
    return (size_t)len;
}

/* How far the disturbance is, from 0 to 1 (1 without any). */
static double progress(void)
{
    unsigned long total = g.resets + g.churn;

    return total == 0 ? 1.0 : (double)(g.resets_done + g.churn_done) / (double)total;
}

/* Queues the chatters' lines that the disturbance's progress allows. */
static void chatters_talk(void)
{
    double done = progress();
    unsigned allowed = done >= 1.0 ? g.lines : 1 + (unsigned)(done * (g.lines - 1));
    char text[256];
    size_t len;
    unsigned j;

    for (j = 0; j < g.chatter_count; j++) {
        struct conn *c = g.chatters[j];
        while (c->state == TALKING && c->sent_lines < allowed
               && (g.lab == 4 || c->sent_lines - c->answered < LAB03_WINDOW)) {
            len = chat_line(j, c->sent_lines, text, sizeof text);
            text[len++] = '\n';
            conn_send(c, text, len);
            c->sent_lines++;
        }
    }
}

/* A chatter is done talking once it sent every line and got every answer
 * (lab03) or heard every other chatter's lines (lab04). */
static int chatter_satisfied(const struct conn *c)
{
    if (c->sent_lines < g.lines)
        return 0;
    if (g.lab == 3)
        return c->answered == g.lines;
    return c->heard == (unsigned long)g.lines * (g.chatter_count - 1);
}

/* Starts reset loops and churners while there are some to start. */
static void disturb(void)
{
    while (g.resets_started < g.resets && g.resetting < g.parallel) {
        conn_open(RESETTER, (unsigned)++g.resets_started);
        g.resetting++;
    }
    while (g.churn_started < g.churn && g.churning < g.at_once) {
        struct conn *c = conn_open(CHURNER, (unsigned)++g.churn_started);
        c->way = (enum way)random_below(4);
        c->lines_left = (unsigned)random_below(3);
        g.churn_ways[c->way]++;
        g.churning++;
    }
}

/* A churner's next step, when due: a line, or its way out. Returns 1 if
 * it closed its connection (and freed c), else 0. */
static int churner_step(struct conn *c, long long now)
{
    char text[64];

    if (c->state != TALKING || now < c->next_at || c->out_sent < c->out_len)
        return 0;
    if (c->lines_left > 0) {
        int len = snprintf(text, sizeof text, "churn %u %u\n", c->id, c->churn_sent);
        conn_send(c, text, (size_t)len);
        c->churn_sent++;
        c->lines_left--;
        c->next_at = now + (long long)random_below(20);
        return 0;
    }
    switch (c->way) {
    case BY_FIN:
        conn_send_text(c, "fin\n");
        c->state = LEAVING;
        break;
    case BY_EOF:
        shutdown(c->fd, SHUT_WR);
        c->state = DRAINING;
        break;
    case BY_RESET:
    case BY_CLOSE:
        conn_close(c, c->way == BY_RESET);
        g.churn_done++;
        g.churning--;
        free(c->in);
        free(c->out);
        free(c);
        return 1;
    }
    return 0;
}

/* ---- the loop --------------------------------------------------------- */

/* One round: waits (TICK_MS at most) for any connection, serves what is
 * ready, takes the churners' steps. Fails once nothing moved for the
 * bound, saying that it waited for what. */
static void pump(const char *waiting_for)
{
    size_t i, count = g.open_count;
    long long now;
    struct conn *c;
    struct conn *polled_conn[MAX_OPEN];

    for (i = 0; i < count; i++) {
        c = g.open[i];
        polled_conn[i] = c;
        g.polled[i].fd = c->fd;
        g.polled[i].events = c->state == CONNECTING ? POLLOUT
                                                     : (short)(POLLIN | (c->out_sent < c->out_len ? POLLOUT : 0));
        g.polled[i].revents = 0;
    }
    if (poll(g.polled, (nfds_t)count, TICK_MS) == -1 && errno != EINTR)
        die("poll: %s", strerror(errno));
    for (i = 0; i < count; i++) {
        c = polled_conn[i];
        if (g.polled[i].revents == 0 || c->state == DONE)
            continue;
        if (c->state == CONNECTING) {
            connected(c); /* a reset loop is freed there */
            continue;
        }
        if (g.polled[i].revents & (POLLIN | POLLHUP | POLLERR))
            conn_read(c);
        if (c->state != DONE && (g.polled[i].revents & POLLOUT))
            conn_flush(c);
    }
    now = tool_now_ms();
    for (i = 0; i < g.open_count;) {
        c = g.open[i];
        if (c->kind == CHURNER && churner_step(c, now))
            continue; /* closed: another connection took its place in g.open */
        if (c->out_sent < c->out_len && c->state != CONNECTING)
            conn_flush(c);
        i++;
    }
    if (now - g.last_move > g.bound_ms)
        die("timeout: nothing moved for %lld ms while waiting for %s", g.bound_ms, waiting_for);
}

/* ---- chat ------------------------------------------------------------- */

/* What the chat waits for, for the timeout's message. */
static const char *chat_pending(void)
{
    static char text[512];
    size_t n = 0;
    unsigned j, k;

    n += (size_t)snprintf(text + n, sizeof text - n, "the chat (resets %lu/%lu, churn %lu/%lu)",
                          g.resets_done, g.resets, g.churn_done, g.churn);
    for (j = 0; j < g.chatter_count && n < sizeof text - 100; j++) {
        const struct conn *c = g.chatters[j];
        if (c->state == DONE)
            continue;
        if (g.lab == 3) {
            n += (size_t)snprintf(text + n, sizeof text - n, "; %s sent %u, answered %u%s", describe(c),
                                  c->sent_lines, c->answered, c->state == LEAVING ? ", fin said" : "");
            continue;
        }
        n += (size_t)snprintf(text + n, sizeof text - n, "; %s heard %lu of %lu lines%s", describe(c), c->heard,
                              (unsigned long)g.lines * (g.chatter_count - 1), c->state == LEAVING ? ", fin said" : "");
        for (k = 0; k < g.chatter_count && n < sizeof text - 60; k++)
            if (k != j && c->next_seq[k] < g.lines)
                n += (size_t)snprintf(text + n, sizeof text - n, " (from chatter %u: %u)", k, c->next_seq[k]);
    }
    return text;
}

static int chat(void)
{
    long long start = tool_now_ms(), talk_start;
    unsigned j, done;
    char what[64];

    g.last_move = start;
    /* Chatters in order, each in (its welcome) before the next. */
    for (j = 0; j < g.chatter_count; j++) {
        g.chatters[j] = conn_open(CHATTER, j);
        snprintf(what, sizeof what, "chatter %u to be connected%s", j, g.lab == 4 ? " and welcomed" : "");
        while (g.chatters[j]->state == CONNECTING || (g.lab == 4 && g.chatters[j]->state == JOINING))
            pump(what);
        g.chatters[j]->state = TALKING;
    }
    talk_start = tool_now_ms();
    for (;;) {
        disturb();
        chatters_talk();
        done = 0;
        for (j = 0; j < g.chatter_count; j++) {
            struct conn *c = g.chatters[j];
            if (c->state == TALKING && progress() >= 1.0 && chatter_satisfied(c)) {
                conn_send_text(c, "fin\n");
                c->state = LEAVING;
            }
            done += c->state == DONE;
        }
        if (done == g.chatter_count && g.open_count == 0)
            break;
        pump(chat_pending());
    }
    printf("chat: %u chatters, %u lines each: %s; %lu connect-and-reset loops (%lu with half a line); "
           "%lu churners (fin %lu, end of input %lu, reset %lu, close %lu); %lld ms to connect, %lld ms to talk\n",
           g.chatter_count, g.lines,
           g.lab == 3 ? "every line answered in order" : "every line heard whole, in order, by every other chatter",
           g.resets_done, g.resets_done / 2, g.churn_done, g.churn_ways[BY_FIN], g.churn_ways[BY_EOF],
           g.churn_ways[BY_RESET], g.churn_ways[BY_CLOSE], talk_start - start, tool_now_ms() - talk_start);
    return 0;
}

/* ---- crowd ------------------------------------------------------------ */

/* Appends " A-B" or " A" for a range to a list being built. */
static void list_range(char *list, size_t size, unsigned from, unsigned to)
{
    size_t n = strlen(list);

    if (from == to)
        snprintf(list + n, size - n, " %u", from);
    else
        snprintf(list + n, size - n, " %u-%u", from, to);
}

/* Prints "S served, R refused, C closed, W waiting: served LIST ..." for
 * crowd[from..to). */
static void print_verdicts(size_t from, size_t to)
{
    static const char *names[] = { "", "served", "refused", "closed", "waiting" };
    char lists[5][4096];
    unsigned counts[5] = { 0, 0, 0, 0, 0 };
    size_t i, start;
    int v;

    for (v = 1; v < 5; v++) {
        lists[v][0] = '\0';
        for (i = from; i < to; i++) {
            if ((int)g.crowd[i]->verdict != v)
                continue;
            counts[v]++;
            for (start = i; i + 1 < to && (int)g.crowd[i + 1]->verdict == v; i++)
                counts[v]++;
            list_range(lists[v], sizeof lists[v], g.crowd[start]->id, g.crowd[i]->id);
        }
    }
    printf("%u served, %u refused, %u closed, %u waiting:", counts[SERVED], counts[REFUSED], counts[CLOSED_BARE],
           counts[WAITING]);
    for (v = 1; v < 5; v++)
        printf(" %s%s", names[v], lists[v][0] != '\0' ? lists[v] : " none");
    printf("\n");
}

/* Opens one crowd connection and waits until connect() finished. */
static struct conn *crowd_open(void)
{
    struct conn *c;

    if (g.crowd_count == g.crowd_cap) {
        g.crowd_cap = g.crowd_cap == 0 ? 64 : 2 * g.crowd_cap;
        g.crowd = checked_realloc(g.crowd, g.crowd_cap * sizeof *g.crowd);
    }
    c = conn_open(CROWD, (unsigned)g.crowd_count + 1);
    c->opened_at = tool_now_ms();
    g.crowd[g.crowd_count++] = c;
    while (c->state == CONNECTING)
        pump("a connection to be made");
    return c;
}

/* Waits for the verdicts of crowd[from..to); a refused one is read to its
 * end of file. With wait_ms, one that has none after that long is
 * "waiting" (and may be served later). */
static void crowd_verdicts(size_t from, size_t to)
{
    size_t i;
    char what[96];

    for (i = from; i < to; i++) {
        struct conn *c = g.crowd[i];
        snprintf(what, sizeof what, "%s to be served or refused", describe(c));
        while (c->verdict == UNKNOWN) {
            if (g.wait_ms > 0 && tool_now_ms() - c->opened_at >= g.wait_ms) {
                c->verdict = WAITING;
                break;
            }
            pump(what);
        }
        snprintf(what, sizeof what, "the end of file after \"ERR server full\" on %s", describe(c));
        while (c->verdict == REFUSED && c->state != DONE)
            pump(what);
    }
}

static void crowd_ping(void)
{
    size_t i, served = 0;
    char text[32], what[96];

    for (i = 0; i < g.crowd_count; i++) {
        struct conn *c = g.crowd[i];
        if (c->verdict != SERVED || c->state == DONE)
            continue;
        served++;
        c->pings_heard = c->pings_answered = 0;
    }
    for (i = 0; i < g.crowd_count; i++) {
        struct conn *c = g.crowd[i];
        if (c->verdict == SERVED && c->state != DONE) {
            snprintf(text, sizeof text, "ping %u\n", c->id);
            conn_send_text(c, text);
        }
    }
    for (i = 0; i < g.crowd_count; i++) {
        struct conn *c = g.crowd[i];
        if (c->verdict != SERVED || c->state == DONE)
            continue;
        snprintf(what, sizeof what, "%s to %s", describe(c),
                 g.lab == 3 ? "get its answer" : "hear every other ping");
        while (c->state != DONE && (g.lab == 3 ? c->pings_answered < 1 : c->pings_heard < served - 1))
            pump(what);
    }
    printf("ok ping: %zu connections\n", served);
}

static int crowd(void)
{
    char command[256];
    unsigned long a, b;
    size_t i, from, closed;
    char word[32];

    g.last_move = tool_now_ms();
    while (fgets(command, sizeof command, stdin) != NULL) {
        g.last_move = tool_now_ms();
        if (sscanf(command, "%31s", word) != 1)
            continue;
        if (strcmp(word, "open") == 0 && sscanf(command, "open %lu", &a) == 1) {
            from = g.crowd_count;
            for (i = 0; i < a; i++)
                crowd_open();
            crowd_verdicts(from, g.crowd_count);
            printf("ok open %lu: ", a);
            print_verdicts(from, g.crowd_count);
        } else if (strcmp(word, "knock") == 0 && sscanf(command, "knock %lu %lu", &a, &b) == 2) {
            from = g.crowd_count;
            for (i = 0; i < a; i++) {
                long long next = tool_now_ms() + (long long)b;
                crowd_open();
                crowd_verdicts(g.crowd_count - 1, g.crowd_count);
                while (tool_now_ms() < next) {
                    g.last_move = tool_now_ms();
                    pump("the next knock");
                }
            }
            printf("ok knock %lu: ", a);
            print_verdicts(from, g.crowd_count);
        } else if (strcmp(word, "ping") == 0) {
            crowd_ping();
        } else if (strcmp(word, "leave") == 0 && sscanf(command, "leave %lu %lu", &a, &b) == 2) {
            closed = 0;
            for (i = 0; i < g.crowd_count; i++) {
                struct conn *c = g.crowd[i];
                if (c->id >= a && c->id <= b && c->verdict == SERVED && c->state != DONE) {
                    conn_close(c, 0);
                    closed++;
                }
            }
            printf("ok leave %lu %lu: %zu closed\n", a, b, closed);
        } else if (strcmp(word, "served") == 0 && sscanf(command, "served %lu", &a) == 1) {
            size_t served;
            for (;;) {
                for (i = 0, served = 0; i < g.crowd_count; i++)
                    served += g.crowd[i]->verdict == SERVED && g.crowd[i]->state != DONE;
                if (served >= a)
                    break;
                pump("connections to be served");
            }
            printf("ok served %lu: %zu\n", a, served);
        } else {
            die("unknown command: %s", command);
        }
        fflush(stdout);
    }
    return 0;
}

/* ---- main ------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: " PROGRAM " [-t SECONDS] [-T SECONDS] HOST PORT chat LAB [OPTION N...]\n"
                    "       " PROGRAM " [-t SECONDS] [-T SECONDS] HOST PORT crowd LAB [WAIT_MS]\n"
                    "  LAB: 3 or 4; chat OPTIONs: chatters lines resets parallel churn at-once seed\n"
                    "  (see the top of faults-chat.c)\n");
    exit(2);
}

/* Parses a whole number from text, or exits with the usage. */
static unsigned long number(const char *text)
{
    char *end;
    unsigned long n;

    errno = 0;
    n = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-')
        usage();
    return n;
}

int main(int argc, char *argv[])
{
    struct addrinfo hints, *found;
    struct sigaction ignore;
    int i = 1, status;

    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (strcmp(argv[i], "-t") == 0)
            g.bound_ms = (long long)(atof(argv[i + 1]) * 1000);
        else if (strcmp(argv[i], "-T") == 0)
            tool_run_bound(PROGRAM, (unsigned)number(argv[i + 1]));
        else
            usage();
    }
    if (argc - i < 4 || g.bound_ms <= 0)
        usage();
    g.lab = (int)number(argv[i + 3]);
    if (g.lab != 3 && g.lab != 4)
        usage();
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if ((status = getaddrinfo(argv[i], argv[i + 1], &hints, &found)) != 0)
        die("getaddrinfo: %s: %s", argv[i], gai_strerror(status));
    memcpy(&g.address, found->ai_addr, found->ai_addrlen);
    g.address_len = found->ai_addrlen;
    freeaddrinfo(found);
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (strcmp(argv[i + 2], "crowd") == 0) {
        if (argc - i != 4 && argc - i != 5)
            usage();
        if (argc - i == 5)
            g.wait_ms = (long long)number(argv[i + 4]);
        return crowd();
    }
    if (strcmp(argv[i + 2], "chat") != 0)
        usage();
    for (i += 4; i < argc; i += 2) {
        unsigned long n;
        if (i + 1 >= argc)
            usage();
        n = number(argv[i + 1]);
        if (strcmp(argv[i], "chatters") == 0 && n >= 1 && n <= MAX_CHATTERS)
            g.chatter_count = (unsigned)n;
        else if (strcmp(argv[i], "lines") == 0 && n >= 1 && n < 1000000)
            g.lines = (unsigned)n;
        else if (strcmp(argv[i], "resets") == 0)
            g.resets = n;
        else if (strcmp(argv[i], "parallel") == 0 && n >= 1 && n <= 256)
            g.parallel = n;
        else if (strcmp(argv[i], "churn") == 0)
            g.churn = n;
        else if (strcmp(argv[i], "at-once") == 0 && n >= 1 && n <= 1024)
            g.at_once = n;
        else if (strcmp(argv[i], "seed") == 0)
            g.seed = n == 0 ? 1 : n;
        else
            usage();
    }
    return chat();
}
