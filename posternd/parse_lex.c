/*
 * The postern.conf(5) lexer, in the style of OpenBSD's parse.y files: it
 * reads a stack of input sources (the file, the files it includes, the
 * values of macros being expanded, or a memory buffer), joins lines that
 * end with a backslash, drops comments, and cuts the rest into lexemes
 * (words, quoted strings, numbers, characters) that yylex() in parse.y
 * turns into the grammar's tokens.  Every error is reported as
 * "FILE:LINE: message", a macro's at the line of its $reference.
 *
 * Implements no RFC: the syntax is postern.conf(5)'s.
 *
 * Deliberately not here: keywords and tokens (parse.y, so that this file
 * needs nothing that bison generates), the meaning of any statement.  An
 * include loop, nesting over INCLUDE_DEPTH_MAX files and macro expansions
 * past MACRO_DEPTH_MAX deep or MACRO_EXPANSIONS_MAX in all are refused
 * rather than followed.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "posternd/parse_int.h"
#include "util.h"

#define INCLUDE_DEPTH_MAX	16	/* nested include files */
#define MACRO_NAME_MAX		64	/* with its NUL */
#define MACRO_DEPTH_MAX		8	/* macros expanding macros */
#define MACRO_EXPANSIONS_MAX	10000	/* per parse, against blowups */
#define PUSHBACK_MAX		4

/*
 * An input source: a file, a memory buffer, or the value of a macro being
 * expanded (tokens from it are reported at the line of the $reference).
 */
struct file {
	TAILQ_ENTRY(file)	 entry;		/* every source, freed at end */
	struct file		*parent;
	char			*name;
	FILE			*stream;	/* or the buffer: */
	const unsigned char	*buf;
	size_t			 len;
	size_t			 pos;
	char			*owned;		/* buf when we copied it */
	int			 lineno;
	int			 is_macro;
	int			 pushback[PUSHBACK_MAX];
	int			 npush;
	dev_t			 dev;		/* to find include loops */
	ino_t			 ino;
	int			 has_ino;
};

struct macro {
	TAILQ_ENTRY(macro)	 entry;
	char			*name;
	char			*value;
};

/* The lexer's state for one parse; zero between parses. */
static struct {
	TAILQ_HEAD(, file)	 files;
	struct file		*file;		/* top of the input stack */
	struct file		*pending;	/* include, pushed at '\n' */
	TAILQ_HEAD(, macro)	 macros;
	int			 expansions;
	int			 last;		/* what lex_next() returned */
	/* The lexer reported this token: yyerror() adds no "syntax error". */
	int			 lexerr;
	int			 brace_depth;
	int			 skip_block;	/* after an error inside { } */
	struct conf_loc		 loc;		/* of the lexeme being read */
} lex;

static FILE	*errstream;
static int	 errstream_set;

static void	conf_verror(const struct conf_loc *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));
static int	lex_error(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static int	lgetc(int);
static void	lungetc(int);
static void	popfile(void);

/*
 * Error reports.
 */

void
parse_set_errstream(FILE *fp)
{
	errstream = fp;
	errstream_set = 1;
}

/* stderr unless parse_set_errstream() chose another, or NULL for none. */
FILE *
conf_errstream(void)
{
	return errstream_set ? errstream : stderr;
}

static void
conf_verror(const struct conf_loc *loc, const char *fmt, va_list ap)
{
	FILE	*fp = conf_errstream();

	ps.errors++;
	if (fp == NULL)
		return;
	fprintf(fp, "%s:%d: ", loc->file != NULL ? loc->file : "?",
	    loc->line);
	vfprintf(fp, fmt, ap);
	fputc('\n', fp);
}

void
conf_error(const struct conf_loc *loc, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	conf_verror(loc, fmt, ap);
	va_end(ap);
}

/*
 * Called by the parser with "syntax error", located at the lookahead: the
 * last lexeme read.
 */
void
yyerror(const char *msg)
{
	/* Inside { }, skip to the closing brace: one error per block. */
	if (lex.brace_depth > 0)
		lex.skip_block = 1;
	if (lex.lexerr) {
		/* The lexer already said what is wrong with this token. */
		lex.lexerr = 0;
		return;
	}
	conf_error(&lex.loc, "%s", msg);
}

/*
 * An error found by the lexer: the rest of the line is dropped (it would
 * only add confusing errors) and the parser sees an ERROR token.
 */
static int
lex_error(const char *fmt, ...)
{
	va_list	 ap;
	int	 c;

	va_start(ap, fmt);
	conf_verror(&lex.loc, fmt, ap);
	va_end(ap);
	lex.lexerr = 1;
	for (;;) {
		c = lgetc(0);
		if (c == '\n') {
			lungetc(c);
			break;
		}
		if (c == EOF) {
			if (!lex.file->is_macro)
				break;
			popfile();
		}
	}
	return LEX_ERROR;
}

/*
 * Input sources.
 */

static struct file *
file_new(const char *name, struct file *parent)
{
	struct file	*f;

	f = xcalloc(1, sizeof(*f));
	f->name = xstrdup(name);
	f->parent = parent;
	f->lineno = 1;
	TAILQ_INSERT_TAIL(&lex.files, f, entry);
	return f;
}

static int
file_depth(const struct file *f)
{
	int	 n = 0;

	for (; f != NULL; f = f->parent)
		if (!f->is_macro)
			n++;
	return n;
}

/* The file a token from `f` is reported in: macros report their $ line. */
static const struct file *
real_file(const struct file *f)
{
	while (f->is_macro && f->parent != NULL)
		f = f->parent;
	return f;
}

static int
rawgetc(struct file *f)
{
	int	 c;

	if (f->npush > 0)
		return f->pushback[--f->npush];
	if (f->stream != NULL) {
		if ((c = getc(f->stream)) == EOF && ferror(f->stream)) {
			/* Report once, then read as the end of the file. */
			clearerr(f->stream);
			conf_error(&lex.loc, "read error: %s", strerror(errno));
			fclose(f->stream);
			f->stream = NULL;
			f->len = f->pos = 0;
		}
		return c;
	}
	if (f->pos >= f->len)
		return EOF;
	return f->buf[f->pos++];
}

static void
lungetc(int c)
{
	struct file	*f = lex.file;

	if (f->npush < PUSHBACK_MAX)
		f->pushback[f->npush++] = c;
}

/* Next character, joining lines that end with a backslash. */
static int
lgetc(int inquote)
{
	struct file	*f = lex.file;
	int		 c, next;

	c = rawgetc(f);
	while (c == '\\') {
		next = rawgetc(f);
		if (next != '\n') {
			if (f->npush < PUSHBACK_MAX)
				f->pushback[f->npush++] = next;
			return c;
		}
		if (!f->is_macro)
			f->lineno++;
		c = rawgetc(f);
		if (!inquote)
			while (c == ' ' || c == '\t')
				c = rawgetc(f);
	}
	return c;
}

static void
popfile(void)
{
	struct file	*f = lex.file;

	lex.file = f->parent;
	if (f->stream != NULL) {
		fclose(f->stream);
		f->stream = NULL;
	}
	if (!f->is_macro)
		lex.brace_depth = 0;
}

/* include "FILE": read once the include line has ended. */
void
lex_include(const struct conf_loc *loc, const char *name)
{
	const struct file	*cur, *f;
	struct file		*nf;
	struct stat		 st;
	char			*path = NULL, *slash;
	FILE			*fp;

	if (ps.flags & PARSE_NOFILES) {
		conf_error(loc, "include is not allowed here");
		return;
	}
	cur = real_file(lex.file);
	if (file_depth(cur) >= INCLUDE_DEPTH_MAX) {
		conf_error(loc, "include nesting too deep");
		return;
	}
	/* Relative names are relative to the including file. */
	if (name[0] != '/' && (slash = strrchr(cur->name, '/')) != NULL)
		xasprintf(&path, "%.*s/%s", (int)(slash - cur->name),
		    cur->name, name);
	else
		path = xstrdup(name);
	if ((fp = fopen(path, "r")) == NULL) {
		conf_error(loc, "cannot open \"%s\": %s", path,
		    strerror(errno));
		free(path);
		return;
	}
	if (fstat(fileno(fp), &st) == -1 || !S_ISREG(st.st_mode)) {
		conf_error(loc, "\"%s\" is not a regular file", path);
		fclose(fp);
		free(path);
		return;
	}
	for (f = cur; f != NULL; f = f->parent)
		if (f->has_ino && f->dev == st.st_dev && f->ino == st.st_ino) {
			conf_error(loc, "include loop: \"%s\"", path);
			fclose(fp);
			free(path);
			return;
		}
	nf = file_new(path, NULL);
	free(path);
	nf->stream = fp;
	nf->dev = st.st_dev;
	nf->ino = st.st_ino;
	nf->has_ino = 1;
	lex.pending = nf;
}

static struct macro *
macro_find(const char *name)
{
	struct macro	*m;

	TAILQ_FOREACH(m, &lex.macros, entry)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

/* NAME = "value": $NAME reads as value from here on. */
void
lex_macro_set(const struct conf_loc *loc, char *name, char *value)
{
	struct macro	*m;
	const char	*p;

	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			break;
	if (*p != '\0' || strlen(name) >= MACRO_NAME_MAX) {
		conf_error(loc, "invalid macro name \"%s\"", name);
		free(name);
		free(value);
		return;
	}
	if ((m = macro_find(name)) != NULL) {
		/* The last definition wins, as in pf.conf(5). */
		free(m->value);
		m->value = value;
		free(name);
		return;
	}
	m = xcalloc(1, sizeof(*m));
	m->name = name;
	m->value = value;
	TAILQ_INSERT_TAIL(&lex.macros, m, entry);
}

/*
 * Lexemes.
 */

static int
allowed_in_string(int c)
{
	if (isalnum(c))
		return 1;
	switch (c) {
	case '%': case '&': case '*': case '+': case '-': case '.':
	case '/': case ':': case '@': case '[': case ']': case '^':
	case '_': case '|': case '~': case '?':
		return 1;
	}
	return 0;
}

/*
 * A $name reference: the macro's value is read next, as a source of its
 * own.  0 when it is pushed, else LEX_ERROR (reported).
 */
static int
lex_macro_ref(void)
{
	char		 name[MACRO_NAME_MAX];
	struct macro	*m;
	struct file	*f;
	size_t		 n = 0;
	int		 c;

	while ((c = lgetc(0)) != EOF && (isalnum(c) || c == '_')) {
		if (n + 1 >= sizeof(name))
			return lex_error("invalid macro reference");
		name[n++] = c;
	}
	lungetc(c);
	name[n] = '\0';
	if (n == 0)
		return lex_error("invalid macro reference");
	if ((m = macro_find(name)) == NULL)
		return lex_error("macro \"%s\" not defined", name);
	n = 0;
	for (f = lex.file; f != NULL && f->is_macro; f = f->parent)
		n++;
	if (n >= MACRO_DEPTH_MAX)
		return lex_error("macro expansion too deep");
	if (++lex.expansions > MACRO_EXPANSIONS_MAX)
		return lex_error("too many macro expansions");
	f = file_new(name, lex.file);
	f->is_macro = 1;
	/* A copy: the macro may be redefined while we read it. */
	f->owned = xstrdup(m->value);
	f->buf = (const unsigned char *)f->owned;
	f->len = strlen(f->owned);
	lex.file = f;
	return 0;
}

/* "...": a backslash escapes '"' and '\'; no line ends inside. */
static int
lex_quoted(struct lexeme *lx)
{
	size_t	 n = 0;
	int	 c, next;

	for (;;) {
		c = lgetc(1);
		if (c == EOF || c == '\n') {
			lungetc(c);
			return lex_error("unterminated quoted string");
		}
		if (c == '"')
			break;
		if (c == '\\') {
			next = lgetc(1);
			if (next == '"' || next == '\\')
				c = next;
			else
				lungetc(next);
		}
		if (c == '\0')
			return lex_error("invalid NUL byte");
		if (n + 1 >= sizeof(lx->text))
			return lex_error("string too long");
		lx->text[n++] = c;
	}
	lx->text[n] = '\0';
	return LEX_QUOTED;
}

/* An unquoted word starting with c: a number, or text for a keyword. */
static int
lex_word(struct lexeme *lx, int c)
{
	const char	*errstr;
	long long	 num;
	size_t		 n = 0;

	do {
		if (n + 1 >= sizeof(lx->text))
			return lex_error("string too long");
		lx->text[n++] = c;
	} while ((c = lgetc(0)) != EOF && allowed_in_string(c));
	lungetc(c);
	lx->text[n] = '\0';

	/* -?[0-9]+ that fits is a number; a longer one stays text. */
	n = lx->text[0] == '-' ? 1 : 0;
	if (lx->text[n] != '\0' && strspn(lx->text + n, "0123456789") ==
	    strlen(lx->text + n)) {
		num = strtonum(lx->text, LLONG_MIN, LLONG_MAX, &errstr);
		if (errstr == NULL) {
			lx->number = num;
			return LEX_NUMBER;
		}
	}
	return LEX_WORD;
}

/* One lexeme, whitespace, comments and macro references skipped. */
static int
lex_read(struct lexeme *lx)
{
	const struct file	*rf;
	struct file		*f;
	int			 c, r;

 again:
	do {
		c = lgetc(0);
	} while (c == ' ' || c == '\t' || c == '\r');

	rf = real_file(lex.file);
	lex.loc.file = rf->name;
	lex.loc.line = rf->lineno;

	if (c == '#')
		/* Raw reads: a backslash does not continue a comment. */
		while ((c = rawgetc(lex.file)) != '\n' && c != EOF)
			;

	if (c == EOF) {
		f = lex.file;
		if (f->is_macro) {
			popfile();
			goto again;
		}
		/* End the last line of every file, even without '\n'. */
		if (lex.last != '\n' && lex.last != 0)
			return '\n';
		if (f->parent == NULL)
			return 0;
		popfile();
		goto again;
	}

	if (c == '\n') {
		lex.file->lineno++;
		return '\n';
	}

	if (c == '$') {
		if ((r = lex_macro_ref()) != 0)
			return r;
		goto again;
	}

	if (c == '"')
		return lex_quoted(lx);

	if (allowed_in_string(c))
		return lex_word(lx, c);

	if (c == '{')
		lex.brace_depth++;
	else if (c == '}' && lex.brace_depth > 0)
		lex.brace_depth--;
	else if (c == '\0')
		return LEX_ERROR;
	return c;
}

/*
 * The next lexeme for yylex(): a LEX_* kind, a character ('\n' ends a
 * statement), or 0 at the end of the input.
 */
int
lex_next(struct lexeme *lx)
{
	struct file	*inc;
	int		 kind;

	for (;;) {
		/* An include takes effect once its own line has ended. */
		if (lex.pending != NULL && lex.last == '\n') {
			inc = lex.pending;
			lex.pending = NULL;
			inc->parent = lex.file;
			lex.file = inc;
		}
		kind = lex_read(lx);
		if (kind == '\n')
			lex.lexerr = 0;
		lex.last = kind;
		if (lex.skip_block) {
			/* Nothing is allocated yet: skipping frees nothing. */
			if (kind == 0) {
				lex.skip_block = 0;
				break;
			}
			if (lex.brace_depth == 0)
				lex.skip_block = 0;
			continue;
		}
		break;
	}
	lx->loc = lex.loc;
	return kind;
}

/* The statement with the include was lost to a syntax error. */
void
lex_forget_include(void)
{
	lex.pending = NULL;
}

void
lex_init(void)
{
	memset(&lex, 0, sizeof(lex));
	TAILQ_INIT(&lex.files);
	TAILQ_INIT(&lex.macros);
}

/* The top file, opened and checked by parse_config(). */
void
lex_push_file(const char *name, FILE *fp, const struct stat *st)
{
	struct file	*f;

	f = file_new(name, NULL);
	f->stream = fp;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->has_ino = 1;
	lex.file = f;
}

/* A buffer to read as the top file; the caller keeps it until the end. */
void
lex_push_buffer(const char *name, const char *buf, size_t len)
{
	struct file	*f;

	f = file_new(name, NULL);
	f->buf = (const unsigned char *)buf;
	f->len = len;
	lex.file = f;
}

/* Every source and macro of the parse; the files are closed. */
void
lex_free(void)
{
	struct macro	*m;
	struct file	*f;

	while ((m = TAILQ_FIRST(&lex.macros)) != NULL) {
		TAILQ_REMOVE(&lex.macros, m, entry);
		free(m->name);
		free(m->value);
		free(m);
	}
	while ((f = TAILQ_FIRST(&lex.files)) != NULL) {
		TAILQ_REMOVE(&lex.files, f, entry);
		if (f->stream != NULL)
			fclose(f->stream);
		free(f->owned);
		free(f->name);
		free(f);
	}
	memset(&lex, 0, sizeof(lex));
}
