/* The kernel's cost of one upstream UDP socket, as Ward opens one every 64 queries for a
 * fresh random source port (crates/ward-dns/src/upstream/udp.rs): socket, bind to a
 * random port, connect, epoll add and delete, close. Prints the process' CPU time (user
 * and system) per cycle. Loopback only; nothing is sent.
 *
 *   cc -O2 -o /tmp/socket-cycle benches/dnsperf/socket-cycle.c && /tmp/socket-cycle 200000
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static double cpu_us(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 + r.ru_utime.tv_usec +
         r.ru_stime.tv_usec;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 100000;
  int ep = epoll_create1(0);
  struct sockaddr_in upstream = {.sin_family = AF_INET, .sin_port = htons(5799)};
  inet_pton(AF_INET, "127.0.0.1", &upstream.sin_addr);
  if (n <= 0 || ep < 0) {
    fprintf(stderr, "usage: socket-cycle CYCLES\n");
    return 2;
  }
  double start = cpu_us();
  for (int i = 0; i < n; i++) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) {
      perror("socket");
      return 1;
    }
    struct sockaddr_in local = {.sin_family = AF_INET};
    do {
      local.sin_port = htons(1024 + rand() % 64512);
    } while (bind(s, (struct sockaddr *)&local, sizeof local) != 0);
    connect(s, (struct sockaddr *)&upstream, sizeof upstream);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET};
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
    epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL);
    close(s);
  }
  printf("%.2f µs of CPU per socket cycle (%d cycles)\n", (cpu_us() - start) / n, n);
  return 0;
}
