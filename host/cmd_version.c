#include "cli.h"

#include "version.h"

#include <lua.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>
#include <yaml.h>

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
    return CT_EXIT_OK;
}
