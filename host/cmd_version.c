#include "cli.h"

#include "version.h"

#include <jansson.h>
#include <lua.h>
#include <microhttpd.h>
#include <nettle/version.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>
#include <yaml.h>

#ifndef CT_LIBEDIT_VERSION
#define CT_LIBEDIT_VERSION "?"
#endif

int ct_cmd_version(int argc, char **argv)
{
    if (argc > 1) {
        if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
            return ct_cli_help("version");
        }
        return ct_cli_usage_error("version", "unexpected argument '%s'",
                                  argv[1]);
    }
    printf("caretide %s (plugin API %d)\n", CT_VERSION, CT_API_VERSION);
    printf("  %s\n", LUA_RELEASE);
    printf("  libuv %s\n", uv_version_string());
    printf("  SQLite %s\n", sqlite3_libversion());
    printf("  libyaml %s\n", yaml_get_version_string());
    printf("  libmicrohttpd %s\n", MHD_get_version());
    printf("  jansson %s\n", jansson_version_str());
    printf("  libsodium %s\n", sodium_version_string());
    printf("  libedit %s (built against)\n", CT_LIBEDIT_VERSION);
    printf("  Nettle %d.%d\n", nettle_version_major(),
           nettle_version_minor());
    return CT_EXIT_OK;
}
