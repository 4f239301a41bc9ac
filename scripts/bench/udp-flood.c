// The UDP generator of scripts/bench/receive.mjs: COUNT JSON datagrams of 166 bytes to
// 127.0.0.1:PORT at RATE per second from one process, paced per batch of 64.
//   udp-flood PORT COUNT RATE [gso|mmsg]
// gso (the default): each batch is one sendmsg(2) with UDP_SEGMENT, which the kernel cuts into 64
// datagrams of equal size before they reach the receiving socket (the receiver reads them one by
// one as any others); the stack is walked once per batch, so the generator spends about 0.6 us of
// CPU per datagram instead of 2.5-3 us. mmsg: sendmmsg(2), 64 datagrams a call, each through the
// whole stack (for kernels without UDP GSO, before Linux 4.18). Node's dgram, one syscall and
// callback per datagram, topped out near 120,000 datagrams/s on the 2-core machine.
// Prints {"seconds":S,"cpu_s":C,"mode":M}: the time from the first send to the last, and its own
// CPU (user + system; on loopback the system part includes the delivery into the receiver's socket).
// Built at bench time: gcc -O2 -o udp-flood udp-flood.c
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define BATCH 64
#define DATAGRAM 166

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static char batch[BATCH * DATAGRAM];

/** Datagrams k .. k+n-1, back to back in `batch`; each is DATAGRAM bytes (the counter has a fixed width). */
static void fill(long k, int n) {
  static char pad[121];
  if (!pad[0]) memset(pad, 'x', 120);
  char one[256];
  for (int i = 0; i < n; i++) {
    snprintf(one, sizeof one, "{\"name\":\"svc%02ld\",\"text\":\"datagram %010ld %s\"}", (k + i) % 20, k + i, pad);
    memcpy(batch + i * DATAGRAM, one, DATAGRAM);
  }
}

static int send_gso(int fd, int n) {
  char control[CMSG_SPACE(sizeof(uint16_t))];
  memset(control, 0, sizeof control);
  struct iovec iov = {.iov_base = batch, .iov_len = (size_t)n * DATAGRAM};
  struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  struct cmsghdr *c = CMSG_FIRSTHDR(&h);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  *(uint16_t *)CMSG_DATA(c) = DATAGRAM;
  return sendmsg(fd, &h, 0) < 0 ? -1 : 0;
}

static int send_mmsg(int fd, int n) {
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < n; i++) {
    iov[i].iov_base = batch + i * DATAGRAM;
    iov[i].iov_len = DATAGRAM;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  for (int done = 0; done < n;) {
    int r = sendmmsg(fd, msgs + done, n - done, 0);
    if (r < 0) return -1;
    done += r;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 4 || argc > 5) {
    fprintf(stderr, "usage: udp-flood PORT COUNT RATE [gso|mmsg]\n");
    return 2;
  }
  int port = atoi(argv[1]);
  long count = atol(argv[2]);
  double rate = atof(argv[3]);
  int gso = argc < 5 || strcmp(argv[4], "mmsg") != 0;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof to) < 0) {
    perror("udp-flood: socket");
    return 1;
  }
  long sent = 0;
  double t0 = now();
  while (sent < count) {
    int n = count - sent > BATCH ? BATCH : (int)(count - sent);
    // Sleep until the whole batch is due.
    double wait = t0 + (double)(sent + n) / rate - now();
    if (wait > 0) {
      struct timespec ts = {.tv_sec = (time_t)wait, .tv_nsec = (long)((wait - (time_t)wait) * 1e9)};
      nanosleep(&ts, NULL);
    }
    fill(sent, n);
    if ((gso ? send_gso(fd, n) : send_mmsg(fd, n)) < 0) {
      // A kernel without UDP GSO: the rest goes datagram by datagram through sendmmsg.
      if (gso && (errno == EINVAL || errno == ENOPROTOOPT || errno == EOPNOTSUPP)) {
        gso = 0;
        continue;
      }
      perror("udp-flood: send");
      return 1;
    }
    sent += n;
  }
  double seconds = now() - t0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  printf("{\"seconds\":%.6f,\"cpu_s\":%.3f,\"mode\":\"%s\"}\n", seconds, cpu, gso ? "gso" : "mmsg");
  return 0;
}
