/* tmpdir: fresh mkdtemp directories for tests. */
#ifndef STRATA_TEST_TMPDIR_H
#define STRATA_TEST_TMPDIR_H

/** Creates a new directory under $TMPDIR (or /tmp). @returns an owned path; aborts on failure. */
char *tmpdir_new(void);
/** Removes the directory tree and frees the path. NULL is a no-op. */
void tmpdir_remove(char *path);

#endif
