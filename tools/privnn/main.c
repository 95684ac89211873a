/* main.c - the privnn command line: dispatch to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

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
  fprintf(f, "\n  --help     this text\n  --version  print the version\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("privnn %s\n", PN_VERSION);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "privnn: unknown command '%s' (see privnn --help)\n", argv[1]);
  return 2;
}
