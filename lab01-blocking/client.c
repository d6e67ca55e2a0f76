/* lab01 client: connects, then sends one line of standard input at a time
 * and prints the server's one-line answer before reading the next.
 * Left out on purpose: reading and printing at the same time (lab03 does it
 * with select(), lab04 with threads), text encodings (lab02).
 *
 * This is the skeleton: each "TODO step N" is yours to write, in order.
 * README.md explains every step; the tests named "step N" check it;
 * `make hint LAB=01` gives hints, one level more at each call.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
    fprintf(out, "usage: %s [HOST [PORT]]   (default %s %s; PORT 1-65535)\n",
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

    /* TODO step 8 (README step 8): turn host and port into a list of TCP
     * addresses, IPv4 or IPv6, with getaddrinfo(); try them in order, a
     * socket() and a connect() each, until one connects; free the list
     * (freeaddrinfo()). Return the connected socket, or -1 after printing
     * on stderr "getaddrinfo: <host>: <reason>" (reason: gai_strerror(),
     * the resolver has codes of its own) or, if no address connected,
     * "connect: <reason>" with the last failure's errno (the tests expect
     * "connect: Connection refused" when nobody listens).
     * (make hint LAB=01 STEP=8) */
    (void)host;
    (void)port;
    (void)hints;
    (void)addresses;
    (void)address;
    (void)status;
    (void)saved_errno;
    todo(8, "connect to the server (getaddrinfo, socket, connect)");
    return server_fd;
}

/* Sends one line, adding the "\n" if the input's last line lacked it.
 * Returns 0, or -1 with errno set. A blocking send() sends everything
 * unless a signal interrupts it; lab02 writes the loop that copes. */
static int send_line(int server_fd, char *line, size_t len)
{
    /* TODO step 9 (README step 9): send the line with send(), ended by a
     * '\n': the server only answers complete lines, and the input's last
     * line may lack it (add it: getline() always leaves room for one more
     * byte). Return 0, or -1 if send() did not send it all.
     * (make hint LAB=01 STEP=9) */
    (void)server_fd;
    (void)line;
    (void)len;
    todo(9, "send one line, '\\n' included (send)");
    return -1;
}

/* Prints what the server still sends after our side is done, until it
 * closes (end of file or reset). */
static void print_until_closed(FILE *from_server)
{
    char buffer[1024];
    size_t len;

    /* TODO step 10 (README step 10): copy to stdout every byte the server
     * still sends, exactly as it came (bytes, not lines: fread() and
     * fwrite()), until end of file or a reset.
     * (make hint LAB=01 STEP=10) */
    (void)from_server;
    (void)buffer;
    (void)len;
    todo(10, "print what the server still sends until it closes");
}

/* The dialogue: a line from the user, the line to the server, the answer to
 * the screen, until "bye", the end of the input or the server's close. */
static void talk(int server_fd, FILE *from_server)
{
    char *line = NULL, *answer = NULL;
    size_t line_capacity = 0, answer_capacity = 0;
    ssize_t len, answer_len;
    int interactive = isatty(STDIN_FILENO);

    /* TODO step 9 (README step 9): the dialogue, one turn per loop: the
     * prompt "> " only if interactive (flush it: it has no '\n'), a line
     * of stdin (getline()), that line to the server with send_line(), then
     * ONE answer line from from_server (getline()), printed exactly as it
     * came, '\r' included (fwrite()). Stop after the answer "bye\n" or
     * "bye\r\n" (compare length and bytes: they may hold a '\0'). If the
     * send or the answer fails, print "connection closed by server" and
     * stop. For now the end of stdin just ends the loop: step 10 finishes
     * that case. Free both buffers at the end. (make hint LAB=01 STEP=9) */
    /* TODO step 10 (README step 10): at the end of stdin, tell the server
     * we are done sending, without closing the way back: shutdown() with
     * SHUT_WR. Then print_until_closed(), and leave the loop.
     * (make hint LAB=01 STEP=10) */
    (void)server_fd;
    (void)from_server;
    (void)line;
    (void)answer;
    (void)line_capacity;
    (void)answer_capacity;
    (void)len;
    (void)answer_len;
    (void)interactive;
    (void)send_line;
    (void)print_until_closed;
    todo(9, "the dialogue: read a line, send it, print the answer");
}

int main(int argc, char *argv[])
{
    const char *host = DEFAULT_HOST;
    const char *port = DEFAULT_PORT;
    struct sigaction ignore;
    FILE *from_server;
    int server_fd;

    if (wants_help(argc, argv)) {
        print_usage(stdout, argv[0]);
        return 0;
    }
    if (argc > 3 || (argc > 1 && argv[1][0] == '-') || (argc > 2 && !is_valid_port(argv[2]))) {
        fprintf(stderr, "%s: bad arguments\n", argv[0]);
        print_usage(stderr, argv[0]);
        return 2;
    }
    if (argc > 1)
        host = argv[1];
    if (argc > 2)
        port = argv[2];

    setvbuf(stdout, NULL, _IOLBF, 0);
    /* A server that closed while we send gives EPIPE, not a silent death. */
    memset(&ignore, 0, sizeof ignore);
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, NULL);

    server_fd = connect_to(host, port);
    if (server_fd == -1)
        return 1;
    printf("connected to %s:%s\n", host, port);

    /* stdio cuts the server's bytes into lines for us (lab02 does it by hand). */
    from_server = fdopen(server_fd, "r");
    if (from_server == NULL) {
        fprintf(stderr, "fdopen: %s\n", strerror(errno));
        close(server_fd);
        return 1;
    }
    talk(server_fd, from_server);
    fclose(from_server); /* also closes server_fd */
    return 0;
}
