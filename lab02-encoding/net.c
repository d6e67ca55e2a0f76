/* net.c - lab01's set-up, written once for every later program: reading the
 * command line, one listening socket for IPv6 and IPv4, accept() with the
 * peer's address as text, connect() to each address of a name, the stop
 * signals, and the send loop (send() may take fewer bytes than asked).
 * Leaves out: what a program does with its connections (each lab's idea).
 *
 * This is the skeleton: all of it is given but send_all(), whose "TODO step
 * 3" is yours to write. README.md explains it; the unit test
 * tests/unit/test_net.c checks send_all() on its own (make check LAB=02
 * runs it); `make hint LAB=02 STEP=3` gives hints, one level more at each
 * call.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "net.h"

/* Parses a port number from lowest to 65535. Returns it, or -1 if text is
 * not one (a sign, a space or trailing bytes included). */
static long parse_port(const char *text, long lowest)
{
    char *end;
    long port;

    if (*text < '0' || *text > '9')
        return -1;
    errno = 0;
    port = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || port < lowest || port > 65535)
        return -1;
    return port;
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

enum net_args_result net_server_args(int argc, char *argv[], struct net_server_args *args)
{
    int i, have_port = 0;

    args->port = NET_DEFAULT_PORT;
    args->quiet = 0;
    args->bad = NULL;
    if (wants_help(argc, argv))
        return NET_ARGS_HELP;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
            args->quiet = 1;
        } else if (!have_port && (args->port = parse_port(argv[i], 0)) != -1) {
            have_port = 1;
        } else {
            args->bad = argv[i];
            return NET_ARGS_BAD;
        }
    }
    return NET_ARGS_OK;
}

enum net_args_result net_client_args(int argc, char *argv[], struct net_client_args *args)
{
    int i = 1, given = 0; /* HOST and PORT seen so far */

    args->host = NET_DEFAULT_HOST;
    args->port = NET_DEFAULT_PORT;
    args->latin1 = 0;
    args->bad = NULL;
    if (wants_help(argc, argv))
        return NET_ARGS_HELP;
    if (i < argc && strcmp(argv[i], "--latin1") == 0) {
        args->latin1 = 1;
        i++;
    }
    for (; i < argc; i++, given++) {
        if (given == 0 && argv[i][0] != '-' && argv[i][0] != '\0') {
            args->host = argv[i];
        } else if (given != 1 || (args->port = parse_port(argv[i], 1)) == -1) {
            args->bad = argv[i];
            return NET_ARGS_BAD;
        }
    }
    return NET_ARGS_OK;
}

void net_server_usage(FILE *out, const char *program, const char *bad)
{
    if (bad != NULL)
        fprintf(out, "%s: bad argument '%s'\n", program, bad);
    fprintf(out, "usage: %s [-q] [PORT]   (PORT 0-65535, default %d; 0 = any free port)\n",
            program, NET_DEFAULT_PORT);
}

void net_client_usage(FILE *out, const char *program, const char *bad)
{
    if (bad != NULL)
        fprintf(out, "%s: bad argument '%s'\n", program, bad);
    fprintf(out, "usage: %s [--latin1] [HOST [PORT]]   (default %s %d; PORT 1-65535)\n"
                 "  --latin1  the terminal uses ISO-8859-1: convert to and from UTF-8\n",
            program, NET_DEFAULT_HOST, NET_DEFAULT_PORT);
}

int net_catch_signals(void (*on_stop)(int))
{
    struct sigaction action;

    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
    action.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &action, NULL) == -1)
        return -1;
    if (on_stop == NULL)
        return 0;
    action.sa_handler = on_stop; /* sa_flags 0: no SA_RESTART */
    if (sigaction(SIGINT, &action, NULL) == -1 || sigaction(SIGTERM, &action, NULL) == -1)
        return -1;
    return 0;
}

/* Closes fd after a failure, keeping the failure's errno. Returns -1. */
static int close_failed(int fd)
{
    int saved_errno = errno;

    close(fd);
    errno = saved_errno;
    return -1;
}

/* Creates the socket of the given family with SO_REUSEADDR (and, for IPv6,
 * IPV6_V6ONLY off), bound to the unspecified address and port. Returns it,
 * or -1 with errno set and *failed_call named. */
static int bound_socket(int family, long port, const char **failed_call)
{
    struct sockaddr_in6 any6;
    struct sockaddr_in any4;
    struct sockaddr *address = (struct sockaddr *)&any4;
    socklen_t address_len = sizeof any4;
    int fd, yes = 1, no = 0;

    *failed_call = "socket";
    fd = socket(family, SOCK_STREAM, 0);
    if (fd == -1)
        return -1;
    memset(&any4, 0, sizeof any4);
    any4.sin_family = AF_INET;
    any4.sin_addr.s_addr = htonl(INADDR_ANY);
    any4.sin_port = htons((unsigned short)port);
    if (family == AF_INET6) {
        memset(&any6, 0, sizeof any6);
        any6.sin6_family = AF_INET6;
        any6.sin6_addr = in6addr_any;
        any6.sin6_port = htons((unsigned short)port);
        address = (struct sockaddr *)&any6;
        address_len = sizeof any6;
        *failed_call = "setsockopt IPV6_V6ONLY";
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &no, sizeof no) == -1)
            return close_failed(fd);
    }
    /* Lets a restarted server bind at once, despite old connections in TIME_WAIT. */
    *failed_call = "setsockopt SO_REUSEADDR";
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes) == -1)
        return close_failed(fd);
    *failed_call = "bind";
    if (bind(fd, address, address_len) == -1)
        return close_failed(fd);
    return fd;
}

int net_listen(long port, int backlog, int *bound_port, const char **failed_call)
{
    struct sockaddr_storage address;
    socklen_t address_len = sizeof address;
    int fd;

    fd = bound_socket(AF_INET6, port, failed_call);
    /* No IPv6 on this system, or IPV6_V6ONLY cannot be turned off (as on
     * OpenBSD): IPv4 alone. A port taken or forbidden is an answer, though. */
    if (fd == -1 && errno != EADDRINUSE && errno != EACCES)
        fd = bound_socket(AF_INET, port, failed_call);
    if (fd == -1)
        return -1;
    *failed_call = "listen";
    if (listen(fd, backlog) == -1)
        return close_failed(fd);
    *failed_call = "getsockname";
    if (getsockname(fd, (struct sockaddr *)&address, &address_len) == -1)
        return close_failed(fd);
    if (address.ss_family == AF_INET6)
        *bound_port = ntohs(((struct sockaddr_in6 *)&address)->sin6_port);
    else
        *bound_port = ntohs(((struct sockaddr_in *)&address)->sin_port);
    return fd;
}

/* Writes address as "IP:PORT", or "[IP]:PORT" for IPv6; an IPv4 address
 * mapped into IPv6 (::ffff:127.0.0.1) is written as the IPv4 it is. */
static void format_peer(const struct sockaddr_storage *address, char peer[NET_PEER_SIZE])
{
    const struct sockaddr_in6 *ipv6 = (const struct sockaddr_in6 *)address;
    const struct sockaddr_in *ipv4 = (const struct sockaddr_in *)address;
    char ip[INET6_ADDRSTRLEN];

    if (address->ss_family == AF_INET) {
        inet_ntop(AF_INET, &ipv4->sin_addr, ip, sizeof ip);
        snprintf(peer, NET_PEER_SIZE, "%s:%d", ip, ntohs(ipv4->sin_port));
    } else if (IN6_IS_ADDR_V4MAPPED(&ipv6->sin6_addr)) {
        /* The last 4 of the 16 bytes are the IPv4 address. */
        inet_ntop(AF_INET, &ipv6->sin6_addr.s6_addr[12], ip, sizeof ip);
        snprintf(peer, NET_PEER_SIZE, "%s:%d", ip, ntohs(ipv6->sin6_port));
    } else {
        inet_ntop(AF_INET6, &ipv6->sin6_addr, ip, sizeof ip);
        snprintf(peer, NET_PEER_SIZE, "[%s]:%d", ip, ntohs(ipv6->sin6_port));
    }
}

int net_accept(int listen_fd, char peer[NET_PEER_SIZE])
{
    struct sockaddr_storage address;
    socklen_t address_len = sizeof address;
    int fd;

    fd = accept(listen_fd, (struct sockaddr *)&address, &address_len);
    if (fd == -1)
        return -1;
    /* BSD and macOS pass the listener's O_NONBLOCK on; Linux does not. */
    if (net_set_nonblocking(fd, 0) == -1)
        return close_failed(fd);
    format_peer(&address, peer);
    return fd;
}

int net_connect(const char *host, long port, char *error, size_t size)
{
    struct addrinfo hints, *addresses, *address;
    char service[8];
    int fd = -1, status, saved_errno = 0;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof service, "%ld", port);
    status = getaddrinfo(host, service, &hints, &addresses);
    if (status != 0) {
        snprintf(error, size, "getaddrinfo: %s: %s", host, gai_strerror(status));
        return -1;
    }
    for (address = addresses; address != NULL; address = address->ai_next) {
        fd = socket(address->ai_family, address->ai_socktype, address->ai_protocol);
        if (fd == -1) {
            saved_errno = errno;
            continue;
        }
        if (connect(fd, address->ai_addr, address->ai_addrlen) == 0)
            break;
        saved_errno = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(addresses);
    if (fd == -1)
        snprintf(error, size, "connect: %s", strerror(saved_errno));
    return fd;
}

int net_set_nonblocking(int fd, int on)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags == -1)
        return -1;
    if (on == ((flags & O_NONBLOCK) != 0))
        return 0; /* already so */
    return fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
}

/* Stops the program where a step is still to be written. Delete the call
 * once you have written the step, with the "(void)name;" lines next to it
 * (they only keep the compiler quiet about names nothing uses yet). Then
 * delete this function as well. */
static void todo(int step, const char *what)
{
    fprintf(stderr, "TODO step %d: %s (see README.md, step %d)\n", step, what, step);
    exit(3);
}

int send_all(int fd, const void *buf, size_t len)
{
    const char *next = buf;
    ssize_t sent;

    /* TODO step 3 (README step 3): send all len bytes, however few each
     * send() (man 2 send) takes: go on from where it stopped. EINTR:
     * nothing was taken, send again. Returns 0 once every byte went (at
     * once when len is 0), -1 on any other failure, errno as send() set it
     * (EPIPE or ECONNRESET: the peer is gone). next walks the bytes:
     * arithmetic on a void * is not C. (make hint LAB=02 STEP=3) */
    (void)fd;
    (void)len;
    (void)next;
    (void)sent;
    todo(3, "send every byte, in a loop (send_all)");
    return -1;
}
