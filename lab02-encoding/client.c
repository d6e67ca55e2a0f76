/* lab02 client: lab01's turn-by-turn client, now framing bytes itself.
 * Answers go through the same line reader as the server's (linebuf.c), every
 * line is sent with a loop (net.c), and --latin1 converts between a Latin-1
 * terminal and the UTF-8 wire (utf8.c).
 * Left out on purpose: reading and printing at the same time (lab03, lab04).
 *
 * This is the skeleton: lab01's client is given, with the --latin1 option;
 * each "TODO step N" is yours to write, in order. README.md explains every
 * step; the tests named "step N" check it.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "linebuf.h"
#include "net.h"
#include "utf8.h"

#define DEFAULT_HOST "localhost" /* the server runs on this machine */
#define DEFAULT_PORT "12800"     /* the course's port */

/* Stops the program where a step is still to be written. Delete the call
 * once you have written the step. (The "(void)name;" lines next to each call
 * only keep the compiler quiet about names nothing uses yet: delete them too.)
 * Once every step is written, delete this function as well. */
static void todo(int step, const char *what)
{
    fprintf(stderr, "TODO step %d: %s (see README.md, step %d)\n", step, what, step);
    exit(3);
}

/* Prints how to run the program on stream out. */
static void print_usage(FILE *out, const char *program)
{
    fprintf(out, "usage: %s [--latin1] [HOST [PORT]]   (default %s %s; PORT 1-65535)\n"
                 "  --latin1  the terminal uses ISO-8859-1: convert to and from UTF-8\n",
            program, DEFAULT_HOST, DEFAULT_PORT);
}

/* Returns 1 if -h or --help is among the arguments, wherever it is. */
static int wants_help(int argc, char *argv[])
{
    int i;

    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    return 0;
}

/* Returns 1 if text is a port number from 1 to 65535. */
static int is_valid_port(const char *text)
{
    char *end;
    long port;

    if (*text < '0' || *text > '9')
        return 0;
    errno = 0;
    port = strtol(text, &end, 10);
    return errno == 0 && *end == '\0' && port >= 1 && port <= 65535;
}

/* Connects to host:port, trying each address the resolver gives (IPv6 and
 * IPv4 for "localhost"). Returns the socket, or -1 after printing why. */
static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints, *addresses, *address;
    int server_fd = -1;
    int status, saved_errno = 0;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    status = getaddrinfo(host, port, &hints, &addresses);
    if (status != 0) {
        fprintf(stderr, "getaddrinfo: %s: %s\n", host, gai_strerror(status));
        return -1;
    }
    for (address = addresses; address != NULL; address = address->ai_next) {
        server_fd = socket(address->ai_family, address->ai_socktype, address->ai_protocol);
        if (server_fd == -1) {
            saved_errno = errno;
            continue;
        }
        if (connect(server_fd, address->ai_addr, address->ai_addrlen) == 0)
            break;
        saved_errno = errno;
        close(server_fd);
        server_fd = -1;
    }
    freeaddrinfo(addresses);
    if (server_fd == -1)
        fprintf(stderr, "connect: %s\n", strerror(saved_errno));
    return server_fd;
}

/* Sends one line of input (len bytes, without its "\n") as a UTF-8 line,
 * converting it from Latin-1 first if asked. Returns 0, or -1 with errno set. */
static int send_line(int server_fd, const char *line, size_t len, int latin1)
{
    char *utf8;
    size_t utf8_len;
    int status;

    if (!latin1) {
        /* TODO step 6 (README step 6): the bytes go as they are. send_all()
         * the len bytes of line, then the one byte "\n"; if either gives
         * -1, return -1 (errno is set). Otherwise return 0. Not send(): it
         * may take fewer bytes than asked. */
        (void)server_fd;
        (void)line;
        (void)len;
        todo(6, "send the line and its newline with send_all() (send_line)");
        return -1;
    }
    /* TODO step 7 (README step 7): --latin1: the input is ISO-8859-1.
     *  - malloc() 2 * len + 1 bytes into utf8: each Latin-1 byte takes at
     *    most 2 bytes of UTF-8 (E9 becomes C3 A9), and 1 more for the '\n'.
     *    NULL: return -1 (malloc() set errno).
     *  - utf8_from_latin1() the line into it; put '\n' after the utf8_len
     *    bytes it wrote, and count it.
     *  - send_all() the utf8_len bytes, keep its result in status, free()
     *    the buffer, return status. */
    (void)utf8;
    (void)utf8_len;
    (void)status;
    todo(7, "convert the line from Latin-1 before sending it (send_line)");
    return -1;
}

/* Prints one line from the server, converted to Latin-1 if asked. */
static void print_line(const char *line, size_t len, int latin1)
{
    char converted[LINEBUF_SIZE]; /* a line from the reader is never longer */

    if (latin1) {
        /* TODO step 7 (README step 7): --latin1: the terminal shows
         * ISO-8859-1. utf8_to_latin1() the line into converted (it never
         * gets longer: LINEBUF_SIZE bytes are enough), then let line and len
         * be that converted text, so the fwrite() below prints it. */
        (void)converted;
        todo(7, "convert the answer to Latin-1 before printing it (print_line)");
    }
    fwrite(line, 1, len, stdout);
    putchar('\n');
}

/* Prints what the server still sends after our side is done, until it
 * closes (end of file or reset). */
static void print_until_closed(struct linebuf *from_server, int latin1)
{
    const char *line;
    size_t len;
    int result;

    /* TODO step 6 (README step 6): call linebuf_read_line() on from_server
     * in a loop, while it gives > 0, and print_line() each line (result
     * LINEBUF_LINE) with latin1. LINEBUF_TOO_LONG has no line to print:
     * skip it. 0 is end of file and -1 a reset or an error: either way the
     * server is gone, so return. */
    (void)from_server;
    (void)latin1;
    (void)line;
    (void)len;
    (void)result;
    todo(6, "print the server's lines until it closes (print_until_closed)");
}

/* The dialogue: a line from the user, the line to the server, the answer to
 * the screen, until "bye", the end of the input or the server's close. */
static void talk(int server_fd, int latin1)
{
    struct linebuf from_server; /* 64 KiB: fine on the main thread's stack */
    char *input = NULL;
    size_t input_capacity = 0, len;
    ssize_t input_len;
    const char *answer;
    int interactive = isatty(STDIN_FILENO);

    linebuf_init(&from_server, server_fd);
    for (;;) {
        if (interactive) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        input_len = getline(&input, &input_capacity, stdin);
        if (input_len == -1) {
            /* End of input: tell the server, then let it close first. */
            shutdown(server_fd, SHUT_WR);
            print_until_closed(&from_server, latin1);
            break;
        }
        len = (size_t)input_len;
        if (len > 0 && input[len - 1] == '\n')
            len--;
        /* TODO step 6 (README step 6): one turn, as in lab01, with the line
         * reader instead of stdio.
         *  - send_line() the len bytes of input, then read ONE answer with
         *    linebuf_read_line(&from_server, &answer, &len). If the send
         *    gives -1, or the read gives anything but LINEBUF_LINE (0: the
         *    server closed; -1: a reset), print "connection closed by
         *    server" and leave the loop.
         *  - print_line() the answer (len bytes, latin1 as given).
         *  - An answer of exactly the 3 bytes "bye" (memcmp(), not strcmp():
         *    answer is not NUL-terminated) means our "fin" was accepted:
         *    leave the loop. */
        (void)answer;
        (void)send_line;
        (void)print_line;
        todo(6, "send the line, read one answer with the line reader, print it (talk)");
    }
    free(input);
}

int main(int argc, char *argv[])
{
    const char *host = DEFAULT_HOST;
    const char *port = DEFAULT_PORT;
    struct sigaction ignore;
    int server_fd, latin1 = 0, first = 1;

    if (wants_help(argc, argv)) {
        print_usage(stdout, argv[0]);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "--latin1") == 0) {
        latin1 = 1;
        first = 2;
    }
    if (argc > first + 2 || (argc > first && argv[first][0] == '-')
        || (argc > first + 1 && !is_valid_port(argv[first + 1]))) {
        fprintf(stderr, "%s: bad arguments\n", argv[0]);
        print_usage(stderr, argv[0]);
        return 2;
    }
    if (argc > first)
        host = argv[first];
    if (argc > first + 1)
        port = argv[first + 1];

    setvbuf(stdout, NULL, _IOLBF, 0);
    /* A server that closed while we send gives EPIPE, not a silent death. */
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, NULL);

    server_fd = connect_to(host, port);
    if (server_fd == -1)
        return 1;
    printf("connected to %s:%s\n", host, port);

    talk(server_fd, latin1);
    close(server_fd);
    return 0;
}
