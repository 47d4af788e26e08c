/*
 * Internals of `caretide plugin` shared by its files: cmd_plugin.c (the
 * shared option handling, list, diff, selftest and the dispatch) and
 * cmd_plugin_bundle.c (keygen, pack, sign, verify, install). Not for use
 * outside them.
 */
#ifndef CT_CMD_PLUGIN_INT_H
#define CT_CMD_PLUGIN_INT_H

#include "bundle.h"
#include "config.h"

#include <getopt.h>
#include <stdbool.h>

/* The long options every subcommand takes (ct_cmd_plugin__common_opt). */
#define CT_PLUGIN_COMMON_LONG_OPTS                        \
    {"log-format", required_argument, NULL, 'F'},         \
        {"log-level", required_argument, NULL, 'L'},      \
        {"help", no_argument, NULL, 'h'}

/* "caretide plugin SUB: message" and a pointer to the help; returns
 * CT_EXIT_USAGE. */
int ct_cmd_plugin__usage_error(const char *sub, const char *msg,
                               const char *arg);

/* Handles the options every subcommand shares; returns -1 when c was one
 * of them and parsing goes on, else an exit status. */
int ct_cmd_plugin__common_opt(const char *sub, int c, char **argv,
                              const char **fmt, const char **lvl);

/* "what: refused (problem): reason" */
void ct_cmd_plugin__print_refusal(const char *what,
                                  const ct_bundle_info *info);

/* The bundle's hash and who signed it, until when. */
void ct_cmd_plugin__print_provenance(const ct_bundle_info *info);

bool ct_cmd_plugin__is_dir(const char *path);

/* The area's entry for plugin name, or NULL. */
const ct_config_plugin *ct_cmd_plugin__find_entry(const ct_config *cfg,
                                                  const char *name);

/* The bundle subcommands (cmd_plugin_bundle.c). */
int ct_cmd_plugin__keygen(int argc, char **argv);
int ct_cmd_plugin__pack(int argc, char **argv);
int ct_cmd_plugin__sign(int argc, char **argv);
int ct_cmd_plugin__verify(int argc, char **argv);
int ct_cmd_plugin__install(int argc, char **argv);

#endif
