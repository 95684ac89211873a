/* main.c - the privnn command line: dispatch to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "pn_commit.h"

static const struct pn_cli_cmd commands[] = {
#define X(name, fn, summary) {name, fn, summary},
  PN_CLI_COMMANDS(X)
#undef X
};

static void usage(FILE *f) {
  fprintf(f,
          "privnn %s - private neural-network inference\n\n"
          "usage: privnn COMMAND [options]    (privnn COMMAND --help for details)\n\ncommands:\n",
          PN_VERSION);
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\n  --help     this text (privnn help COMMAND [SUBCOMMAND]: its page)\n"
             "  --version  print the version\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || (!strcmp(argv[1], "help") && argc == 2)) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "help")) { /* privnn help CMD [SUB] = privnn CMD [SUB] --help */
    if (argc > 4) {
      fprintf(stderr, "privnn help: give a command and at most one subcommand (privnn help mpc infer)\n");
      return 2;
    }
    char *args[4] = {argv[2], argc > 3 ? argv[3] : "--help", argc > 3 ? "--help" : NULL, NULL};
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
      if (!strcmp(argv[2], commands[i].name)) return commands[i].fn(argc - 1, args);
    fprintf(stderr, "privnn help: unknown command '%s' (see privnn --help)\n", argv[2]);
    return 2;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("privnn %s (commit %s)\n", PN_VERSION, PN_COMMIT);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "privnn: unknown command '%s' (see privnn --help)\n", argv[1]);
  return 2;
}
