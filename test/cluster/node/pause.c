/* The sandbox ("pause") container of the test node: holds the pod's namespaces and reaps nothing
 * else. Built static so the image needs no libc. SIGTERM/SIGINT end it, like the upstream pause. */
#include <signal.h>
#include <unistd.h>

static void leave(int sig) { (void)sig; _exit(0); }

int main(void) {
  signal(SIGTERM, leave);
  signal(SIGINT, leave);
  for (;;) pause();
}
