/* net.h - what lab01 taught, written once: the command line, the listening
 * socket (IPv6 and IPv4 at once), accept, connect, the stop signals, and the
 * send loop (see net.c). */
#ifndef NET_H
#define NET_H

#include <stddef.h>
#include <stdio.h>

#define NET_DEFAULT_PORT 12800          /* the course's port */
#define NET_DEFAULT_HOST "localhost"    /* the server runs on this machine */
/* Room for a peer as printed: "[IPv6 address]:65535" and its NUL. */
#define NET_PEER_SIZE 56

/* What the server's command line asks for: [-q|--quiet] [PORT]. */
struct net_server_args {
    long port;                  /* 0 to 65535; 0 lets the system choose */
    int quiet;                  /* -q: no line per client or per message */
    const char *bad;            /* the argument that is wrong, or NULL */
};

/* What the client's command line asks for: [--latin1] [HOST [PORT]]. */
struct net_client_args {
    const char *host;
    long port;                  /* 1 to 65535 */
    int latin1;                 /* --latin1: the terminal speaks ISO-8859-1 */
    const char *bad;            /* the argument that is wrong, or NULL */
};

enum net_args_result { NET_ARGS_OK, NET_ARGS_HELP, NET_ARGS_BAD };

/* Reads the server's arguments into *args (defaults: port 12800, not quiet).
 * Returns NET_ARGS_OK, NET_ARGS_HELP for -h or --help anywhere, or
 * NET_ARGS_BAD with args->bad set. Prints nothing. */
enum net_args_result net_server_args(int argc, char *argv[], struct net_server_args *args);

/* The same for the client (defaults: localhost, 12800, no --latin1).
 * --latin1 is taken before HOST only. */
enum net_args_result net_client_args(int argc, char *argv[], struct net_client_args *args);

/* Prints the usage line on out; when bad is not NULL, first a line naming
 * that argument. */
void net_server_usage(FILE *out, const char *program, const char *bad);
void net_client_usage(FILE *out, const char *program, const char *bad);

/* Ignores SIGPIPE, so that writing to a vanished peer fails with EPIPE
 * instead of killing the process, and, if on_stop is not NULL, installs it
 * for SIGINT and SIGTERM without SA_RESTART, so that a blocked call returns
 * EINTR. Returns 0, or -1 with errno set. */
int net_catch_signals(void (*on_stop)(int));

/* Creates a TCP socket listening on every local address, IPv6 and IPv4
 * alike (one AF_INET6 socket with IPV6_V6ONLY off, bound to ::; IPv4 alone
 * where the system has no IPv6 or keeps IPV6_V6ONLY on), with SO_REUSEADDR,
 * on port (0: the system chooses), with the given backlog. Stores the port
 * really used in *bound_port. Returns the socket, or -1 with errno set and
 * *failed_call naming the call that failed ("bind"), for the error line. */
int net_listen(long port, int backlog, int *bound_port, const char **failed_call);

/* Accepts a connection and writes its peer into peer as the contract
 * prints it: "127.0.0.1:52584", "[::1]:52584" (an IPv4 client of the IPv6
 * socket is shown as IPv4). The new socket is blocking, whatever the
 * listener is (on BSD and macOS it would inherit O_NONBLOCK). Returns it,
 * or -1 with errno as accept() set it (EINTR, ECONNABORTED, EMFILE, ...),
 * or as fcntl() did if the socket could not be made blocking (then closed). */
int net_accept(int listen_fd, char peer[NET_PEER_SIZE]);

/* Connects to host:port, trying in turn each address the resolver gives
 * (IPv6 and IPv4 for "localhost"). Returns the socket, or -1 with a line
 * such as "connect: Connection refused" written into error (size bytes). */
int net_connect(const char *host, long port, char *error, size_t size);

/* Makes fd non-blocking (on = 1: a call that would wait fails with EAGAIN)
 * or blocking again (on = 0). Returns 0, or -1 with errno set. */
int net_set_nonblocking(int fd, int on);

/* Sends all len bytes of buf on the connected socket fd, calling send() as
 * often as needed: send() may take fewer bytes than asked. Safe for len 0.
 * Returns 0 once everything is sent, -1 on error with errno set (EPIPE or
 * ECONNRESET: the peer is gone). Retries only when send() was interrupted
 * (EINTR). SIGPIPE must be ignored by the caller. */
int send_all(int fd, const void *buf, size_t len);

/* --- Added for lab03: what a select() loop needs around it, written once.
 * A poll() or select() loop sleeps until a descriptor it watches is ready;
 * these give it a pipe to be woken through, a listener that never blocks,
 * and a way out when it runs out of descriptors. */

/* The byte the stop handler writes into the wake-up pipe. */
#define NET_WAKE_STOP 's'

/* Creates the wake-up pipe of a poll() or select() loop: the loop watches
 * pipe_fds[0]; a signal handler or another thread writes one byte into
 * pipe_fds[1] to wake it. Both ends are non-blocking: the loop reads what
 * the pipe holds without waiting for more, and a writer never waits on a
 * full pipe (a full pipe already holds a wake-up). Then, as
 * net_catch_signals() does, ignores SIGPIPE and installs for SIGINT and
 * SIGTERM a handler that only writes NET_WAKE_STOP into pipe_fds[1] (write()
 * is async-signal-safe; the handler keeps errno). One per process: the
 * handler has one pipe to write to. Returns 0, or -1 with errno set and
 * nothing left open. */
int net_stop_pipe(int pipe_fds[2]);

/* The descriptors a server that waits in select() or poll() keeps around
 * its loop. */
struct net_loop {
    int listen_fd;              /* the listening socket, non-blocking */
    int wake_fds[2];            /* the stop pipe (net_stop_pipe()): watch wake_fds[0] */
    int spare_fd;               /* kept for net_refuse_with_spare(), or -1 */
};

/* Opens what such a server needs before it prints "listening": the
 * listening socket as net_listen() makes it, non-blocking (a connection
 * that goes away between the wake-up and accept() then makes accept() fail
 * with EAGAIN instead of waiting for the next one), the stop pipe with its
 * handler for SIGINT and SIGTERM (net_stop_pipe()), and the spare
 * descriptor (having none is no failure). Stores the port really used in
 * *bound_port. Returns 0, or -1 with errno set, *failed_call naming the
 * call that failed ("bind", "fcntl", "signals" for the stop pipe, ...) and
 * nothing left open. */
int net_loop_open(struct net_loop *loop, long port, int backlog, int *bound_port,
                  const char **failed_call);

/* Closes what net_loop_open() opened. */
void net_loop_close(struct net_loop *loop);

/* Refuses the new connection fd: sends it message (a short line: a new
 * socket takes a few bytes at once, send() does not wait), then closes it. */
void net_refuse(int fd, const char *message);

/* Out of descriptors (accept() failed with EMFILE or ENFILE), the waiting
 * connection stays in the listener's queue: the listener stays readable,
 * and a loop that watches it wakes for it again and again. This closes
 * *spare_fd (a descriptor kept open for this moment, on /dev/null), accepts
 * the connection on the descriptor so freed and refuses it with message
 * (net_refuse()), then opens the spare again. With *spare_fd at -1 it first
 * tries to open the spare. Returns 0, or -1 when there is no spare
 * (*spare_fd is -1: the limit is below it, or the system has no descriptor
 * left): then stop watching the listener for a while, and call again when
 * it is ready. */
int net_refuse_with_spare(int listen_fd, int *spare_fd, const char *message);

/* --- Added for lab04: the wake-up pipe carries more than the stop: other
 * threads write their own bytes into wake_fds[1] to wake the loop. */

/* Reads every byte the wake-up pipe holds (read_fd: its non-blocking read
 * end), so that poll() or select() sleeps again. Returns NET_WAKE_STOP if
 * it was among them, else the last byte read, or -1 if there was none. */
int net_read_wake_pipe(int read_fd);

#endif
