/* lab01 client: connects, then sends one line of standard input at a time
 * and prints the server's one-line answer before reading the next.
 * Left out on purpose: reading and printing at the same time (lab03 does it
 * with select(), lab04 with threads), text encodings (lab02).
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

/* Sends one line, adding the "\n" if the input's last line lacked it.
 * Returns 0, or -1 with errno set. A blocking send() sends everything
 * unless a signal interrupts it; lab02 writes the loop that copes. */
static int send_line(int server_fd, char *line, size_t len)
{
    if (len == 0 || line[len - 1] != '\n')
        line[len++] = '\n'; /* getline() left room: its buffer holds len + 1 */
    if (send(server_fd, line, len, 0) != (ssize_t)len)
        return -1;
    return 0;
}

/* Prints what the server still sends after our side is done, until it
 * closes (end of file or reset). */
static void print_until_closed(FILE *from_server)
{
    char buffer[1024];
    size_t len;

    while ((len = fread(buffer, 1, sizeof buffer, from_server)) > 0)
        fwrite(buffer, 1, len, stdout);
}

/* The dialogue: a line from the user, the line to the server, the answer to
 * the screen, until "bye", the end of the input or the server's close. */
static void talk(int server_fd, FILE *from_server)
{
    char *line = NULL, *answer = NULL;
    size_t line_capacity = 0, answer_capacity = 0;
    ssize_t len, answer_len;
    int interactive = isatty(STDIN_FILENO);

    for (;;) {
        if (interactive) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        len = getline(&line, &line_capacity, stdin);
        if (len == -1) {
            /* End of input: tell the server, then let it close first. */
            shutdown(server_fd, SHUT_WR);
            print_until_closed(from_server);
            break;
        }
        if (send_line(server_fd, line, (size_t)len) == -1
            || (answer_len = getline(&answer, &answer_capacity, from_server)) == -1) {
            puts("connection closed by server");
            break;
        }
        fwrite(answer, 1, (size_t)answer_len, stdout); /* as it came, NUL bytes too */
        /* Received bytes: compare length and bytes, never strcmp(). */
        if ((answer_len == 4 && memcmp(answer, "bye\n", 4) == 0)
            || (answer_len == 5 && memcmp(answer, "bye\r\n", 5) == 0))
            break; /* our "fin" was accepted */
    }
    free(line);
    free(answer);
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
