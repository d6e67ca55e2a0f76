/* lab01 client: connects, then sends one line of standard input at a time
 * and prints the server's one-line answer before reading the next.
 * Left out on purpose: reading and printing at the same time (lab03 does it
 * with select(), lab04 with threads), text encodings (lab02).
 *
 * This is the skeleton: each "TODO step N" is yours to write, in order.
 * README.md explains every step; the tests named "step N" check it.
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

    /* TODO step 8 (README step 8): resolve the name, then try each address.
     *  - hints: zero it all, then ai_family AF_UNSPEC (IPv4 or IPv6,
     *    whatever the name has) and ai_socktype SOCK_STREAM (TCP).
     *  - getaddrinfo() (man 3 getaddrinfo) turns host and port into a list
     *    of addresses. Not 0: "getaddrinfo: <host>: <reason>" on stderr,
     *    the reason from gai_strerror(status) (the resolver has its own
     *    error codes: not strerror), return -1.
     *  - For each address of the list (ai_next): a socket() of its family,
     *    type and protocol, then connect() (man 2 connect) to its ai_addr.
     *    Success: leave the loop. Failure: keep errno in saved_errno, close
     *    that socket, set server_fd back to -1, try the next address
     *    ("localhost" is often ::1 first, where an IPv4-only server refuses,
     *    then 127.0.0.1).
     *  - freeaddrinfo() the list in every case.
     *  - If none connected: "connect: <strerror(saved_errno)>" on stderr (the
     *    tests expect "connect: Connection refused" when nobody listens).
     * Return server_fd. */
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
    /* TODO step 9 (README step 9): the server only answers complete lines.
     *  - If the line does not end with '\n' (the input's last line may lack
     *    it), put one at line[len] and count it: there is room, getline()
     *    always keeps a byte for its '\0' after the len bytes.
     *  - send() (man 2 send) the len bytes. A result other than len is a
     *    failure: return -1. Otherwise return 0. */
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

    /* TODO step 10 (README step 10): in a loop, fread() (man 3 fread) at
     * most sizeof buffer bytes from from_server and fwrite() the len bytes
     * you got to stdout, until fread() gives 0 (end of file or a reset).
     * Bytes, not lines: print exactly what came. */
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

    /* TODO step 9 (README step 9): turn by turn, in a loop:
     *  - If interactive, print the prompt "> " and fflush(stdout): stdout is
     *    line buffered and a prompt has no '\n'. Only on a terminal: in a
     *    pipe a prompt would spoil the output.
     *  - Read a line of stdin with getline() (man 3 getline) into line;
     *    -1 is the end of the input: see step 10.
     *  - send_line() it, then read ONE answer line from from_server with
     *    getline() into answer. If either fails, the server closed or reset
     *    the connection: print "connection closed by server", leave.
     *  - Print the answer as it came: fwrite() its answer_len bytes, '\n'
     *    and any '\r' included.
     *  - If the answer is "bye\n" or "bye\r\n", our "fin" was accepted:
     *    leave the loop. Compare its length (answer_len) and its bytes
     *    (memcmp(), man 3 memcmp), not with strcmp(): these are received
     *    bytes, which may hold a '\0'.
     * After the loop, free both buffers. */
    /* TODO step 10 (README step 10): when getline() on stdin gives -1, tell
     * the server we are done with shutdown() and SHUT_WR (man 2 shutdown):
     * it reads end of file, yet can still send to us. Then
     * print_until_closed() and leave the loop: the server closes first. */
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
