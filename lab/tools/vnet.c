/* vnet: the lab's network test tool (static, for dom0 and the busybox guests).
 *   vnet gen BYTES SEED          pseudo-random bytes to stdout (xorshift64*)
 *   vnet send HOST PORT          stdin to a TCP connection; half-close; wait for the peer's EOF
 *   vnet recv PORT               accept one connection; its bytes to stdout until EOF
 *   vnet sink PORT               accept connections forever; read each to EOF, then close
 *   vnet load BUSY_MS IDLE_MS    forever: spin BUSY_MS, sleep IDLE_MS (a VM's CPU load)
 *   vnet lazy PORT BACKLOG WAIT_MS N [FILL]
 *        listen(BACKLOG), accept nothing for WAIT_MS once the first connection is queued
 *        (the accept queue overflows), then accept N connections, read each to EOF and
 *        check its bytes (see burst); prints "LAZY PORT conn K bytes=B ok|bad" per
 *        connection and "LAZY PORT done ok=X bad=Y". With FILL > 0 the listener defers accept
 *        (TCP_DEFER_ACCEPT: a connection completes with its first data, not the third
 *        ACK); as soon as a remote connection is half-open (SYN_RECV in /proc/net/tcp)
 *        it fills its own accept queue with FILL loopback connections, so that the remote
 *        peer's first data finds the queue full and Linux drops it; WAIT_MS later it
 *        accepts the FILL local and N remote connections (only the remote ones count);
 *        prints "LAZY PORT overflows while full: N" (TcpExt ListenOverflows meanwhile).
 *   vnet burst HOST PORT N BYTES [DELAY_MS]
 *        N connections at once (non-blocking connects); each sends, DELAY_MS after it is
 *        connected, a 4-byte index K and BYTES - 4 bytes of a pattern of K, half-closes and
 *        waits for the peer's EOF; prints "BURST PORT done ok=X failed=Y".
 *   vnet bench HOST PORT BYTES COUNT [WARMUP]
 *        COUNT transfers of BYTES: connect, write, shutdown(SHUT_WR), wait for EOF from a
 *        sink. Prints one line per sample ("SAMPLE i ms mbps acked_ms") and a summary line
 *        "BENCH bytes=N count=N median_mbps=X p10_mbps=X p90_mbps=X median_ms=X".
 * Exit status 0 on success. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int dial(const char *host, int port) {
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) { fprintf(stderr, "vnet: bad address %s\n", host); exit(2); }
  /* The peer's listener may still be starting: retry refused connects for 20 s. */
  for (int tries = 0;; tries++) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) { perror("vnet: socket"); exit(1); }
    if (!connect(s, (struct sockaddr *)&a, sizeof a)) return s;
    if ((errno != ECONNREFUSED && errno != EHOSTUNREACH) || tries >= 200) { perror("vnet: connect"); exit(1); }
    close(s);
    usleep(100000);
  }
}

static int listen_on(int port) {
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = INADDR_ANY };
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 16)) { perror("vnet: listen"); exit(1); }
  return s;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    p += w; n -= (size_t)w;
  }
  return 0;
}

static void drain(int fd) { /* read until EOF */
  static char buf[65536];
  while (read(fd, buf, sizeof buf) > 0) {}
}

static unsigned char pattern(uint32_t k, long j) { return (unsigned char)(k * 31 + j * 7 + (j >> 8)); }

static void timeouts(int fd, int seconds) {
  struct timeval tv = { .tv_sec = seconds };
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* TcpExt ListenOverflows: SYNs and completing segments Linux dropped for a full accept queue. */
static long listen_overflows(void) {
  char h[4096], v[4096];
  long r = -1;
  FILE *f = fopen("/proc/net/netstat", "r");
  while (f && fgets(h, sizeof h, f) && fgets(v, sizeof v, f)) {
    if (strncmp(h, "TcpExt:", 7)) continue;
    char *hs, *vs, *ht = strtok_r(h, " \n", &hs), *vt = strtok_r(v, " \n", &vs);
    while (ht && vt) {
      if (!strcmp(ht, "ListenOverflows")) r = atol(vt);
      ht = strtok_r(0, " \n", &hs);
      vt = strtok_r(0, " \n", &vs);
    }
  }
  if (f) fclose(f);
  return r;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  static char buf[65536];
  if (argc >= 4 && !strcmp(argv[1], "gen")) {
    unsigned long long left = strtoull(argv[2], 0, 0);
    uint64_t x = strtoull(argv[3], 0, 0) * 0x9E3779B97F4A7C15ULL + 1;
    while (left) {
      size_t n = left < sizeof buf ? left : sizeof buf;
      for (size_t i = 0; i < n; i += 8) {
        x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
        uint64_t v = x * 0x2545F4914F6CDD1DULL;
        memcpy(buf + i, &v, 8);
      }
      if (write_all(1, buf, n)) return 1;
      left -= n;
    }
    return 0;
  }
  if (argc == 4 && !strcmp(argv[1], "send")) {
    int s = dial(argv[2], atoi(argv[3]));
    ssize_t r;
    while ((r = read(0, buf, sizeof buf)) > 0) if (write_all(s, buf, (size_t)r)) { perror("vnet: write"); return 1; }
    shutdown(s, SHUT_WR);
    drain(s);
    return 0;
  }
  if (argc == 3 && !strcmp(argv[1], "recv")) {
    int l = listen_on(atoi(argv[2])), c = accept(l, 0, 0);
    ssize_t r;
    if (c < 0) { perror("vnet: accept"); return 1; }
    while ((r = read(c, buf, sizeof buf)) > 0) if (write_all(1, buf, (size_t)r)) return 1;
    close(c);
    return 0;
  }
  if (argc == 3 && !strcmp(argv[1], "sink")) {
    int l = listen_on(atoi(argv[2]));
    for (;;) {
      int c = accept(l, 0, 0);
      if (c < 0) continue;
      drain(c);
      close(c);
    }
  }
  if ((argc == 6 || argc == 7) && !strcmp(argv[1], "lazy")) {
    int port = atoi(argv[2]), fill = argc == 7 ? atoi(argv[6]) : 0;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = INADDR_ANY };
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1, n = atoi(argv[5]), ok = 0, bad = 0, defer = 30;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fill > 0) setsockopt(l, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof defer);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, atoi(argv[3]))) { perror("vnet: listen"); return 1; }
    printf("LAZY %d listening\n", port);
    fflush(stdout);
    if (fill > 0) {
      /* Wait for a half-open connection on our port: " 0100000A:138B 0C00000A:9C40 03 ". */
      char want[16], line[256];
      snprintf(want, sizeof want, ":%04X ", port);
      int seen = 0;
      for (double t0 = now_ms(); !seen && now_ms() - t0 < 300000;) {
        FILE *f = fopen("/proc/net/tcp", "r");
        while (f && fgets(line, sizeof line, f)) {
          char *p = strstr(line, want);
          if (p && p - line < 24 && !strncmp(p + 6 + 14, "03 ", 3)) seen = 1;
        }
        if (f) fclose(f);
        if (!seen) usleep(2000);
      }
      if (!seen) { printf("LAZY %d done ok=0 bad=0 (no half-open connection in 300 s)\n", port); return 1; }
      struct sockaddr_in lo = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
      for (int i = 0; i < fill; i++) {
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(c, (struct sockaddr *)&lo, sizeof lo) || write(c, "L", 1) != 1) { perror("vnet: local fill"); return 1; }
        /* kept open: the listener reads it to EOF only after shutdown below */
        shutdown(c, SHUT_WR);
      }
      printf("LAZY %d filled the accept queue with %d local connections\n", port, fill);
      fflush(stdout);
      long before = listen_overflows();
      usleep((useconds_t)(atof(argv[4]) * 1000));
      printf("LAZY %d overflows while full: %ld\n", port, listen_overflows() - before);
      fflush(stdout);
    } else {
      /* The wait starts when the first connection is in the accept queue. */
      struct pollfd lp = { .fd = l, .events = POLLIN };
      if (poll(&lp, 1, 300000) != 1) { printf("LAZY %d done ok=0 bad=0 (no connection in 300 s)\n", port); return 1; }
      usleep((useconds_t)(atof(argv[4]) * 1000));
    }
    timeouts(l, 120);
    for (int i = 0; i < n + fill; i++) {
      struct sockaddr_in peer;
      socklen_t pl = sizeof peer;
      int c = accept(l, (struct sockaddr *)&peer, &pl);
      if (c < 0) { perror("vnet: accept"); break; }
      timeouts(c, 60);
      if (peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK)) { drain(c); close(c); continue; }
      uint32_t k = 0;
      long got = 0, mism = 0;
      unsigned char hdr[4];
      ssize_t r;
      while ((r = read(c, buf, sizeof buf)) > 0) {
        for (ssize_t x = 0; x < r; x++, got++) {
          unsigned char b = (unsigned char)buf[x];
          if (got < 4) { hdr[got] = b; if (got == 3) k = (uint32_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3]; }
          else if (b != pattern(k, got - 4)) mism++;
        }
      }
      int good = r == 0 && got >= 4 && mism == 0;
      printf("LAZY %d conn %u bytes=%ld %s%s\n", port, k, got, good ? "ok" : "bad", r < 0 ? " (read error)" : "");
      fflush(stdout);
      good ? ok++ : bad++;
      close(c);
    }
    printf("LAZY %d done ok=%d bad=%d\n", port, ok, bad);
    return bad != 0 || ok != n;
  }
  if ((argc == 6 || argc == 7) && !strcmp(argv[1], "burst")) {
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[3])) };
    int n = atoi(argv[4]), ok = 0, failed = 0, port = atoi(argv[3]);
    useconds_t delay = argc == 7 ? (useconds_t)(atof(argv[6]) * 1000) : 0;
    long bytes = atol(argv[5]);
    if (inet_pton(AF_INET, argv[2], &a.sin_addr) != 1 || n < 1 || n > 64 || bytes < 4 || bytes > (long)sizeof buf) {
      fprintf(stderr, "vnet: bad burst arguments\n");
      return 2;
    }
    int s[64], sent[64] = { 0 };
    struct pollfd p[64];
    for (int k = 0; k < n; k++) {
      s[k] = socket(AF_INET, SOCK_STREAM, 0);
      fcntl(s[k], F_SETFL, O_NONBLOCK);
      if (connect(s[k], (struct sockaddr *)&a, sizeof a) && errno != EINPROGRESS) { perror("vnet: connect"); return 1; }
      p[k] = (struct pollfd){ .fd = s[k], .events = POLLOUT };
    }
    /* Connected: send the index and the pattern (blocking, with timeouts), half-close. */
    double t0 = now_ms();
    for (int left = n; left > 0 && now_ms() - t0 < 90000;) {
      if (poll(p, (nfds_t)n, 1000) < 0) { perror("vnet: poll"); return 1; }
      for (int k = 0; k < n; k++) {
        if (p[k].fd < 0 || !p[k].revents) continue;
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(s[k], SOL_SOCKET, SO_ERROR, &err, &el);
        fcntl(s[k], F_SETFL, 0);
        timeouts(s[k], 90);
        if (delay) usleep(delay);
        buf[0] = (char)(k >> 24); buf[1] = (char)(k >> 16); buf[2] = (char)(k >> 8); buf[3] = (char)k;
        for (long j = 4; j < bytes; j++) buf[j] = (char)pattern((uint32_t)k, j - 4);
        if (err || write_all(s[k], buf, (size_t)bytes)) {
          printf("BURST %d conn %d failed: %s\n", port, k, strerror(err ? err : errno));
          failed++;
        } else {
          shutdown(s[k], SHUT_WR);
          sent[k] = 1;
        }
        p[k].fd = -1;
        left--;
      }
    }
    for (int k = 0; k < n; k++) {
      if (p[k].fd >= 0) { printf("BURST %d conn %d failed: not connected in 90 s\n", port, k); failed++; }
      if (!sent[k]) { close(s[k]); continue; }
      ssize_t r;
      char tmp[256];
      while ((r = read(s[k], tmp, sizeof tmp)) > 0) {}
      if (r == 0) ok++;
      else { printf("BURST %d conn %d failed waiting for EOF: %s\n", port, k, strerror(errno)); failed++; }
      close(s[k]);
    }
    printf("BURST %d done ok=%d failed=%d\n", port, ok, failed);
    return failed != 0;
  }
  if (argc == 4 && !strcmp(argv[1], "load")) {
    double busy = atof(argv[2]), idle = atof(argv[3]);
    for (;;) {
      double t0 = now_ms();
      while (now_ms() - t0 < busy) {}
      usleep((useconds_t)(idle * 1000));
    }
  }
  if (argc >= 6 && !strcmp(argv[1], "bench")) {
    long bytes = atol(argv[4]), count = atol(argv[5]), warm = argc > 6 ? atol(argv[6]) : 2;
    double *mbps = calloc((size_t)count, sizeof *mbps), *ms = calloc((size_t)count, sizeof *ms);
    char *data = malloc((size_t)bytes);
    memset(data, 0x5a, (size_t)bytes);
    for (long i = -warm; i < count; i++) {
      double t0 = now_ms();
      int s = dial(argv[2], atoi(argv[3])), one = 1;
      setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (write_all(s, data, (size_t)bytes)) { perror("vnet: write"); return 1; }
      /* "all data acknowledged": the send queue (unacked bytes) is empty */
      double acked = -1;
      for (int spins = 0; spins < 2000000; spins++) {
        int outq = 0;
        if (ioctl(s, SIOCOUTQ, &outq) || outq == 0) { acked = now_ms() - t0; break; }
        usleep(50);
      }
      shutdown(s, SHUT_WR);
      drain(s);
      close(s);
      double t = now_ms() - t0;
      if (i < 0) continue;
      ms[i] = t;
      mbps[i] = bytes * 8.0 / (t * 1e3);
      printf("SAMPLE %ld %.3f %.2f %.3f\n", i, t, mbps[i], acked);
    }
    qsort(mbps, (size_t)count, sizeof *mbps, cmp_double);
    qsort(ms, (size_t)count, sizeof *ms, cmp_double);
    printf("BENCH bytes=%ld count=%ld median_mbps=%.2f p10_mbps=%.2f p90_mbps=%.2f median_ms=%.3f\n",
           bytes, count, mbps[count / 2], mbps[count / 10], mbps[(count * 9) / 10], ms[count / 2]);
    return 0;
  }
  fprintf(stderr, "usage: vnet gen BYTES SEED | send HOST PORT | recv PORT | sink PORT | load BUSY_MS IDLE_MS | lazy PORT BACKLOG WAIT_MS N [FILL] | burst HOST PORT N BYTES [DELAY_MS] | bench HOST PORT BYTES COUNT [WARMUP]\n");
  return 2;
}
