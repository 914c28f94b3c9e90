/*
 * Helpers of the `aether serve` tests: start the CLI, wait for its
 * "listening" line, read fields and counters out of its JSON lines, a
 * loopback UDP socket of the test. Included after cli_run.h.
 */
#ifndef AETHER_TESTS_SERVE_RUN_H
#define AETHER_TESTS_SERVE_RUN_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aether/csi.h"
#include "aether/recording.h"

/* Spawn the CLI; stdout into g_dir/out_name, stderr into g_dir/err_name. */
static inline pid_t spawn(const char *const *args, const char *out_name, const char *err_name)
{
    return spawn_program(g_cli, args, -1, out_name, err_name);
}

/* The port of serve's first "listening" line in g_dir/out_name (waits for
 * it at most 10 s); 0 if none came. */
static inline unsigned wait_port(const char *out_name, pid_t pid)
{
    double end = now_s() + 10.0;
    while (now_s() < end) {
        char *s = read_named(out_name), *p;
        unsigned port = 0;
        int status;
        if (s && (p = strstr(s, "\"type\":\"listening\"")) && (p = strchr(p, '}'))) {
            char *q = p;
            while (q > s && q[-1] != ':')
                q--;
            port = (unsigned)strtoul(q, NULL, 10);
        }
        free(s);
        if (port)
            return port;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return 0;
        nap_ms(5);
    }
    return 0;
}

/* Frames the library reads from the excerpt (what replay sends). */
static inline unsigned long count_frames(const char *path)
{
    aether_recording *r = NULL;
    aether_csi_frame f;
    unsigned long n = 0;
    if (aether_recording_open(path, NULL, &r) != AETHER_OK)
        return 0;
    while (n < 100000 && aether_recording_next(r, &f) == AETHER_OK)
        n++;
    aether_recording_close(r);
    return n;
}

/* The value text of "key": in a JSON line (up to the next , or } at depth
 * 0, or the closing ] of an array) into out; 0 if absent. */
static inline int field(const char *line, const char *key, char *out, size_t cap)
{
    char k[64];
    const char *p, *end;
    size_t n;
    snprintf(k, sizeof k, "\"%s\":", key);
    p = strstr(line, k);
    if (!p)
        return 0;
    p += strlen(k);
    if (*p == '[')
        end = strchr(p, ']') ? strchr(p, ']') + 1 : NULL;
    else
        end = p + strcspn(p, ",}\n");
    if (!end)
        return 0;
    n = (size_t)(end - p);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 1;
}

/* The decision lines of text whose "model" is model (NULL: any) reduced to
 * node|frame|class|label|margin|logits, one a line, into a new string. */
static inline char *decision_keys(const char *text, const char *model, size_t *count)
{
    size_t cap = text ? strlen(text) + 1 : 1, k = 0;
    char *o = (char *)calloc(cap, 1);
    const char *line = text;
    *count = 0;
    while (o && line && *line) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        char buf[4096], v[6][1024], m[128];
        if (n < sizeof buf && !strncmp(line, "{\"type\":\"decision\"", 18)) {
            memcpy(buf, line, n);
            buf[n] = '\0';
            if (!model ||
                (field(buf, "model", m, sizeof m) && m[0] == '"' &&
                 !strncmp(m + 1, model, strlen(model)) && m[1 + strlen(model)] == '"')) {
                int ok = field(buf, "node", v[0], sizeof v[0]) &&
                         field(buf, "frame", v[1], sizeof v[1]) &&
                         field(buf, "class", v[2], sizeof v[2]) &&
                         field(buf, "label", v[3], sizeof v[3]) &&
                         field(buf, "margin", v[4], sizeof v[4]) &&
                         field(buf, "logits", v[5], sizeof v[5]);
                if (ok)
                    k += (size_t)snprintf(o + k, cap - k, "%s|%s|%s|%s|%s|%s\n", v[0], v[1], v[2],
                                          v[3], v[4], v[5]);
                (*count)++;
            }
        }
        line += n + (nl ? 1 : 0);
    }
    return o;
}

/* The final stats line of text (a copy), NULL if none. */
static inline char *final_stats(const char *text)
{
    const char *p = text ? strstr(text, "{\"type\":\"stats\",\"final\":true") : NULL;
    size_t n;
    char *o;
    if (!p)
        return NULL;
    n = strcspn(p, "\n");
    o = (char *)malloc(n + 1);
    if (o) {
        memcpy(o, p, n);
        o[n] = '\0';
    }
    return o;
}

/* An unsigned counter "key":N in a stats line (the first one); -1 if absent. */
static inline long long counter(const char *line, const char *key)
{
    char v[64];
    if (!line || !field(line, key, v, sizeof v))
        return -1;
    return strtoll(v, NULL, 10);
}

/* A loopback UDP socket of the test (ephemeral port). */
static inline int test_socket(unsigned *port)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
        close(fd);
        return -1;
    }
    if (port)
        *port = ntohs(a.sin_port);
    return fd;
}

static inline int send_to(int fd, unsigned port, const void *b, size_t len)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    return sendto(fd, b, len, 0, (struct sockaddr *)&a, sizeof a) == (ssize_t)len;
}

/* An ADR-018 frame of node `node`, 1 antenna x 64 subcarriers, I/Q bytes
 * from a simple pattern (all zero when zero is set). */
static inline size_t make_frame(unsigned char *out, size_t cap, unsigned node, uint32_t seq,
                                int zero)
{
    int8_t iq[128];
    aether_csi_frame f;
    size_t i, len = 0;
    for (i = 0; i < sizeof iq; ++i)
        iq[i] = zero ? 0 : (int8_t)(((i * 7 + seq * 3) % 23) + 1);
    memset(&f, 0, sizeof f);
    f.kind = AETHER_CSI_RAW_IQ;
    f.n_pairs = 64;
    f.iq = iq;
    f.node_id = node;
    f.flags = AETHER_CSI_HAS_NODE | AETHER_CSI_HAS_HEADER;
    f.n_antennas = 1;
    f.freq_mhz = 2437;
    f.sequence = seq;
    if (aether_adr018_encode(&f, out, cap, &len) != AETHER_OK)
        return 0;
    return len;
}

/* Serve on 127.0.0.1 with models, fed by replay of the excerpt; the decision
 * lines of each model equal those of `aether run --every 50 --json`. */
/* A loopback TCP port nobody listens on now (for a broker or server the
 * test starts). */
static inline unsigned free_tcp_port(void)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    unsigned port = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* 1 when something accepts TCP connections on the loopback port. */
static inline int tcp_accepts(unsigned port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Start prog with args (its output into files of g_dir) and wait at most
 * 10 s for it to accept TCP connections on the loopback port: its pid, or
 * -1 (the child, if started, is then stopped). */
static inline pid_t start_listener(const char *prog, const char *const *args,
                                   const char *out_name, const char *err_name, unsigned port)
{
    pid_t pid = spawn_program(prog, args, -1, out_name, err_name);
    double end = now_s() + 10.0;
    while (pid > 0 && now_s() < end) {
        if (tcp_accepts(port))
            return pid;
        nap_ms(20);
    }
    if (pid > 0) {
        kill(pid, SIGTERM);
        wait_child(pid, 10.0);
    }
    return -1;
}

/* SIGTERM to *pid (if running), reaped within 10 s (killed after); *pid = -1. */
static inline void stop_child(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGTERM);
        wait_child(*pid, 10.0);
    }
    *pid = -1;
}

/* ---------------- TLS certificates (the openssl command) ---------------- */

#ifndef OPENSSL_CLI
#define OPENSSL_CLI ""
#endif

/* 1 when the openssl command is there to make test certificates. */
static inline int have_openssl(void)
{
    return OPENSSL_CLI[0] && access(OPENSSL_CLI, X_OK) == 0;
}

/* The openssl command with args (absolute paths); 1 on exit 0. */
static inline int openssl_run(const char *const *args)
{
    return wait_child(spawn_program(OPENSSL_CLI, args, -1, "openssl.txt", "openssl_err.txt"),
                      60.0) == 0;
}

/* A P-256 key NAME.key and certificate NAME.pem: self-signed CA when ca is
 * NULL, else signed by CA ca (.pem/.key) with subjectAltName san. */
static inline int make_cert(const char *name, const char *ca, const char *san)
{
    char key[512], pem[512], csr[512], ext[512], cap[512], cak[512], subj[128], line[160];
    path_of(key, sizeof key, name);
    strcat(key, ".key");
    path_of(pem, sizeof pem, name);
    strcat(pem, ".pem");
    path_of(csr, sizeof csr, name);
    strcat(csr, ".csr");
    snprintf(subj, sizeof subj, "/CN=aether test %s", name);
    if (!ca) {
        const char *a[] = {"req",  "-x509", "-newkey", "ec",    "-pkeyopt",
                           "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                           "-out", pem,     "-days",   "2",     "-subj", subj, NULL};
        return openssl_run(a);
    }
    {
        const char *a[] = {"req",     "-new",  "-newkey", "ec",   "-pkeyopt",
                           "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                           "-out",    csr,     "-subj",   subj,   NULL};
        if (!openssl_run(a))
            return 0;
    }
    snprintf(line, sizeof line, "subjectAltName=%s\n", san);
    if (!write_bytes("san.ext", line, strlen(line)))
        return 0;
    path_of(ext, sizeof ext, "san.ext");
    path_of(cap, sizeof cap, ca);
    strcat(cap, ".pem");
    path_of(cak, sizeof cak, ca);
    strcat(cak, ".key");
    {
        const char *a[] = {"x509", "-req",   "-in",     csr,   "-CA",      cap,  "-CAkey",
                           cak,    "-set_serial", "7",  "-out", pem,     "-days", "2",
                           "-extfile", ext, NULL};
        return openssl_run(a);
    }
}

/* The test certificates in g_dir (NAME.pem, NAME.key): CA "ca", another CA
 * "other" that signs nothing, and signed by ca: "server" for 127.0.0.1,
 * "elsewhere" for another host name, "client" (a client certificate). */
typedef struct test_pki {
    char ca[512], other[512], client[512], client_key[512];
} test_pki;

/* Make them; 1 when all exist, with the paths the clients need in *p. */
static inline int make_test_pki(test_pki *p)
{
    path_of(p->ca, sizeof p->ca, "ca.pem");
    path_of(p->other, sizeof p->other, "other.pem");
    path_of(p->client, sizeof p->client, "client.pem");
    path_of(p->client_key, sizeof p->client_key, "client.key");
    return make_cert("ca", NULL, NULL) && make_cert("other", NULL, NULL) &&
           make_cert("server", "ca", "IP:127.0.0.1") &&
           make_cert("elsewhere", "ca", "DNS:elsewhere.invalid") &&
           make_cert("client", "ca", "DNS:client.invalid");
}

#endif
