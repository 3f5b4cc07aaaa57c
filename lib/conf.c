/*
 * The configuration object behind postern.conf(5): defaults, lookups by
 * name, freeing, and the duration and size values of the grammar.  The
 * grammar itself is posternd/parse.y.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

#define DEFAULT_RETRY_FIRST	300
#define DEFAULT_RETRY_MAX	3600
#define DEFAULT_EXPIRE		(5 * 24 * 3600)
#define DEFAULT_MAX_SIZE	(35 * 1024 * 1024)
#define DEFAULT_MIN_UID		1000	/* Debian's UID_MIN (login.defs) */
#define DEFAULT_QUEUE_MEMORY	(256 * 1024 * 1024)

/* Durations above this are surely a typo, and keep time_t sums safe. */
#define DURATION_MAX		INT_MAX

const char *const conf_user_process[CONF_USER_MAX] = {
	"smtp", "queue", "mta", "authd", "reportd", "control"
};
const char *const conf_user_default[CONF_USER_MAX] = {
	"_postern-smtp", "_postern-q", "_postern-mta", "_postern-auth",
	"_postern-report", "_postern-ctl"
};

struct postern_conf *
config_new(void)
{
	struct postern_conf	*conf;
	int			 i;

	conf = xcalloc(1, sizeof(*conf));
	if (gethostname(conf->hostname, sizeof(conf->hostname)) == -1 ||
	    conf->hostname[0] == '\0')
		strlcpy(conf->hostname, "localhost", sizeof(conf->hostname));
	/* gethostname() need not terminate a truncated name. */
	conf->hostname[sizeof(conf->hostname) - 1] = '\0';
	conf->spool_dir = xstrdup(CONF_DEFAULT_SPOOL);
	conf->control_socket = xstrdup(CONF_DEFAULT_SOCKET);
	conf->control_group = NULL;
	for (i = 0; i < CONF_USER_MAX; i++)
		conf->users[i] = xstrdup(conf_user_default[i]);
	TAILQ_INIT(&conf->listeners);
	TAILQ_INIT(&conf->pkis);
	TAILQ_INIT(&conf->tables);
	TAILQ_INIT(&conf->actions);
	TAILQ_INIT(&conf->transports);
	TAILQ_INIT(&conf->routes);
	TAILQ_INIT(&conf->rules);
	TAILQ_INIT(&conf->policies);
	TAILQ_INIT(&conf->dkim_signatures);
	TAILQ_INIT(&conf->sign_rules);
	TAILQ_INIT(&conf->arc_seal_rules);
	TAILQ_INIT(&conf->lists);
	conf->queue.retry_first = DEFAULT_RETRY_FIRST;
	conf->queue.retry_max = DEFAULT_RETRY_MAX;
	conf->queue.expire = DEFAULT_EXPIRE;
	conf->queue.max_message_size = DEFAULT_MAX_SIZE;
	conf->queue.memory_limit = DEFAULT_QUEUE_MEMORY;
	conf->smtp.timeout = 300;	/* RFC 5321 4.5.3.2.7 */
	conf->smtp.max_sessions = 512;
	conf->smtp.max_per_ip = 32;
	conf->smtp.max_received = 100;
	conf->smtp.ipv4_prefix = 32;
	conf->smtp.ipv6_prefix = 64;
	conf->smtp.data_timeout = 0;	/* smtp-timeout's */
	conf->smtp.max_lifetime = 3600;
	conf->smtp.min_data_rate = 128;
	conf->smtp.data_rate_window = 60;
	conf->smtp.max_idle_commands = 100;
	conf->smtp.auth_max_failures = 10;
	conf->smtp.auth_lockout = 900;
	conf->mta.connect_timeout = 30;
	conf->mta.max_sessions = 100;
	conf->mta.max_per_domain = 10;
	conf->mta.max_slow_sessions = 400;
	conf->mta.tls_fallback = 1;
	conf->local_users.min_uid = DEFAULT_MIN_UID;
	conf->resolver.configured = 0;
	conf->resolver.port = 53;
	/* RFC 7208 4.6.4: at least 20 seconds for SPF */
	conf->auth_dns_timeout = CONF_AUTH_DNS_TIMEOUT;
	conf->reports.period = REPORTS_PERIOD_DAILY;
	conf->reports.suppress = REPORTS_SUPPRESS;
	conf->reports.failure_max = REPORTS_FAILURE_MAX;
	return conf;
}

void
free_config(struct postern_conf *conf)
{
	struct route		*rt;
	struct listener		*l;
	struct pki		*pki;
	struct table		*t;
	struct action		*a;
	struct rule		*r;
	struct policy		*p;
	struct dkim_signature	*d;
	struct sign_rule	*s;
	struct mailing_list	*ml;
	int			 i;

	if (conf == NULL)
		return;
	for (i = 0; i < (int)conf->srs.nkeys; i++)
		free(conf->srs.key_files[i]);
	while ((l = TAILQ_FIRST(&conf->listeners)) != NULL) {
		TAILQ_REMOVE(&conf->listeners, l, entry);
		free(l);
	}
	while ((pki = TAILQ_FIRST(&conf->pkis)) != NULL) {
		TAILQ_REMOVE(&conf->pkis, pki, entry);
		free(pki->cert_file);
		free(pki->key_file);
		free(pki);
	}
	while ((t = TAILQ_FIRST(&conf->tables)) != NULL) {
		TAILQ_REMOVE(&conf->tables, t, entry);
		config_table_free(t);
	}
	while ((a = TAILQ_FIRST(&conf->actions)) != NULL) {
		TAILQ_REMOVE(&conf->actions, a, entry);
		free(a->path);
		free(a->user);
		free(a->relay_url);
		free(a->alias_user);
		free(a);
	}
	while ((a = TAILQ_FIRST(&conf->transports)) != NULL) {
		TAILQ_REMOVE(&conf->transports, a, entry);
		free(a->relay_url);
		free(a);
	}
	while ((ml = TAILQ_FIRST(&conf->lists)) != NULL) {
		TAILQ_REMOVE(&conf->lists, ml, entry);
		free(ml);
	}
	while ((rt = TAILQ_FIRST(&conf->routes)) != NULL) {
		TAILQ_REMOVE(&conf->routes, rt, entry);
		free(rt);
	}
	while ((r = TAILQ_FIRST(&conf->rules)) != NULL) {
		TAILQ_REMOVE(&conf->rules, r, entry);
		free(r);
	}
	while ((p = TAILQ_FIRST(&conf->policies)) != NULL) {
		TAILQ_REMOVE(&conf->policies, p, entry);
		free(p);
	}
	while ((d = TAILQ_FIRST(&conf->dkim_signatures)) != NULL) {
		TAILQ_REMOVE(&conf->dkim_signatures, d, entry);
		free(d->key_file);
		free(d->headers);
		free(d);
	}
	while ((s = TAILQ_FIRST(&conf->arc_seal_rules)) != NULL) {
		TAILQ_REMOVE(&conf->arc_seal_rules, s, entry);
		free(s);
	}
	while ((s = TAILQ_FIRST(&conf->sign_rules)) != NULL) {
		TAILQ_REMOVE(&conf->sign_rules, s, entry);
		free(s);
	}
	free(conf->resolver.trust_anchor);
	free(conf->mta.ca_file);
	free(conf->file);
	free(conf->spool_dir);
	free(conf->control_socket);
	free(conf->control_group);
	for (i = 0; i < CONF_USER_MAX; i++)
		free(conf->users[i]);
	free(conf);
}

struct pki *
config_find_pki(const struct postern_conf *conf, const char *name)
{
	struct pki	*pki;

	TAILQ_FOREACH(pki, &conf->pkis, entry)
		if (strcmp(pki->name, name) == 0)
			return pki;
	return NULL;
}

/*
 * The socket posternctl sendmail talks to (any local user may) sits next
 * to the control socket (root and the control group only): its path with
 * ".sock" replaced by "-sendmail.sock" (or "-sendmail" appended), so
 * that "control socket" moves both and the default is
 * /run/postern-sendmail.sock.
 */
int
conf_sendmail_socket(const char *control, char *out, size_t len)
{
	size_t	 n = strlen(control);

	if (n >= 5 && strcmp(control + n - 5, ".sock") == 0)
		n -= 5;
	if ((size_t)snprintf(out, len, "%.*s-sendmail%s", (int)n, control,
	    n < strlen(control) ? ".sock" : "") >= len)
		return -1;
	return 0;
}

struct table *
config_find_table(const struct postern_conf *conf, const char *name)
{
	struct table	*t;

	TAILQ_FOREACH(t, &conf->tables, entry)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

struct action *
config_find_transport(const struct postern_conf *conf, const char *name)
{
	struct action	*a;

	TAILQ_FOREACH(a, &conf->transports, entry)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

struct action *
config_find_action(const struct postern_conf *conf, const char *name)
{
	struct action	*a;

	TAILQ_FOREACH(a, &conf->actions, entry)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

struct policy *
config_find_policy(const struct postern_conf *conf, const char *name)
{
	struct policy	*p;

	TAILQ_FOREACH(p, &conf->policies, entry)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

struct dkim_signature *
config_find_dkim_signature(const struct postern_conf *conf, const char *name)
{
	struct dkim_signature	*d;

	TAILQ_FOREACH(d, &conf->dkim_signatures, entry)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

struct mailing_list *
config_find_list(const struct postern_conf *conf, const char *name)
{
	struct mailing_list	*l;

	TAILQ_FOREACH(l, &conf->lists, entry)
		if (strcmp(l->name, name) == 0)
			return l;
	return NULL;
}

/* The bounce address of a list: NAME-bounces@domain unless given. */
static void
list_bounce(const struct mailing_list *l, char *out, size_t len)
{
	const char	*at;

	if (l->bounce[0] != '\0') {
		strlcpy(out, l->bounce, len);
		return;
	}
	at = strrchr(l->address, '@');
	snprintf(out, len, "%.*s-bounces%s", at != NULL ?
	    (int)(at - l->address) : (int)strlen(l->address), l->address,
	    at != NULL ? at : "");
}

struct mailing_list *
config_find_list_rcpt(const struct postern_conf *conf, const char *rcpt,
    int *bounce)
{
	struct mailing_list	*l;
	char			 b[256];

	TAILQ_FOREACH(l, &conf->lists, entry) {
		if (strcasecmp(l->address, rcpt) == 0) {
			*bounce = 0;
			return l;
		}
		list_bounce(l, b, sizeof(b));
		if (strcasecmp(b, rcpt) == 0) {
			*bounce = 1;
			return l;
		}
	}
	return NULL;
}

void
config_list_bounce(const struct mailing_list *l, char *out, size_t len)
{
	list_bounce(l, out, len);
}

/*
 * The value of `key` in a mapping table, or "" for a member of a list
 * table; NULL when absent.  File tables are not loaded here.
 */
const char *
table_lookup(const struct table *t, const char *key)
{
	struct table_entry	*te;

	TAILQ_FOREACH(te, &t->entries, entry)
		if (strcmp(te->key, key) == 0)
			return te->value != NULL ? te->value : "";
	return NULL;
}

/* Values of the grammar, checked without the parser's state. */

/* A host or domain name: letters, digits, '-' and '_', dot-separated. */
int
conf_valid_hostname(const char *s)
{
	size_t	 len = strlen(s), label = 0;

	if (len == 0 || len > 253 || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return 0;
		/* RFC 1123 2.1: no label starts or ends with a hyphen. */
		if (*s == '-' && (label == 0 || s[1] == '.' || s[1] == '\0'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return 1;
}

/* Same address, port and scope. */
int
conf_sockaddr_equal(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;

	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		a4 = (const struct sockaddr_in *)a;
		b4 = (const struct sockaddr_in *)b;
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	}
	a6 = (const struct sockaddr_in6 *)a;
	b6 = (const struct sockaddr_in6 *)b;
	return a6->sin6_port == b6->sin6_port &&
	    a6->sin6_scope_id == b6->sin6_scope_id &&
	    memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr)) == 0;
}

/* A numeric address (no DNS at parse time) into `ss`. */
int
conf_numeric_addr(const char *s, int port, struct sockaddr_storage *ss,
    socklen_t *sslen)
{
	struct addrinfo		 hints, *res;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(s, NULL, &hints, &res) != 0)
		return -1;
	if (res->ai_addrlen > sizeof(*ss) ||
	    (res->ai_family != AF_INET && res->ai_family != AF_INET6)) {
		freeaddrinfo(res);
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	return 0;
}

/* %{user}, %{rcpt}, %{localpart} and %{domain}; "%%" is a '%'. */
int
conf_valid_expansions(const char *s)
{
	static const char	*names[] = {
		"%{user}", "%{rcpt}", "%{localpart}", "%{domain}"
	};
	size_t			 i;

	while ((s = strchr(s, '%')) != NULL) {
		if (s[1] == '%') {
			s += 2;
			continue;
		}
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strncmp(s, names[i], strlen(names[i])) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return 0;
		s += strlen(names[i]);
	}
	return 1;
}

/* A unix socket path, or host:port (RFC 2033 has no default port). */
int
conf_valid_lmtp_dest(const char *dest)
{
	const char	*colon, *errstr;

	if (dest[0] == '/')
		return 1;
	if ((colon = strrchr(dest, ':')) == NULL || colon == dest)
		return 0;
	strtonum(colon + 1, 1, 65535, &errstr);
	return errstr == NULL;
}

/* "simple" or "relaxed" in the first `len` bytes of `s` (RFC 6376 3.4). */
int
conf_dkim_canon_word(const char *s, size_t len, enum dkim_canon *c)
{
	if (len == 6 && strncmp(s, "simple", 6) == 0)
		*c = DKIM_CANON_SIMPLE;
	else if (len == 7 && strncmp(s, "relaxed", 7) == 0)
		*c = DKIM_CANON_RELAXED;
	else
		return 0;
	return 1;
}

/*
 * A relay URL: smtp://host[:port], smtp+tls://host[:port] or
 * smtps://host[:port], with an IPv6 host in brackets and an optional "/"
 * at the end.  On error, *errstr is "unsupported scheme", "invalid URL" or
 * "invalid port".
 */
int
conf_parse_relay_url(const char *url, enum relay_scheme *scheme, char *host,
    size_t hostsz, uint16_t *port, const char **errstr)
{
	const char	*p, *h, *hend;
	char		 portbuf[8];
	size_t		 len;
	int		 n;

	if (strncmp(url, "smtp://", 7) == 0) {
		*scheme = RELAY_SMTP;
		n = 25;
	} else if (strncmp(url, "smtp+tls://", 11) == 0) {
		*scheme = RELAY_SMTP_TLS;
		n = 25;
	} else if (strncmp(url, "smtps://", 8) == 0) {
		*scheme = RELAY_SMTPS;
		n = 465;
	} else {
		*errstr = strstr(url, "://") != NULL ? "unsupported scheme" :
		    "invalid URL";
		return -1;
	}
	h = strstr(url, "://") + 3;
	if (*h == '[') {
		h++;
		if ((hend = strchr(h, ']')) == NULL)
			goto bad;
		p = hend + 1;
	} else {
		hend = h + strcspn(h, ":/");
		p = hend;
	}
	len = hend - h;
	if (len == 0 || len >= hostsz)
		goto bad;
	if (*p == ':') {
		p++;
		len = strcspn(p, "/");
		if (len == 0 || len >= sizeof(portbuf))
			goto badport;
		memcpy(portbuf, p, len);
		portbuf[len] = '\0';
		n = strtonum(portbuf, 1, 65535, errstr);
		if (*errstr != NULL)
			goto badport;
		p += len;
	}
	if (*p != '\0' && strcmp(p, "/") != 0)
		goto bad;
	memcpy(host, h, hend - h);
	host[hend - h] = '\0';
	*port = n;
	*errstr = NULL;
	return 0;
 badport:
	*errstr = "invalid port";
	return -1;
 bad:
	*errstr = "invalid URL";
	return -1;
}

/*
 * Digits followed by at most one unit character out of `units`, whose
 * multipliers are in `mult`.  Zero, signs, blanks and overflow past `max`
 * are errors, reported strtonum(3)-style in *errstr.
 */
static int
parse_scaled(const char *s, const char *units, const unsigned long long *mult,
    unsigned long long max, unsigned long long *out, const char **errstr)
{
	unsigned long long	 n = 0, m = 1;
	const char		*p, *u;

	if (*s == '-' && isdigit((unsigned char)s[1])) {
		*errstr = "too small";
		return -1;
	}
	if (!isdigit((unsigned char)*s)) {
		*errstr = "invalid";
		return -1;
	}
	for (p = s; isdigit((unsigned char)*p); p++) {
		if (n > (max - (unsigned)(*p - '0')) / 10) {
			*errstr = "too large";
			return -1;
		}
		n = n * 10 + (unsigned)(*p - '0');
	}
	if (*p != '\0') {
		if (p[1] != '\0' || (u = strchr(units, *p)) == NULL) {
			*errstr = "invalid";
			return -1;
		}
		m = mult[u - units];
	}
	if (n == 0) {
		*errstr = "too small";
		return -1;
	}
	if (n > max / m) {
		*errstr = "too large";
		return -1;
	}
	*out = n * m;
	*errstr = NULL;
	return 0;
}

/* DURATION: a number of seconds, or with a unit s, m, h or d. */
int
parse_duration(const char *s, time_t *out, const char **errstr)
{
	static const unsigned long long	 mult[] = { 1, 60, 3600, 86400 };
	unsigned long long		 v;

	if (parse_scaled(s, "smhd", mult, DURATION_MAX, &v, errstr) == -1)
		return -1;
	*out = (time_t)v;
	return 0;
}

/* SIZE: a number of bytes, or with a unit K, M or G (powers of 1024). */
int
parse_size(const char *s, size_t *out, const char **errstr)
{
	static const unsigned long long	 mult[] = {
		1024, 1024 * 1024, 1024 * 1024 * 1024,
		1024, 1024 * 1024, 1024 * 1024 * 1024
	};
	unsigned long long		 v, max = SIZE_MAX;

	/* Keep sizes representable as off_t too. */
	if (max > (unsigned long long)LLONG_MAX)
		max = LLONG_MAX;
	if (parse_scaled(s, "KMGkmg", mult, max, &v, errstr) == -1)
		return -1;
	*out = (size_t)v;
	return 0;
}

/* SASL mechanism names (the relay option mechanisms, the mta's client). */
static const struct {
	enum sasl_mech	 mech;
	const char	*name;
} sasl_names[] = {
	{ SASL_MECH_PLAIN,		"PLAIN" },
	{ SASL_MECH_LOGIN,		"LOGIN" },
	{ SASL_MECH_CRAM_MD5,		"CRAM-MD5" },
	{ SASL_MECH_SCRAM_SHA_1,	"SCRAM-SHA-1" },
	{ SASL_MECH_SCRAM_SHA_256,	"SCRAM-SHA-256" },
};
#define NSASL_NAMES	(sizeof(sasl_names) / sizeof(sasl_names[0]))

const char *
sasl_mech_name(enum sasl_mech mech)
{
	size_t	 i;

	for (i = 0; i < NSASL_NAMES; i++)
		if (sasl_names[i].mech == mech)
			return sasl_names[i].name;
	return NULL;
}

enum sasl_mech
sasl_mech_from_span(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < NSASL_NAMES; i++)
		if (strlen(sasl_names[i].name) == len &&
		    strncasecmp(sasl_names[i].name, s, len) == 0)
			return sasl_names[i].mech;
	return SASL_MECH_NONE;
}

enum sasl_mech
sasl_mech_from_name(const char *name)
{
	if (name == NULL)
		return SASL_MECH_NONE;
	return sasl_mech_from_span(name, strlen(name));
}

/* A table and its entries, once it is out of any list. */
void
config_table_free(struct table *t)
{
	struct table_entry	*te;

	while ((te = TAILQ_FIRST(&t->entries)) != NULL) {
		TAILQ_REMOVE(&t->entries, te, entry);
		free(te->key);
		/* a relay's password, a password hash: not left in the heap */
		if (te->value != NULL)
			explicit_bzero(te->value, strlen(te->value));
		free(te->value);
		free(te);
	}
	free(t->index);
	free(t->path);
	free(t);
}

int
conf_srs_key_read(const char *path, uint8_t *key, size_t *keylen, char *err,
    size_t errlen)
{
	struct stat	 st;
	char		 buf[SRS_KEY_MAX + 3];
	ssize_t		 n;
	int		 fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK |
	    O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cannot read \"%s\": %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		snprintf(err, errlen, "\"%s\" is not a regular file", path);
	else if (st.st_mode & (S_IRWXG | S_IRWXO))
		snprintf(err, errlen, "\"%s\" must not be readable or "
		    "writable by group or others (mode %04o; chmod 600)", path,
		    (unsigned int)(st.st_mode & 07777));
	else if ((n = read(fd, buf, sizeof(buf))) == -1)
		snprintf(err, errlen, "cannot read \"%s\": %s", path,
		    strerror(errno));
	else if (srs_key_parse(buf, (size_t)n, key, keylen) == -1)
		snprintf(err, errlen, "\"%s\": the first line must be a "
		    "secret of %d to %d bytes", path, SRS_KEY_MIN, SRS_KEY_MAX);
	else
		rc = 0;
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return rc;
}
