/* glob: paths matched against globs, as gitignore and zsh read them, and
 * the folders of a project walked for the files that are inputs.
 *
 * A glob is split into path components. `*`, `?` and `[...]` match within
 * one component and never its leading '.'; `**` as a whole component
 * matches zero or more folders (not hidden ones, and never through a
 * symbolic link); `**` elsewhere is `*`; `{a,b}` are alternatives; '\'
 * quotes the next character. "." components are ignored, so "./a/x.sh"
 * and "a/x.sh" are one path. One matcher serves the Evalfile's task and deps
 * globs (expanded here when loading) and watch mode (a path that appeared
 * is checked against the same globs). */
#ifndef GLOB_H
#define GLOB_H

#include "load/evalfile.h"

struct ignore;

/* what an expansion or a walk does not look into */
struct globskip {
	const char *cache;          /* a folder never entered (the cache), or NULL */
	const struct ignore *ignore;/* a .gitignore's patterns for folders `**` and
	                               walks enter, and files walks find; or NULL */
	int junk;                   /* skip .git, __pycache__ and editors' droppings */
};

/* does path match pat as a whole? */
int globmatch(const char *pat, const char *path);
/* could path be a folder on the way to a match of pat (path matches the
 * leading components of pat, or pat has `**` there)? */
int globleads(const char *pat, const char *path);
/* does pat hold a wildcard (anything but a literal path)? */
int globmagic(const char *pat);
/* append every existing path matching pat (files, folders, broken
 * links; in no order, possibly twice) to out, spelt as the glob spells
 * them (glob "./a/x*" gives "./a/x1"), like glob(3); dirs, when not NULL, gets each
 * folder in which a new entry could become a match. Returns the number
 * appended. */
size_t globexpand(const char *pat, const struct globskip *skip, struct strv *out, struct strv *dirs);
/* append every regular file under dir, recursively, as dir/..., skipping
 * as skip says (and hidden entries only when they are junk); dirs, when
 * not NULL, gets dir and every folder under it. Returns the number of
 * files appended. */
size_t globwalk(const char *dir, const struct globskip *skip, struct strv *out, struct strv *dirs);
/* append every file a deps glob stands for to out: each regular file it
 * matches, and every file under each folder it matches (globwalk); dirs
 * as for globexpand. Returns the number of files appended; *folders, when
 * not NULL, gets the number of folders it matched. */
size_t globdeps(const char *pat, const struct globskip *skip, struct strv *out, struct strv *dirs, size_t *folders);
/* is this name skipped when skip->junk (.git, __pycache__, editor junk)? */
int globjunk(const char *name);

/* the patterns of a .gitignore file; NULL when it cannot be read */
struct ignore *loadignore(const char *path);
/* does the .gitignore ignore path (relative to its folder)? */
int ignored(const struct ignore *ig, const char *path, int isdir);
void freeignore(struct ignore *ig);

/* the words of a shell command that may name input files, split roughly
 * as sh does: blanks separate words, '...' and "..." quote, '\' escapes,
 * and | & ; ( ) < > end a word. The word after > or >> and the words after
 * tee up to the end of its command or a < (outputs) are left out; a word
 * that holds blanks (the script of bash -c '...') is given and
 * also split again. A heuristic: no expansion, no here-documents. */
void shellwords(const char *cmd, struct strv *out);

/* sort a list with strcmp and drop repeats */
void strvsortuniq(struct strv *sv);

#endif
