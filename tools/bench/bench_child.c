/* The benchmark's instance: its first act is to record when it started
 * (CLOCK_MONOTONIC) and its pid in $BENCH_DIR/start.$FLEET_INSTANCE, then it
 * sleeps until killed (printing one line first with BENCH_PRINT set). Linked statically so exec costs as little as possible. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const char* dir = getenv("BENCH_DIR");
  const char* instance = getenv("FLEET_INSTANCE");
  if (dir != NULL && instance != NULL) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/start.%s", dir, instance);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE* f = fopen(tmp, "w");
    if (f != NULL) {
      fprintf(f, "%d %lld\n", (int)getpid(), (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
      fclose(f);
      rename(tmp, path);
    }
  }
  /* BENCH_PRINT: one line of output, then silence (a log that goes stale). */
  if (getenv("BENCH_PRINT") != NULL) {
    printf("up\n");
    fflush(stdout);
  }
  for (;;) pause();
}
