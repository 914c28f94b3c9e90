#define _POSIX_C_SOURCE 200809L /* getaddrinfo */
#include "net_addr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "cli_util.h"

int net_addr_parse(const char *spec, int passive, struct sockaddr_storage *out,
                   socklen_t *out_len, char *err, size_t cap)
{
    char host[256], port[8];
    const char *p, *orig = spec;
    size_t hl;
    unsigned long long pv;
    struct addrinfo hints, *res = NULL;
    int e;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':') {
            snprintf(err, cap, "%s: write an IPv6 address as [ADDRESS]:PORT", spec);
            return NET_ADDR_SYNTAX;
        }
        hl = (size_t)(close - spec - 1);
        p = close + 2;
        spec++;
    } else {
        const char *colon = strrchr(spec, ':');
        if (!colon) {
            snprintf(err, cap, "%s: expected HOST:PORT (e.g. 127.0.0.1:5005)", spec);
            return NET_ADDR_SYNTAX;
        }
        hl = (size_t)(colon - spec);
        if (memchr(spec, ':', hl)) {
            snprintf(err, cap, "%s: write an IPv6 address as [ADDRESS]:PORT", spec);
            return NET_ADDR_SYNTAX;
        }
        p = colon + 1;
    }
    if (hl == 0 || hl >= sizeof host) {
        snprintf(err, cap, "%s: the host is empty or too long", orig);
        return NET_ADDR_SYNTAX;
    }
    memcpy(host, spec, hl);
    host[hl] = '\0';
    if (!cli_parse_ull(p, 10, 65535, &pv) || (!passive && pv == 0)) {
        snprintf(err, cap, "%s: the port must be %s..65535", orig, passive ? "0" : "1");
        return NET_ADDR_SYNTAX;
    }
    snprintf(port, sizeof port, "%u", (unsigned)pv);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    e = getaddrinfo(host, port, &hints, &res);
    if (e != 0 || !res) {
        snprintf(err, cap, "cannot resolve %s: %s", host, e ? gai_strerror(e) : "no address");
        return NET_ADDR_RESOLVE;
    }
    if ((res->ai_family != AF_INET && res->ai_family != AF_INET6) ||
        (size_t)res->ai_addrlen > sizeof *out) {
        freeaddrinfo(res);
        snprintf(err, cap, "%s is neither an IPv4 nor an IPv6 address", host);
        return NET_ADDR_RESOLVE;
    }
    memset(out, 0, sizeof *out);
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *out_len = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
    return NET_ADDR_OK;
}

void net_addr_format(const struct sockaddr *a, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)a;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
        snprintf(out, cap, "%s:%u", host, (unsigned)ntohs(v4->sin_port));
    } else if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)a;
        inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
        snprintf(out, cap, "[%s]:%u", host, (unsigned)ntohs(v6->sin6_port));
    } else {
        snprintf(out, cap, "?");
    }
}

int net_addr_equal(const struct sockaddr_storage *a, socklen_t al,
                   const struct sockaddr_storage *b, socklen_t bl)
{
    if (al != bl || a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)(const void *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)(const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)(const void *)a;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)(const void *)b;
        return x->sin6_port == y->sin6_port &&
               !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr);
    }
    return al <= sizeof *a && !memcmp(a, b, al);
}
