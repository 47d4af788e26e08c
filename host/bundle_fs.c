/*
 * Bundles and directories: packing a plugin source directory, reading an
 * installed plugin directory, signing one in place, and installing a
 * verified bundle beside the version it replaces.
 */
#define _GNU_SOURCE /* renameat2 */
#include "bundle_int.h"

#include "error.h"
#include "manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads a regular file without following a link at its last component. */
static int read_file(const char *path, const char *rel, uint8_t **out,
                     size_t *len, ct_bundle_info *info)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP)
            return ct_bundle__refuse(info, CT_BUNDLE_UNSAFE,
                                     "%s is a symlink; plugins hold only "
                                     "regular files",
                                     rel);
        return ct_bundle__refuse(info, CT_BUNDLE_IO, "%s: %s", path,
                                 strerror(errno));
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        rc = ct_bundle__refuse(info, CT_BUNDLE_UNSAFE,
                               "%s is not a regular file", rel);
        goto done;
    }
    if ((uint64_t)st.st_size > CT_BUNDLE_MAX_FILE_BYTES) {
        rc = ct_bundle__refuse(info, CT_BUNDLE_TOO_BIG,
                               "%s is larger than %u MiB", rel,
                               CT_BUNDLE_MAX_FILE_BYTES >> 20);
        goto done;
    }
    size_t n = (size_t)st.st_size, got = 0;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        rc = CT_ENOMEM;
        goto done;
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got != n) {
        free(buf);
        rc = ct_bundle__refuse(info, CT_BUNDLE_IO, "%s: short read", path);
        goto done;
    }
    *out = buf;
    *len = n;
done:
    close(fd);
    return rc;
}

typedef struct walker {
    ct_bundle *b;
    const char *root;
    bool packing; /* skip dot names; every name must be safe */
    ct_bundle_info *info;
} walker;

static int walk(walker *w, const char *rel, int depth)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s%s%s", w->root, rel ? "/" : "",
                 rel ? rel : "") >= (int)sizeof dir)
        return ct_bundle__refuse(w->info, CT_BUNDLE_TOO_BIG,
                                 "%s: path too long", rel);
    DIR *d = opendir(dir);
    if (!d)
        return ct_bundle__refuse(w->info, CT_BUNDLE_IO, "%s: %s", dir,
                                 strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        const char *name = e->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if (!rel && (strcmp(name, CT_BUNDLE_MANIFEST) == 0 ||
                     strcmp(name, CT_BUNDLE_SIGNATURE) == 0))
            continue;
        if (w->packing && name[0] == '.')
            continue;
        char r[PATH_MAX], path[PATH_MAX];
        if (snprintf(r, sizeof r, "%s%s%s", rel ? rel : "", rel ? "/" : "",
                     name) >= (int)sizeof r ||
            snprintf(path, sizeof path, "%s/%s", w->root, r) >=
                (int)sizeof path) {
            rc = ct_bundle__refuse(w->info, CT_BUNDLE_TOO_BIG,
                                   "%.200s...: path too long", r);
            break;
        }
        struct stat st;
        if (lstat(path, &st)) {
            rc = ct_bundle__refuse(w->info, CT_BUNDLE_IO, "%s: %s", path,
                                   strerror(errno));
            break;
        }
        char why[320];
        if (w->packing && !ct_bundle__safe_path(r, why, sizeof why)) {
            rc = ct_bundle__refuse(w->info, CT_BUNDLE_UNSAFE, "%s", why);
        } else if (S_ISDIR(st.st_mode)) {
            if (depth + 1 >= CT_BUNDLE_MAX_DEPTH)
                rc = ct_bundle__refuse(w->info, CT_BUNDLE_UNSAFE,
                                       "%s: nested deeper than %d levels", r,
                                       CT_BUNDLE_MAX_DEPTH);
            else
                rc = walk(w, r, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            uint8_t *data = NULL;
            size_t len = 0;
            rc = read_file(path, r, &data, &len, w->info);
            if (!rc)
                rc = ct_bundle__add(w->b, r, data, len, w->info);
        } else {
            rc = ct_bundle__refuse(w->info, CT_BUNDLE_UNSAFE,
                                   "%s is a %s; plugins hold only regular "
                                   "files",
                                   r,
                                   S_ISLNK(st.st_mode) ? "symlink"
                                                       : "special file");
        }
    }
    closedir(d);
    return rc;
}

int ct_bundle_pack(const char *dir, ct_bundle **out, ct_diags *diags)
{
    *out = NULL;
    ct_manifest *pm = NULL;
    int rc = ct_manifest_load(dir, &pm, diags);
    if (rc)
        return rc;
    ct_bundle_info info = {0};
    ct_bundle *b = calloc(1, sizeof *b);
    if (!b) {
        ct_manifest_free(pm);
        return CT_ENOMEM;
    }
    walker w = {.b = b, .root = dir, .packing = true, .info = &info};
    rc = walk(&w, NULL, 0);
    if (!rc)
        rc = ct_bundle__finish(b, &info);
    if (!rc)
        rc = ct_bundle__set_manifest(b, pm);
    if (rc && info.reason[0])
        ct_diags_add(diags, dir, 0, 0, "%s", info.reason);
    ct_manifest_free(pm);
    return ct_bundle__hand_over(b, rc, out);
}

/* Reads dir/name when it exists; *data stays NULL when it does not. */
static int read_optional(const char *dir, const char *name, uint8_t **data,
                         size_t *len, ct_bundle_info *info)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    *data = NULL;
    if (lstat(path, &st) && errno == ENOENT)
        return 0;
    return read_file(path, name, data, len, info);
}

int ct_bundle_load_dir(const char *dir, ct_bundle **out,
                       ct_bundle_info *info)
{
    memset(info, 0, sizeof *info);
    info->key_expires_ms = INT64_MAX;
    *out = NULL;
    ct_bundle *b = calloc(1, sizeof *b);
    if (!b)
        return CT_ENOMEM;
    int rc = read_optional(dir, CT_BUNDLE_MANIFEST, &b->manifest,
                           &b->manifest_len, info);
    if (!rc && b->manifest)
        rc = read_optional(dir, CT_BUNDLE_SIGNATURE, &b->sig, &b->sig_len,
                           info);
    if (!rc && b->manifest) {
        walker w = {.b = b, .root = dir, .packing = false, .info = info};
        rc = walk(&w, NULL, 0);
    }
    if (!rc)
        rc = ct_bundle__finish(b, info);
    return ct_bundle__hand_over(b, rc, out);
}

int ct_bundle_verify_dir(const char *dir, const ct_trust *t, bool required,
                         int64_t now_ms, ct_bundle_info *info)
{
    ct_bundle *b = NULL;
    int rc = ct_bundle_load_dir(dir, &b, info);
    if (rc)
        return rc;
    rc = ct_bundle_verify(b, t, required, now_ms, info);
    ct_bundle_free(b);
    return rc;
}

/* Writes data to dir/name through a temporary file and a rename. */
static int write_replace(const char *dir, const char *name,
                         const uint8_t *data, size_t len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return ct_write_file(path, data, len, 0644, false);
}

int ct_bundle_sign_dir(const char *dir, const ct_signkey *k, int64_t now_ms,
                       ct_bundle_info *info)
{
    ct_bundle *b = NULL;
    int rc = ct_bundle_load_dir(dir, &b, info);
    if (rc)
        return rc;
    rc = ct_bundle_sign(b, k, now_ms, info);
    if (!rc && write_replace(dir, CT_BUNDLE_SIGNATURE, b->sig, b->sig_len))
        rc = ct_bundle__refuse(info, CT_BUNDLE_IO, "%s: cannot write %s",
                               dir, CT_BUNDLE_SIGNATURE);
    ct_bundle_free(b);
    return rc;
}

/* --- installing ------------------------------------------------------ */

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return CT_EINVAL;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) && errno != EEXIST)
            return CT_EIO;
        *p = '/';
    }
    if (mkdir(buf, 0755) && errno != EEXIST)
        return CT_EIO;
    struct stat st;
    return stat(buf, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : CT_EIO;
}

static int write_new(const char *dir, const char *rel, const uint8_t *data,
                     size_t len)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path)
        return CT_EINVAL;
    /* Parent directories of rel; rel is a checked relative path. */
    for (char *p = path + strlen(dir) + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(path, 0755);
        *p = '/';
        if (r && errno != EEXIST)
            return CT_EIO;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0644);
    if (fd < 0)
        return CT_EIO;
    int rc = 0;
    size_t done = 0;
    while (!rc && done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = CT_EIO;
        else
            done += (size_t)w;
    }
    if (!rc && (fchmod(fd, 0644) || fsync(fd)))
        rc = CT_EIO;
    if (close(fd))
        rc = CT_EIO;
    return rc;
}

static int unpack(const ct_bundle *b, const char *dir)
{
    int rc = write_new(dir, CT_BUNDLE_MANIFEST, b->manifest, b->manifest_len);
    if (!rc && b->sig)
        rc = write_new(dir, CT_BUNDLE_SIGNATURE, b->sig, b->sig_len);
    for (size_t i = 0; !rc && i < b->nfiles; i++)
        rc = write_new(dir, b->files[i].path, b->files[i].data,
                       b->files[i].len);
    if (!rc && chmod(dir, 0755))
        rc = CT_EIO;
    return rc;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Puts tmp in target's place; the old version ends up in *old (to be
 * removed by the caller) or nowhere when there was none. */
static int swap_in(const char *parent, const char *name, const char *tmp,
                   const char *target, bool exists, char *old,
                   size_t oldlen)
{
    old[0] = '\0';
    if (!exists)
        return rename(tmp, target) ? CT_EIO : 0;
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, target, RENAME_EXCHANGE) == 0) {
        snprintf(old, oldlen, "%s", tmp); /* tmp now holds the old one */
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
        return CT_EIO;
    /* No atomic exchange on this file system: two renames. */
    snprintf(old, oldlen, "%s/.%s.old-%ld", parent, name, (long)getpid());
    if (rename(target, old)) {
        old[0] = '\0';
        return CT_EIO;
    }
    if (rename(tmp, target)) {
        rename(old, target);
        old[0] = '\0';
        return CT_EIO;
    }
    return 0;
}

int ct_bundle_install(const ct_bundle *b, const char *parent,
                      const ct_trust *t, bool required, int64_t now_ms,
                      ct_bundle_info *info, char **dir_out)
{
    return ct_bundle_install_gated(b, parent, t, required, now_ms, NULL, NULL,
                                   info, dir_out);
}

int ct_bundle_install_gated(const ct_bundle *b, const char *parent,
                            const ct_trust *t, bool required, int64_t now_ms,
                            ct_bundle_gate_fn gate, void *ud,
                            ct_bundle_info *info, char **dir_out)
{
    if (dir_out)
        *dir_out = NULL;
    int rc = ct_bundle_verify(b, t, required, now_ms, info);
    if (rc)
        return rc;
    if (!b->manifest)
        return ct_bundle__refuse(info, CT_BUNDLE_MALFORMED,
                                 "not a bundle: nothing to install");
    if (mkdir_p(parent))
        return ct_bundle__refuse(info, CT_BUNDLE_IO,
                                 "cannot create plugin directory %s: %s",
                                 parent, strerror(errno));
    char target[PATH_MAX], tmp[PATH_MAX], old[PATH_MAX];
    if (snprintf(target, sizeof target, "%s/%s", parent, info->name) >=
            (int)sizeof target ||
        snprintf(tmp, sizeof tmp, "%s/.%s.new-XXXXXX", parent, info->name) >=
            (int)sizeof tmp)
        return ct_bundle__refuse(info, CT_BUNDLE_IO, "%s: path too long",
                                 parent);
    struct stat st;
    bool exists = lstat(target, &st) == 0;
    if (exists) {
        char m[PATH_MAX + sizeof CT_BUNDLE_MANIFEST + 1];
        snprintf(m, sizeof m, "%s/%s", target, CT_BUNDLE_MANIFEST);
        if (!S_ISDIR(st.st_mode))
            return ct_bundle__refuse(info, CT_BUNDLE_IO,
                                     "%s exists and is not a directory",
                                     target);
        if (lstat(m, &st) != 0) {
            ct_bundle__refuse(info, CT_BUNDLE_IO,
                              "%s exists and was not installed from a "
                              "bundle (no %s); move it away first",
                              target, CT_BUNDLE_MANIFEST);
            return CT_EEXISTS;
        }
    }
    if (!mkdtemp(tmp))
        return ct_bundle__refuse(info, CT_BUNDLE_IO, "%s: %s", parent,
                                 strerror(errno));
    if (unpack(b, tmp)) {
        rc = ct_bundle__refuse(info, CT_BUNDLE_IO,
                               "cannot write the plugin under %s", parent);
        goto fail_tmp;
    }
    /* What is on disk is what will run: check it again before the swap. */
    ct_bundle_info written;
    rc = ct_bundle_verify_dir(tmp, t, required, now_ms, &written);
    if (rc) {
        ct_bundle__refuse(info, written.problem,
                          "after unpacking into %s: %s", tmp,
                          written.reason);
        goto fail_tmp;
    }
    char why[400] = "";
    if (gate && gate(ud, tmp, info, why, sizeof why)) {
        rc = ct_bundle__refuse(info, CT_BUNDLE_TESTS_FAILED, "%s",
                               why[0] ? why : "refused before the swap");
        goto fail_tmp;
    }
    if (swap_in(parent, info->name, tmp, target, exists, old, sizeof old)) {
        rc = ct_bundle__refuse(info, CT_BUNDLE_IO, "cannot move %s to %s: %s",
                               tmp, target, strerror(errno));
        goto fail_tmp;
    }
    if (old[0])
        rmtree(old);
    sync_dir(parent);
    if (dir_out && !(*dir_out = strdup(target)))
        return CT_ENOMEM;
    return 0;
fail_tmp:
    rmtree(tmp);
    return rc;
}
