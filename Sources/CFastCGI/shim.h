// libfcgi's reentrant API (FCGX_*) and the protocol constants. fcgi_stdio.h is deliberately
// not included: its printf/stdin macros are process-global and cannot serve threads.
#include <fcgiapp.h>
#include <fastcgi.h>

// The accept loop waits in epoll (EPOLLEXCLUSIVE); Swift's Glibc module leaves this header out.
#include <sys/epoll.h>

// A TCP port of our own stops admitting new connections at shutdown with a socket filter
// (struct sock_filter, sock_fprog); Swift's Glibc module leaves this header out too.
#include <linux/filter.h>
