// A scriptable child for integration tests: does what its flags say, in order,
// then sleeps until killed.
//   --print TEXT          print TEXT and a newline on stdout
//   --dump-fds FILE       write the open fds (one line, space-separated) to FILE
//   --dump-env FILE       write FLEET_* variables to FILE
//   --pid-file FILE       write its pid to FILE
//   --ignore-sigterm      ignore SIGTERM
//   --grandchild FILE     fork a child that ignores SIGTERM, sleeps, writes its pid to FILE
//   --setsid-grandchild FILE  the same, but the grandchild leaves the session
//                         and process group first (setsid), as daemons do
//   --spam BYTES          write BYTES bytes of output (lines of 'x')
//   --exit-after SECONDS  exit then (with --exit-code N, default 0)
//   --exit-when FILE      exit (with --exit-code) once FILE appears, unless it
//                         was there already at start (so a restarted copy stays)
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <string>

extern char** environ;

namespace {

void WriteFile(const char* path, const std::string& text) {
  std::string tmp = std::string(path) + ".tmp";
  FILE* f = fopen(tmp.c_str(), "w");
  if (f == nullptr) return;
  fputs(text.c_str(), f);
  fclose(f);
  rename(tmp.c_str(), path);
}

std::string OpenFds() {
  std::string out;
  DIR* d = opendir("/proc/self/fd");
  int self = dirfd(d);
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.' || atoi(e->d_name) == self) continue;
    out += std::string(out.empty() ? "" : " ") + e->d_name;
  }
  closedir(d);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  double exit_after = -1;
  int exit_code = 0;
  std::string exit_when;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : "";
    if (flag == "--print") {
      printf("%s\n", value);
      fflush(stdout);
      ++i;
    } else if (flag == "--dump-fds") {
      WriteFile(value, OpenFds());
      ++i;
    } else if (flag == "--dump-env") {
      std::string env;
      for (char** e = environ; *e != nullptr; ++e) {
        if (strncmp(*e, "FLEET_", 6) == 0) env += std::string(*e) + "\n";
      }
      WriteFile(value, env);
      ++i;
    } else if (flag == "--pid-file") {
      WriteFile(value, std::to_string(getpid()));
      ++i;
    } else if (flag == "--ignore-sigterm") {
      signal(SIGTERM, SIG_IGN);
    } else if (flag == "--grandchild" || flag == "--setsid-grandchild") {
      pid_t pid = fork();
      if (pid == 0) {
        if (flag == "--setsid-grandchild") setsid();
        signal(SIGTERM, SIG_IGN);
        // Written by the grandchild once it has left the group, so a reader
        // never sees it before setsid().
        WriteFile(value, std::to_string(getpid()));
        for (;;) pause();
      }
      ++i;
    } else if (flag == "--spam") {
      long bytes = atol(value);
      std::string line(99, 'x');
      line += '\n';
      for (long done = 0; done < bytes; done += 100) fputs(line.c_str(), stdout);
      fflush(stdout);
      ++i;
    } else if (flag == "--exit-after") {
      exit_after = atof(value);
      ++i;
    } else if (flag == "--exit-when") {
      exit_when = value;
      ++i;
    } else if (flag == "--exit-code") {
      exit_code = atoi(value);
      ++i;
    } else {
      fprintf(stderr, "child: unknown flag %s\n", flag.c_str());
      return 64;
    }
  }
  if (!exit_when.empty() && access(exit_when.c_str(), F_OK) != 0) {
    while (access(exit_when.c_str(), F_OK) != 0) usleep(20000);
    return exit_code;
  }
  if (exit_after >= 0) {
    usleep(static_cast<useconds_t>(exit_after * 1e6));
    return exit_code;
  }
  for (;;) pause();
}
