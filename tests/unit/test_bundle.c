#include "bundle.h"
#include "clock.h"
#include "error.h"
#include "fixtures.h"
#include "signkey.h"
#include "tar.h"
#include "trust.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[256];
static int64_t now; /* 2026-06-01, the tests' "today" */

static void setup(void)
{
    snprintf(tmp, sizeof tmp, "%s", ct_test_tmpdir());
    cr_assert_eq(ct_clock_parse("2026-06-01", &now), 0);
}

static void teardown(void)
{
    ct_test_rmtree(tmp);
}

TestSuite(bundle, .init = setup, .fini = teardown);

static char *path_in(const char *rel)
{
    char *p = malloc(512);
    snprintf(p, 512, "%s/%s", tmp, rel);
    return p;
}

static void put(const char *rel, const char *text)
{
    char *p = path_in(rel);
    /* Parent directories. */
    for (char *s = p + strlen(tmp) + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "cannot write %s", p);
    fputs(text, f);
    fclose(f);
    free(p);
}

/* A plugin source directory src/NAME at version. */
static char *make_plugin(const char *name, const char *version)
{
    char rel[256], text[512];
    snprintf(rel, sizeof rel, "src/%s/plugin.yaml", name);
    snprintf(text, sizeof text,
             "name: %s\nversion: %s\napi: 1\ndescription: test\n"
             "publisher: Central team\nfallback: skip\n"
             "settings:\n  limit: {type: integer, default: 3, doc: How many}\n",
             name, version);
    put(rel, text);
    snprintf(rel, sizeof rel, "src/%s/init.lua", name);
    put(rel, "local util = require('lib.util')\nreturn {triage = "
             "util.answer}\n");
    snprintf(rel, sizeof rel, "src/%s/lib/util.lua", name);
    put(rel, "return {answer = function() return nil end}\n");
    snprintf(rel, sizeof rel, "src/%s/test/basic_test.lua", name);
    put(rel, "-- tests\n");
    snprintf(rel, sizeof rel, "src/%s/README.md", name);
    put(rel, "# A plugin\n");
    /* Editor and VCS files are not packed. */
    snprintf(rel, sizeof rel, "src/%s/.init.lua.swp", name);
    put(rel, "junk");
    snprintf(rel, sizeof rel, "src/%s", name);
    return path_in(rel);
}

static ct_bundle *pack(const char *name, const char *version)
{
    char *src = make_plugin(name, version);
    ct_bundle *b = NULL;
    ct_diags d = {0};
    cr_assert_eq(ct_bundle_pack(src, &b, &d), 0, "%s",
                 d.len ? d.items[0].message : "");
    ct_diags_free(&d);
    free(src);
    return b;
}

static void key(const char *name, const char *expires, ct_signkey *k)
{
    cr_assert_eq(ct_signkey_generate(name, expires, k), 0);
}

static void trust_key(ct_trust *t, const ct_signkey *k)
{
    ct_trust_key tk = {0};
    memcpy(tk.id, k->id, sizeof tk.id);
    memcpy(tk.public_key, k->public_key, 32);
    tk.expires_ms = k->expires_ms;
    tk.name = strdup(k->name);
    cr_assert_eq(ct_trust_add(t, &tk), 0);
}

static void sign(ct_bundle *b, const ct_signkey *k)
{
    ct_bundle_info info;
    cr_assert_eq(ct_bundle_sign(b, k, now, &info), 0, "%s", info.reason);
}

/* Installs b under tmp/plugins; returns the directory. */
static char *install(const ct_bundle *b, const ct_trust *t, bool required)
{
    char *parent = path_in("plugins"), *dir = NULL;
    ct_bundle_info info;
    cr_assert_eq(ct_bundle_install(b, parent, t, required, now, &info, &dir),
                 0, "%s", info.reason);
    free(parent);
    return dir;
}

static void expect_refused(int rc, const ct_bundle_info *info,
                           ct_bundle_problem p, const char *needle)
{
    cr_assert_neq(rc, 0, "accepted, wanted %s", ct_bundle_problem_name(p));
    cr_assert_eq(info->problem, p, "problem %s, want %s: %s",
                 ct_bundle_problem_name(info->problem),
                 ct_bundle_problem_name(p), info->reason);
    cr_assert(strstr(info->reason, needle), "'%s' lacks '%s'", info->reason,
              needle);
}

Test(bundle, pack_sign_verify_roundtrip)
{
    ct_signkey k;
    key("central-2025", "2027-03-31", &k);
    ct_trust t = {0};
    trust_key(&t, &k);
    ct_bundle *b = pack("greeter", "0.1.0");
    ct_bundle_info info;

    /* Packed but unsigned: fine only where signing is not required. */
    cr_assert_eq(ct_bundle_verify(b, &t, false, now, &info), 0, "%s",
                 info.reason);
    cr_assert(info.has_manifest);
    cr_assert_not(info.is_signed);
    cr_assert_eq(info.nfiles, 5, "the .swp file is not packed");
    cr_assert_null(ct_bundle_file(b, ".init.lua.swp", NULL));
    size_t len = 0;
    const uint8_t *code = ct_bundle_file(b, "lib/util.lua", &len);
    cr_assert_not_null(code);
    cr_assert_eq(memcmp(code, "return {answer", 14), 0);

    sign(b, &k);
    cr_assert_eq(ct_bundle_verify(b, &t, true, now, &info), 0, "%s",
                 info.reason);
    cr_assert(info.is_signed);
    cr_assert_str_eq(info.key_id, k.id);
    cr_assert_str_eq(info.signer, "central-2025");
    cr_assert_str_eq(info.name, "greeter");
    cr_assert_str_eq(info.version, "0.1.0");
    cr_assert_str_eq(info.publisher, "Central team");
    cr_assert_eq(info.api, 1);
    cr_assert_eq(strlen(info.bundle_hash), 64);
    cr_assert_eq(info.problem, CT_BUNDLE_OK);
    cr_assert_str_eq(info.reason, "");

    /* Through a file and back: same hash; the file is a plain ustar. */
    char *file = path_in("greeter-0.1.0.ctb");
    cr_assert_eq(ct_bundle_write(b, file), 0);
    ct_bundle *back = NULL;
    ct_bundle_info info2;
    cr_assert_eq(ct_bundle_read(file, &back, &info2), 0, "%s", info2.reason);
    cr_assert_eq(ct_bundle_verify(back, &t, true, now, &info2), 0, "%s",
                 info2.reason);
    cr_assert_str_eq(info2.bundle_hash, info.bundle_hash);

    /* The bundle hash is the SHA-256 of MANIFEST.json's bytes. */
    char *dir = install(back, &t, true);
    char *mpath = malloc(600);
    snprintf(mpath, 600, "%s/MANIFEST.json", dir);
    FILE *f = fopen(mpath, "rb");
    cr_assert_not_null(f);
    uint8_t buf[8192], h[32];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    crypto_hash_sha256(h, buf, n);
    char hex[65];
    ct_hex_encode(h, 32, hex);
    cr_assert_str_eq(hex, info.bundle_hash);
    cr_assert(strstr((char *)buf, "\"format\": \"caretide-bundle/1\""));

    cr_assert_eq(ct_bundle_verify_dir(dir, &t, true, now, &info2), 0, "%s",
                 info2.reason);
    cr_assert_str_eq(info2.bundle_hash, info.bundle_hash);
    cr_assert_str_eq(info2.key_id, k.id);

    /* Packing is deterministic. */
    ct_bundle *again = pack("greeter", "0.1.0");
    cr_assert_eq(ct_bundle_verify(again, &t, false, now, &info2), 0);
    cr_assert_str_eq(info2.bundle_hash, info.bundle_hash);

    ct_bundle_free(again);
    ct_bundle_free(back);
    ct_bundle_free(b);
    free(mpath);
    free(dir);
    free(file);
    ct_trust_clear(&t);
    ct_signkey_clear(&k);
}

Test(bundle, unsigned_refused_only_where_required)
{
    ct_bundle *b = pack("greeter", "0.1.0");
    ct_bundle_info info;
    expect_refused(ct_bundle_verify(b, NULL, true, now, &info), &info,
                   CT_BUNDLE_UNSIGNED, "no MANIFEST.sig");
    /* The problem's name is printed beside the reason: not again in it. */
    cr_assert_str_eq(info.reason, "no MANIFEST.sig, and this plugin must "
                                  "be signed (require_signed)");
    cr_assert_eq(ct_bundle_verify(b, NULL, true, now, &info), CT_ESIGNATURE);
    char *dir = install(b, NULL, false);
    expect_refused(ct_bundle_verify_dir(dir, NULL, true, now, &info), &info,
                   CT_BUNDLE_UNSIGNED, "must be signed");
    cr_assert_eq(ct_bundle_verify_dir(dir, NULL, false, now, &info), 0);

    /* A plain source directory is no bundle at all. */
    char *src = path_in("src/greeter");
    cr_assert_eq(ct_bundle_verify_dir(src, NULL, false, now, &info), 0);
    cr_assert_not(info.has_manifest);
    cr_assert_str_eq(info.bundle_hash, "");
    expect_refused(ct_bundle_verify_dir(src, NULL, true, now, &info), &info,
                   CT_BUNDLE_UNSIGNED, "not a bundle");
    free(src);
    free(dir);
    ct_bundle_free(b);
}

/* A signed, installed greeter and the trust that accepts it. */
static char *installed(ct_signkey *k, ct_trust *t)
{
    key("central", NULL, k);
    memset(t, 0, sizeof *t);
    trust_key(t, k);
    ct_bundle *b = pack("greeter", "0.1.0");
    sign(b, k);
    char *dir = install(b, t, true);
    ct_bundle_free(b);
    return dir;
}

static void append(const char *dir, const char *rel, const char *text)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "a");
    cr_assert_not_null(f, "%s", p);
    fputs(text, f);
    fclose(f);
}

Test(bundle, tampered_files_are_named)
{
    ct_signkey k;
    ct_trust t;
    char *dir = installed(&k, &t);
    ct_bundle_info info;
    char p[600];

    append(dir, "lib/util.lua", "-- extra\n");
    expect_refused(ct_bundle_verify_dir(dir, &t, true, now, &info), &info,
                   CT_BUNDLE_TAMPERED,
                   "lib/util.lua: content differs from MANIFEST.json");
    cr_assert_eq(ct_bundle_verify_dir(dir, &t, true, now, &info),
                 CT_ECORRUPT);
    /* Also where signing is not required: the manifest still binds. */
    expect_refused(ct_bundle_verify_dir(dir, &t, false, now, &info), &info,
                   CT_BUNDLE_TAMPERED, "lib/util.lua");
    free(dir);
    ct_test_rmtree(tmp);
    mkdir(tmp, 0700);

    ct_signkey_clear(&k);
    ct_trust_clear(&t);
    dir = installed(&k, &t);
    append(dir, "evil.lua", "os.exit()\n");
    expect_refused(ct_bundle_verify_dir(dir, &t, true, now, &info), &info,
                   CT_BUNDLE_TAMPERED, "evil.lua: not in MANIFEST.json");
    snprintf(p, sizeof p, "%s/evil.lua", dir);
    unlink(p);
    /* Hidden files count too. */
    append(dir, "lib/.sneaky.lua", "x\n");
    expect_refused(ct_bundle_verify_dir(dir, &t, true, now, &info), &info,
                   CT_BUNDLE_TAMPERED, "lib/.sneaky.lua: not in");
    snprintf(p, sizeof p, "%s/lib/.sneaky.lua", dir);
    unlink(p);
    cr_assert_eq(ct_bundle_verify_dir(dir, &t, true, now, &info), 0, "%s",
                 info.reason);

    snprintf(p, sizeof p, "%s/README.md", dir);
    unlink(p);
    expect_refused(ct_bundle_verify_dir(dir, &t, true, now, &info), &info,
                   CT_BUNDLE_TAMPERED,
                   "README.md: listed in MANIFEST.json but missing");

    /* The first difference in path order is the one named. */
    append(dir, "README.md", "# A plugin\n");
    append(dir, "init.lua", "\n");
    append(dir, "test/basic_test.lua", "\n");
    expect_refused(ct_bundle_verify_dir(dir, &t, true, now, &info), &info,
                   CT_BUNDLE_TAMPERED, "init.lua: content differs");
    free(dir);
    ct_trust_clear(&t);
    ct_signkey_clear(&k);
}

/* Replaces MANIFEST.json in dir with a canonical edit of one field. */
static void edit_manifest(const char *dir, const char *key, json_t *value)
{
    char p[600];
    snprintf(p, sizeof p, "%s/MANIFEST.json", dir);
    json_error_t je;
    json_t *m = json_load_file(p, 0, &je);
    cr_assert_not_null(m);
    json_object_set_new(m, key, value);
    char *text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS |
                                   JSON_ENSURE_ASCII);
    FILE *f = fopen(p, "w");
    fprintf(f, "%s\n", text);
    fclose(f);
    free(text);
    json_decref(m);
}

Test(bundle, altered_manifest_breaks_the_signature)
{
    ct_signkey k;
    ct_trust t;
    char *dir = installed(&k, &t);
    ct_bundle_info info;
    edit_manifest(dir, "publisher", json_string("Someone else"));
    expect_refused(ct_bundle_verify_dir(dir, &t, true, now, &info), &info,
                   CT_BUNDLE_BAD_SIGNATURE, "does not match MANIFEST.json");
    cr_assert_eq(ct_bundle_verify_dir(dir, &t, true, now, &info),
                 CT_ESIGNATURE);
    /* A manifest written in another form is refused as such. */
    append(dir, "MANIFEST.json", "\n");
    expect_refused(ct_bundle_verify_dir(dir, &t, true, now, &info), &info,
                   CT_BUNDLE_MALFORMED, "canonical form");
    free(dir);
    ct_trust_clear(&t);
    ct_signkey_clear(&k);
}

Test(bundle, wrong_api_refused)
{
    ct_signkey k;
    ct_trust t;
    char *dir = installed(&k, &t);
    ct_bundle_info info;
    edit_manifest(dir, "api", json_integer(2));
    /* Signed properly by a trusted key, still refused. */
    cr_assert_eq(ct_bundle_sign_dir(dir, &k, now, &info), 0, "%s",
                 info.reason);
    expect_refused(ct_bundle_verify_dir(dir, &t, true, now, &info), &info,
                   CT_BUNDLE_WRONG_API,
                   "built for plugin API 2; this host runs API 1");
    cr_assert_eq(ct_bundle_verify_dir(dir, &t, false, now, &info),
                 CT_EUNSUPPORTED);
    free(dir);
    ct_trust_clear(&t);
    ct_signkey_clear(&k);
}

Test(bundle, unknown_and_expired_keys)
{
    ct_signkey k, stranger, old;
    key("central", NULL, &k);
    key("stranger", NULL, &stranger);
    key("old", "2026-03-31", &old);
    ct_trust t = {0};
    trust_key(&t, &k);
    trust_key(&t, &old);
    ct_bundle *b = pack("greeter", "0.1.0");
    ct_bundle_info info;

    sign(b, &stranger);
    expect_refused(ct_bundle_verify(b, &t, true, now, &info), &info,
                   CT_BUNDLE_UNKNOWN_KEY, "which this area does not trust");
    cr_assert_str_eq(info.key_id, stranger.id);
    /* A signature present is checked even where none is required. */
    expect_refused(ct_bundle_verify(b, &t, false, now, &info), &info,
                   CT_BUNDLE_UNKNOWN_KEY, stranger.id);

    /* Signed while the key was valid; refused once it has expired. */
    int64_t before;
    cr_assert_eq(ct_clock_parse("2026-03-01", &before), 0);
    cr_assert_eq(ct_bundle_sign(b, &old, before, &info), 0, "%s",
                 info.reason);
    cr_assert_eq(ct_bundle_verify(b, &t, true, before, &info), 0, "%s",
                 info.reason);
    expect_refused(ct_bundle_verify(b, &t, true, now, &info), &info,
                   CT_BUNDLE_EXPIRED_KEY,
                   "which expired at 2026-04-01T00:00:00.000Z");
    /* The last millisecond of the expiry day is still valid. */
    int64_t last;
    cr_assert_eq(ct_clock_parse("2026-04-01", &last), 0);
    cr_assert_eq(ct_bundle_verify(b, &t, true, last - 1, &info), 0);
    cr_assert_neq(ct_bundle_verify(b, &t, true, last, &info), 0);
    /* An expired key cannot sign. */
    expect_refused(ct_bundle_sign(b, &old, now, &info), &info,
                   CT_BUNDLE_EXPIRED_KEY, "has expired");

    /* A damaged signature. */
    sign(b, &k);
    cr_assert_eq(ct_bundle_verify(b, &t, true, now, &info), 0);
    char *file = path_in("g.ctb");
    cr_assert_eq(ct_bundle_write(b, file), 0);
    char *dir = install(b, &t, true);
    char p[600];
    snprintf(p, sizeof p, "%s/MANIFEST.sig", dir);
    FILE *f = fopen(p, "r+");
    char text[512] = {0};
    size_t n = fread(text, 1, sizeof text - 1, f);
    char *sig = strstr(text, "\"signature\": \"");
    cr_assert_not_null(sig);
    sig += 15;
    *sig = *sig == 'A' ? 'B' : 'A';
    rewind(f);
    fwrite(text, 1, n, f);
    fclose(f);
    expect_refused(ct_bundle_verify_dir(dir, &t, true, now, &info), &info,
                   CT_BUNDLE_BAD_SIGNATURE, "does not match");
    free(dir);
    free(file);
    ct_bundle_free(b);
    ct_trust_clear(&t);
    ct_signkey_clear(&k);
    ct_signkey_clear(&stranger);
    ct_signkey_clear(&old);
}

Test(bundle, key_rotation)
{
    /* Two keys trusted: bundles by either run. */
    ct_signkey k1, k2;
    key("central-2025", NULL, &k1);
    key("central-2026", NULL, &k2);
    ct_trust both = {0};
    trust_key(&both, &k1);
    trust_key(&both, &k2);
    ct_bundle *v1 = pack("greeter", "0.1.0");
    sign(v1, &k1);
    ct_bundle *v2 = pack("greeter", "0.2.0");
    sign(v2, &k2);
    ct_bundle_info info;
    cr_assert_eq(ct_bundle_verify(v1, &both, true, now, &info), 0);
    cr_assert_str_eq(info.signer, "central-2025");
    cr_assert_eq(ct_bundle_verify(v2, &both, true, now, &info), 0);
    cr_assert_str_eq(info.signer, "central-2026");
    char *dir = install(v1, &both, true);

    /* The old key withdrawn: what it signed is refused, the new runs. */
    ct_trust only_new = {0};
    trust_key(&only_new, &k2);
    expect_refused(ct_bundle_verify_dir(dir, &only_new, true, now, &info),
                   &info, CT_BUNDLE_UNKNOWN_KEY, k1.id);
    cr_assert_eq(ct_bundle_verify(v2, &only_new, true, now, &info), 0);
    /* Re-signing the old version with the new key brings it back. */
    cr_assert_eq(ct_bundle_sign_dir(dir, &k2, now, &info), 0, "%s",
                 info.reason);
    cr_assert_eq(ct_bundle_verify_dir(dir, &only_new, true, now, &info), 0,
                 "%s", info.reason);
    cr_assert_str_eq(info.key_id, k2.id);
    cr_assert_str_eq(info.version, "0.1.0");

    free(dir);
    ct_bundle_free(v1);
    ct_bundle_free(v2);
    ct_trust_clear(&both);
    ct_trust_clear(&only_new);
    ct_signkey_clear(&k1);
    ct_signkey_clear(&k2);
}

/* Writes a bundle file from raw tar entries. */
typedef struct raw {
    const char *name;
    char type;
    const char *data;
} raw;

static char *raw_bundle(const raw *entries, size_t n)
{
    ct_buf b = {0};
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(ct_tar_add(&b, entries[i].name, entries[i].type, 0644,
                                entries[i].data,
                                entries[i].data ? strlen(entries[i].data)
                                                : 0),
                     0);
    cr_assert_eq(ct_tar_finish(&b), 0);
    char *p = path_in("raw.ctb");
    FILE *f = fopen(p, "wb");
    fwrite(b.data, 1, b.len, f);
    fclose(f);
    ct_buf_free(&b);
    return p;
}

static void expect_unreadable(const raw *entries, size_t n,
                              ct_bundle_problem p, const char *needle)
{
    char *file = raw_bundle(entries, n);
    ct_bundle *b = NULL;
    ct_bundle_info info;
    int rc = ct_bundle_read(file, &b, &info);
    cr_assert_null(b);
    expect_refused(rc, &info, p, needle);
    free(file);
}

Test(bundle, crafted_archives_are_refused)
{
    const char *m = "{}\n";
    raw traversal[] = {{"MANIFEST.json", '0', m}, {"../evil.lua", '0', "x"}};
    expect_unreadable(traversal, 2, CT_BUNDLE_UNSAFE, "'..' component");
    raw deep[] = {{"MANIFEST.json", '0', m}, {"lib/../../x", '0', "x"}};
    expect_unreadable(deep, 2, CT_BUNDLE_UNSAFE, "'..'");
    raw absolute[] = {{"MANIFEST.json", '0', m}, {"/etc/cron.d/x", '0', "x"}};
    expect_unreadable(absolute, 2, CT_BUNDLE_UNSAFE, "absolute path");
    raw link[] = {{"MANIFEST.json", '0', m}, {"init.lua", '2', NULL}};
    expect_unreadable(link, 2, CT_BUNDLE_UNSAFE, "is a symlink");
    raw hard[] = {{"MANIFEST.json", '0', m}, {"init.lua", '1', NULL}};
    expect_unreadable(hard, 2, CT_BUNDLE_UNSAFE, "is a hard link");
    raw dev[] = {{"MANIFEST.json", '0', m}, {"null", '3', NULL}};
    expect_unreadable(dev, 2, CT_BUNDLE_UNSAFE, "character device");
    raw fifo[] = {{"MANIFEST.json", '0', m}, {"pipe", '6', NULL}};
    expect_unreadable(fifo, 2, CT_BUNDLE_UNSAFE, "fifo");
    raw hidden[] = {{"MANIFEST.json", '0', m}, {".bashrc", '0', "x"}};
    expect_unreadable(hidden, 2, CT_BUNDLE_UNSAFE, "may not start with '.'");
    raw twice[] = {{"MANIFEST.json", '0', m},
                   {"init.lua", '0', "a"},
                   {"init.lua", '0', "b"}};
    expect_unreadable(twice, 3, CT_BUNDLE_MALFORMED, "appears twice");
    raw none[] = {{"init.lua", '0', "a"}};
    expect_unreadable(none, 1, CT_BUNDLE_MALFORMED, "no MANIFEST.json");
    /* Directories with safe names are fine, and ignored. */
    raw dirs[] = {{"MANIFEST.json", '0', m}, {"lib/", '5', NULL}};
    char *file = raw_bundle(dirs, 2);
    ct_bundle *b = NULL;
    ct_bundle_info info;
    cr_assert_eq(ct_bundle_read(file, &b, &info), 0, "%s", info.reason);
    /* ... but that manifest is not one. */
    expect_refused(ct_bundle_verify(b, NULL, false, now, &info), &info,
                   CT_BUNDLE_MALFORMED, "not a caretide bundle manifest");
    ct_bundle_free(b);
    free(file);
}

Test(bundle, too_many_files)
{
    ct_buf b = {0};
    cr_assert_eq(ct_tar_add(&b, "MANIFEST.json", '0', 0644, "{}", 2), 0);
    for (int i = 0; i <= CT_BUNDLE_MAX_FILES; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%04d.lua", i);
        cr_assert_eq(ct_tar_add(&b, name, '0', 0644, "", 0), 0);
    }
    cr_assert_eq(ct_tar_finish(&b), 0);
    char *p = path_in("many.ctb");
    FILE *f = fopen(p, "wb");
    fwrite(b.data, 1, b.len, f);
    fclose(f);
    ct_buf_free(&b);
    ct_bundle *bundle = NULL;
    ct_bundle_info info;
    int rc = ct_bundle_read(p, &bundle, &info);
    expect_refused(rc, &info, CT_BUNDLE_TOO_BIG, "more than 1000 files");
    cr_assert_eq(rc, CT_ELIMIT);
    free(p);
}

Test(bundle, symlinks_in_installed_plugins_are_refused)
{
    ct_signkey k;
    ct_trust t;
    char *dir = installed(&k, &t);
    char p[600];
    snprintf(p, sizeof p, "%s/lib/util.lua", dir);
    unlink(p);
    cr_assert_eq(symlink("/etc/passwd", p), 0);
    ct_bundle_info info;
    expect_refused(ct_bundle_verify_dir(dir, &t, true, now, &info), &info,
                   CT_BUNDLE_UNSAFE, "lib/util.lua is a symlink");
    free(dir);
    ct_trust_clear(&t);
    ct_signkey_clear(&k);
}

Test(bundle, install_replaces_only_after_verifying)
{
    ct_signkey k, stranger;
    key("central", NULL, &k);
    key("stranger", NULL, &stranger);
    ct_trust t = {0};
    trust_key(&t, &k);
    ct_bundle *v1 = pack("greeter", "0.1.0");
    sign(v1, &k);
    char *dir = install(v1, &t, true);
    ct_bundle_info info;

    /* A new version signed by an untrusted key leaves v1 in place. */
    ct_bundle *bad = pack("greeter", "0.2.0");
    sign(bad, &stranger);
    char *parent = path_in("plugins");
    expect_refused(ct_bundle_install(bad, parent, &t, true, now, &info, NULL),
                   &info, CT_BUNDLE_UNKNOWN_KEY, stranger.id);
    cr_assert_eq(ct_bundle_verify_dir(dir, &t, true, now, &info), 0);
    cr_assert_str_eq(info.version, "0.1.0");

    ct_bundle *v2 = pack("greeter", "0.2.0");
    sign(v2, &k);
    char *dir2 = install(v2, &t, true);
    cr_assert_str_eq(dir2, dir);
    cr_assert_eq(ct_bundle_verify_dir(dir, &t, true, now, &info), 0);
    cr_assert_str_eq(info.version, "0.2.0");

    /* Nothing is left behind beside it. */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "test \"$(ls -A '%s')\" = greeter", parent);
    cr_assert_eq(system(cmd), 0, "leftovers in %s", parent);

    /* A directory that was not installed from a bundle is kept. */
    char *src = path_in("plugins/mine/plugin.yaml");
    put("plugins/mine/plugin.yaml", "name: mine\n");
    ct_bundle *mine = pack("mine", "1.0.0");
    sign(mine, &k);
    cr_assert_eq(ct_bundle_install(mine, parent, &t, true, now, &info, NULL),
                 CT_EEXISTS);
    cr_assert(strstr(info.reason, "was not installed from a bundle"), "%s",
              info.reason);
    struct stat st;
    cr_assert_eq(stat(src, &st), 0);

    free(src);
    free(parent);
    free(dir);
    free(dir2);
    ct_bundle_free(mine);
    ct_bundle_free(v1);
    ct_bundle_free(v2);
    ct_bundle_free(bad);
    ct_trust_clear(&t);
    ct_signkey_clear(&k);
    ct_signkey_clear(&stranger);
}

Test(bundle, pack_refuses_symlinks_and_odd_names)
{
    char *src = make_plugin("greeter", "0.1.0");
    char p[600];
    snprintf(p, sizeof p, "%s/link.lua", src);
    cr_assert_eq(symlink("init.lua", p), 0);
    ct_bundle *b = NULL;
    ct_diags d = {0};
    cr_assert_eq(ct_bundle_pack(src, &b, &d), CT_ECORRUPT);
    cr_assert_null(b);
    cr_assert(strstr(d.items[0].message, "link.lua is a symlink"), "%s",
              d.items[0].message);
    unlink(p);
    snprintf(p, sizeof p, "%s/my notes.txt", src);
    FILE *f = fopen(p, "w");
    fclose(f);
    cr_assert_eq(ct_bundle_pack(src, &b, &d), CT_ECORRUPT);
    cr_assert(strstr(d.items[1].message, "'my notes.txt': names may hold"),
              "%s", d.items[1].message);
    unlink(p);
    /* A broken plugin.yaml stops packing with its own diagnostics. */
    snprintf(p, sizeof p, "%s/plugin.yaml", src);
    f = fopen(p, "w");
    fputs("name: greeter\nversion: one\napi: 1\ndescription: d\n"
          "publisher: p\n", f);
    fclose(f);
    cr_assert_eq(ct_bundle_pack(src, &b, &d), CT_ECONFIG);
    cr_assert(strstr(d.items[2].message, "not semver"), "%s",
              d.items[2].message);
    ct_diags_free(&d);
    free(src);
}

Test(bundle, plugin_yaml_must_agree_with_the_manifest)
{
    ct_signkey k;
    ct_trust t;
    char *dir = installed(&k, &t);
    ct_bundle_info info;
    /* Both edited consistently and re-signed by the publisher's key, but
     * plugin.yaml claims another version than the manifest. */
    char p[600];
    snprintf(p, sizeof p, "%s/plugin.yaml", dir);
    FILE *f = fopen(p, "w");
    fputs("name: greeter\nversion: 9.9.9\napi: 1\ndescription: d\n"
          "publisher: Central team\n", f);
    fclose(f);
    ct_bundle *b = NULL;
    cr_assert_eq(ct_bundle_load_dir(dir, &b, &info), 0);
    ct_bundle_free(b);
    /* Rewrite the manifest entry so only the disagreement remains. */
    json_error_t je;
    snprintf(p, sizeof p, "%s/MANIFEST.json", dir);
    json_t *m = json_load_file(p, 0, &je);
    json_t *files = json_object_get(m, "files");
    size_t i;
    json_t *e;
    json_array_foreach(files, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "path")),
                   "plugin.yaml") == 0) {
            char yp[600];
            snprintf(yp, sizeof yp, "%s/plugin.yaml", dir);
            FILE *y = fopen(yp, "rb");
            uint8_t buf[1024], h[32];
            size_t n = fread(buf, 1, sizeof buf, y);
            fclose(y);
            crypto_hash_sha256(h, buf, n);
            char hex[65];
            ct_hex_encode(h, 32, hex);
            json_object_set_new(e, "sha256", json_string(hex));
            json_object_set_new(e, "size", json_integer((json_int_t)n));
        }
    }
    char *text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS |
                                   JSON_ENSURE_ASCII);
    f = fopen(p, "w");
    fprintf(f, "%s\n", text);
    fclose(f);
    free(text);
    json_decref(m);
    cr_assert_eq(ct_bundle_sign_dir(dir, &k, now, &info), 0, "%s",
                 info.reason);
    expect_refused(ct_bundle_verify_dir(dir, &t, true, now, &info), &info,
                   CT_BUNDLE_MALFORMED, "does not agree with MANIFEST.json");
    free(dir);
    ct_trust_clear(&t);
    ct_signkey_clear(&k);
}
