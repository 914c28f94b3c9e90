/* Socket addresses for the network commands (`serve`, `replay`): "HOST:PORT"
 * or "[IPV6]:PORT" parsed and resolved, and printed back the same way. */
#ifndef AETHER_TOOLS_NET_ADDR_H
#define AETHER_TOOLS_NET_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

enum {
    NET_ADDR_OK = 0,
    NET_ADDR_SYNTAX, /* not HOST:PORT / [V6]:PORT, empty host, port out of range */
    NET_ADDR_RESOLVE /* the host does not resolve to an IPv4 or IPv6 address */
};

/* Parse and resolve spec into *out (the first address getaddrinfo gives).
 * passive: a local address to bind (port 0 allowed, "0.0.0.0" and "::"
 * meaning any); otherwise a destination (port 1..65535). On failure a
 * message naming the problem is written to err (cap bytes). */
int net_addr_parse(const char *spec, int passive, struct sockaddr_storage *out,
                   socklen_t *out_len, char *err, size_t cap);

/* "1.2.3.4:5005" or "[::1]:5005" ("?" for another family). */
void net_addr_format(const struct sockaddr *a, char *out, size_t cap);

/* Same family, address and port. */
int net_addr_equal(const struct sockaddr_storage *a, socklen_t al,
                   const struct sockaddr_storage *b, socklen_t bl);

#endif
