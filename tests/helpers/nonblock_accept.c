/* nonblock_accept.so: makes Linux accept() behave as on BSD and macOS, where
 * the accepted socket inherits O_NONBLOCK from a non-blocking listener (on
 * Linux it never does). A server that recv()s on it as if it blocked then
 * fails at once with EAGAIN there; tests/run preloads this into the lab03
 * and lab04 servers (LAB_PRELOAD) to catch that without a BSD machine. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

/* The C library that holds the real accept(). dlopen() it rather than
 * dlsym(RTLD_NEXT): RTLD_NEXT needs _GNU_SOURCE, under which glibc declares
 * accept() with a GNU transparent union that an ISO C definition cannot
 * match (gcc -Wpedantic warns). The servers call accept() itself (nm -D);
 * accept4() is left alone: on FreeBSD, as on Linux, its flags alone decide
 * O_NONBLOCK, and macOS has none. */
#define LIBC_NAME "libc.so.6"

typedef int accept_function(int, struct sockaddr *restrict, socklen_t *restrict);

static accept_function *real_accept; /* set once by find_real_accept */
static pthread_once_t real_accept_once = PTHREAD_ONCE_INIT;

/* Sets real_accept to the C library's accept(), or leaves it NULL. */
static void find_real_accept(void)
{
    void *libc = dlopen(LIBC_NAME, RTLD_LAZY);
    void *symbol = libc != NULL ? dlsym(libc, "accept") : NULL;

    /* ISO C has no conversion from void * to a function pointer; POSIX
     * guarantees that they have the same representation. */
    if (symbol != NULL)
        memcpy(&real_accept, &symbol, sizeof real_accept);
}

/* accept() as BSD does it: the new socket is non-blocking when the listener
 * is. Same contract as accept(); errno is untouched on success. */
int accept(int listen_fd, struct sockaddr *restrict address, socklen_t *restrict address_len)
{
    int fd, listen_flags, flags, saved_errno;

    pthread_once(&real_accept_once, find_real_accept);
    if (real_accept == NULL) {
        errno = ENOSYS; /* the server then logs "accept: Function not implemented" */
        return -1;
    }
    fd = real_accept(listen_fd, address, address_len);
    if (fd == -1)
        return -1;
    saved_errno = errno;
    listen_flags = fcntl(listen_fd, F_GETFL);
    flags = fcntl(fd, F_GETFL);
    if (listen_flags != -1 && flags != -1 && (listen_flags & O_NONBLOCK))
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    errno = saved_errno;
    return fd;
}
