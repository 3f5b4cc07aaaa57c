/*
 * The kernel's help in boxing in a child (issue 18, "Each process its own
 * user, and the kernel's help").
 *
 * Resource limits, set while the child is still root (only root may raise
 * a hard limit): RLIMIT_NPROC 0 in the processes that never fork (smtp,
 * queue, control), RLIMIT_FSIZE 0 in those that write no file (smtp,
 * authd, control), RLIMIT_NOFILE in smtp from its configured sessions.
 * RLIMIT_CORE 0 and PR_SET_DUMPABLE 0 are proc.c's, with the privilege
 * drop.
 *
 * A seccomp-BPF filter (libseccomp) per process, installed by
 * proc_child_main() once the process has started: chrooted, unprivileged,
 * configured, its libraries initialised and its stores open.  It allows
 * only the system calls that process makes from then on; anything else
 * traps (SECCOMP_RET_TRAP) into a SIGSYS handler that names the call in
 * the log and lets the process die of SIGSYS, so that the parent logs the
 * loss and stops the daemon (fail-stop).  With `posternd -d -S log` the
 * handler logs the call and makes it fail with ENOSYS instead.
 *
 * The processes that resolve (mta, authd, reportd) may fork, and only
 * fork: libunbound's asynchronous API runs its resolver in a forked
 * background process unless ub_ctx_async(ctx, 1) asks for a thread, and
 * postern has no threads (DESIGN.md); that process inherits the filter,
 * so the resolver's own calls (UDP and TCP sockets, bind for a random
 * source port) are in those filters.  clone is allowed with fork's flags
 * alone (no CLONE_VM, CLONE_THREAD or namespaces); clone3, whose flags a
 * filter cannot see, fails with ENOSYS, so that glibc falls back to clone.
 *
 * The parent has no filter: it forks and executes delivery workers and mda
 * commands, changes to any user, opens any mailbox and listening socket,
 * which together is nearly every system call there is; its defence is
 * that it parses nothing but its config file and validated imsgs.
 *
 * Not done here: the delivery workers (posternd -P deliver, one recipient
 * user each) and authd's crypt helper (forked by authd before the filter)
 * run without a filter.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <ucontext.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "log.h"
#include "util.h"
#include "posternd/proc.h"
#include "posternd/sandbox.h"

/*
 * A sanitizer build (make SANITIZE=1: ASan and UBSan together), detected
 * by ASan's mark, gcc's or clang's.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZER	1
#endif
#endif

int	 sandbox_log_only;

/*
 * What the SIGSYS handler needs, made before the filter, since it may
 * only write(2): the start of its line, every system call's name, and
 * where the line goes (stderr with -d, else a socket to syslog opened
 * before chroot).
 */
#define SANDBOX_NAMES	512
static const char	*sandbox_names[SANDBOX_NAMES];
static char		 sandbox_prefix[96];
static int		 sandbox_logfd = -1;
static int		 sandbox_syslog;

/* What a process may do beyond the calls every child makes. */
#define SB_DNS		0x01	/* libunbound: fork, UDP/TCP sockets */
#define SB_CONNECT	0x02	/* outbound TCP of its own */
#define SB_ACCEPT	0x04	/* accepts connections */
#define SB_STORE	0x08	/* an LMDB store, written */
#define SB_MEMFD	0x10	/* message files for local delivery */

static const unsigned int sandbox_needs[PROC_MAX] = {
	[PROC_SMTP] = SB_ACCEPT,
	[PROC_QUEUE] = SB_STORE | SB_MEMFD,
	[PROC_MTA] = SB_DNS | SB_CONNECT | SB_STORE,
	[PROC_AUTHD] = SB_DNS,
	[PROC_REPORTD] = SB_DNS | SB_CONNECT | SB_STORE,
	[PROC_CONTROL] = SB_ACCEPT,
};

/*
 * Every child: imsg channels (recvmsg and sendmsg pass descriptors), the
 * libevent loop (epoll), memory, time, signals, and what glibc, OpenSSL
 * (getrandom) and the log (sendto on syslog's socket) do underneath.
 */
static const char *const sandbox_common[] = {
	"read", "readv", "write", "writev", "pread64", "close", "lseek",
	"fstat", "newfstatat", "statx", "fcntl", "dup", "dup3",
	"recvmsg", "sendmsg", "recvfrom", "sendto", "shutdown",
	"getsockopt", "setsockopt", "getsockname", "getpeername",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"poll", "ppoll", "select", "pselect6",
	"clock_gettime", "clock_getres", "gettimeofday", "time",
	"nanosleep", "clock_nanosleep",
	"brk", "munmap", "mremap", "madvise",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	"restart_syscall", "exit", "exit_group",
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid",
	"getegid", "getresuid", "getresgid", "getrandom", "futex",
	"sched_yield", "prlimit64", "getrlimit", "uname", "sysinfo",
};

/* LMDB: its file's pages, their sync, its lock file's locks. */
static const char *const sandbox_store[] = {
	"pwrite64", "pwritev", "fsync", "fdatasync", "msync", "ftruncate",
	"fallocate", "flock", "fstatfs", "statfs",
};

/*
 * libunbound's background process, and a resolver's sockets; a context
 * made at run time (the mta's debug delivery) opens its tubes with
 * socketpair.
 */
static const char *const sandbox_dns[] = {
	"connect", "bind", "wait4", "pipe2", "set_robust_list", "socketpair",
};

static const char *const sandbox_connect[] = {
	"connect",
};

static const char *const sandbox_accept[] = {
	"accept", "accept4",
};

static const char *const sandbox_memfd[] = {
	"memfd_create", "ftruncate", "fstatfs", "pwrite64",
};

#ifdef SANDBOX_SANITIZER
/*
 * ASan and UBSan's runtime, so that a sanitizer build runs under the
 * same filters with these few more: its reports (/proc/self/maps; the
 * llvm-symbolizer it forks may not execute, and a report is then not
 * symbolised, as in the chroot anyway), and the thread and ptrace that
 * LeakSanitizer's check at exit would use (the tests turn it off: it
 * cannot work in a chroot).
 */
static const char *const sandbox_sanitizer[] = {
	"open", "openat", "readlink", "readlinkat", "getdents64", "ioctl",
	"prctl", "sched_getaffinity", "ptrace", "wait4", "clone",
	"set_robust_list", "pipe2", "access",
};
#endif

/* The signal-safe pieces of the SIGSYS handler. */
static size_t
sandbox_cat(char *buf, size_t off, size_t size, const char *s)
{
	while (*s != '\0' && off + 1 < size)
		buf[off++] = *s++;
	buf[off] = '\0';
	return off;
}

static size_t
sandbox_catnum(char *buf, size_t off, size_t size, long n)
{
	char	 digits[24];
	size_t	 i = 0;

	if (n < 0) {
		off = sandbox_cat(buf, off, size, "-");
		n = -n;
	}
	do {
		digits[i++] = '0' + (char)(n % 10);
		n /= 10;
	} while (n > 0 && i < sizeof(digits));
	while (i > 0 && off + 1 < size)
		buf[off++] = digits[--i];
	buf[off] = '\0';
	return off;
}

/*
 * A forbidden system call.  Only write(2), and for the death the calls
 * every filter allows (rt_sigaction, rt_sigprocmask, kill of itself).
 */
static void
sandbox_sigsys(int sig, siginfo_t *si, void *ctx)
{
	char		 line[256];
	const char	*name = NULL;
	struct sigaction sa;
	sigset_t	 set;
	size_t		 n = 0;
	int		 nr = si->si_syscall, saved_errno = errno;

	if (nr >= 0 && nr < SANDBOX_NAMES)
		name = sandbox_names[nr];
	n = sandbox_cat(line, n, sizeof(line), sandbox_prefix);
	n = sandbox_cat(line, n, sizeof(line),
	    "seccomp: forbidden system call ");
	n = sandbox_cat(line, n, sizeof(line), name != NULL ? name : "?");
	n = sandbox_cat(line, n, sizeof(line), " (");
	n = sandbox_catnum(line, n, sizeof(line), nr);
	n = sandbox_cat(line, n, sizeof(line), sandbox_log_only ?
	    "): refused with ENOSYS (-S log)" : "): stopping");
#if defined(__x86_64__)
	/* for developing a filter: which file a process wanted */
	if (sandbox_log_only && (nr == SCMP_SYS(openat) ||
	    nr == SCMP_SYS(open))) {
		const char	*path = (const char *)((ucontext_t *)ctx)->
		    uc_mcontext.gregs[nr == SCMP_SYS(open) ? REG_RDI : REG_RSI];
		char		 shown[96];
		size_t		 i;

		for (i = 0; path != NULL && i + 1 < sizeof(shown) &&
		    path[i] != '\0'; i++)
			shown[i] = path[i];
		shown[i] = '\0';
		n = sandbox_cat(line, n, sizeof(line), ": ");
		n = sandbox_cat(line, n, sizeof(line), shown);
	} else if (sandbox_log_only) {
		n = sandbox_cat(line, n, sizeof(line), ": args ");
		n = sandbox_catnum(line, n, sizeof(line),
		    (long)((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RDI]);
		n = sandbox_cat(line, n, sizeof(line), " ");
		n = sandbox_catnum(line, n, sizeof(line),
		    (long)((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RSI]);
	}
#endif
	if (!sandbox_syslog)
		n = sandbox_cat(line, n, sizeof(line), "\n");
	if (write(sandbox_logfd, line, n) == -1) {
		/* nowhere else to say it */
	}
	if (sandbox_log_only) {
#if defined(__x86_64__)
		((ucontext_t *)ctx)->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
		errno = saved_errno;
		return;
#elif defined(__aarch64__)
		((ucontext_t *)ctx)->uc_mcontext.regs[0] = -ENOSYS;
		errno = saved_errno;
		return;
#endif
	}
	/* die of SIGSYS, so that the parent's log says how */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSYS, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	kill(getpid(), SIGSYS);
	_exit(128 + SIGSYS);
}

/*
 * The log line's start and destination.  Without -d, a datagram socket to
 * syslog of our own, connected before chroot: the handler may not call
 * syslog(3), which takes a lock the interrupted code may hold.
 */
static void
sandbox_report_init(struct proc *p, int debug)
{
	struct sockaddr_un	 sun;
	int			 fd;

	if (debug) {
		snprintf(sandbox_prefix, sizeof(sandbox_prefix), "%s[%d]: ",
		    p->desc->name, (int)getpid());
		sandbox_logfd = STDERR_FILENO;
		return;
	}
	snprintf(sandbox_prefix, sizeof(sandbox_prefix),
	    "<%d>postern[%d]: %s: ", LOG_MAIL | LOG_CRIT, (int)getpid(),
	    p->desc->name);
	sandbox_logfd = STDERR_FILENO;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, _PATH_LOG, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return;
	}
	sandbox_logfd = fd;
	sandbox_syslog = 1;
}

static void
sandbox_setrlimit(int resource, const char *name, rlim_t n)
{
	struct rlimit	 rl = { n, n };

	if (setrlimit(resource, &rl) == -1)
		fatal("setrlimit %s %llu", name, (unsigned long long)n);
}

/*
 * RLIMIT_FSIZE 0, unless the log is itself a file: with -d the log is
 * stderr, and a process that writes no file still writes its log lines
 * there (the limit counts every regular file, appends included).
 */
static void
sandbox_nofiles(void)
{
	struct stat	 st;

	if (fstat(STDERR_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
		log_debug("stderr is a file: no RLIMIT_FSIZE 0");
		return;
	}
	sandbox_setrlimit(RLIMIT_FSIZE, "RLIMIT_FSIZE", 0);
}

rlim_t
sandbox_smtp_nofile(size_t sessions)
{
	return (rlim_t)sessions + SANDBOX_SMTP_SPARE;
}

/*
 * The mta's: a session's socket (and a TLSA or MTA-STS lookup or fetch
 * in passing) and each message out at it, a memory file; 256 for DNS,
 * the channels, the MTA-STS cache and libraries.  Past a soft limit of
 * 1024 (systemd's) that 2048 messages out would pass (issue 19).
 */
rlim_t
sandbox_mta_nofile(size_t sessions)
{
	return (rlim_t)sessions * 2 + MSG_MTA_INFLIGHT_MAX + 256;
}

/*
 * The limits.  smtp's descriptors: one per session (its connection: a
 * TLS session and its handshake use that same descriptor) and the spare,
 * and never below what is open already plus 64.  The parent raised its
 * hard limit to that before it started us, or lowered smtp-max-sessions
 * to what its hard limit allows (parent_nofile()); setting both limits
 * to the figure, as root, lowers the hard one to what smtp needs.
 */
static void
sandbox_limits(struct proc *p)
{
	struct rlimit	 rl;
	rlim_t		 nofile;
	int		 fd, top = 0;

	switch (p->desc->id) {
	case PROC_SMTP:
		for (fd = 0; fd < 4096; fd++)
			if (fcntl(fd, F_GETFD) != -1)
				top = fd;
		nofile = sandbox_smtp_nofile(p->global.smtp_max_sessions);
		if (nofile < (rlim_t)top + 64)
			nofile = (rlim_t)top + 64;
		/* without CAP_SYS_RESOURCE even root cannot pass the hard
		 * limit: the parent made the sessions fit under it */
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_max != RLIM_INFINITY && nofile > rl.rlim_max &&
		    rl.rlim_max >= (rlim_t)top + 64)
			nofile = rl.rlim_max;
		sandbox_setrlimit(RLIMIT_NOFILE, "RLIMIT_NOFILE", nofile);
		/* FALLTHROUGH */
	case PROC_CONTROL:
		sandbox_nofiles();
		/* FALLTHROUGH */
	case PROC_QUEUE:
		sandbox_setrlimit(RLIMIT_NPROC, "RLIMIT_NPROC", 0);
		break;
	case PROC_AUTHD:
		sandbox_nofiles();
		break;
	case PROC_MTA:
		/* where the parent could not raise its hard limit that
		 * far, what it allows (it logged it) */
		nofile = sandbox_mta_nofile(p->global.mta_max_sessions);
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_max != RLIM_INFINITY && nofile > rl.rlim_max)
			nofile = rl.rlim_max;
		sandbox_setrlimit(RLIMIT_NOFILE, "RLIMIT_NOFILE", nofile);
		break;
	default:
		break;
	}
}

void
sandbox_prepare(struct proc *p, int debug)
{
	char	*name;
	int	 nr;

	sandbox_limits(p);
	sandbox_report_init(p, debug);
	for (nr = 0; nr < SANDBOX_NAMES; nr++) {
		name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		sandbox_names[nr] = name;	/* kept for the handler */
	}
}

static void
sandbox_allow(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	size_t	 i;
	int	 nr, r;

	for (i = 0; i < n; i++) {
		if ((nr = seccomp_syscall_resolve_name(names[i])) ==
		    __NR_SCMP_ERROR)
			fatalx("seccomp: unknown system call %s", names[i]);
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) < 0 &&
		    r != -EEXIST)
			fatalx("seccomp: allowing %s: %s", names[i],
			    strerror(-r));
	}
}

static void
sandbox_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const char *what,
    unsigned int ncmp, const struct scmp_arg_cmp *cmp)
{
	int	 r;

	if ((r = seccomp_rule_add_array(ctx, action, nr, ncmp, cmp)) < 0 &&
	    r != -EEXIST)
		fatalx("seccomp: %s: %s", what, strerror(-r));
}

/* argument n equals v (libseccomp's SCMP_An() leave a field to C) */
static struct scmp_arg_cmp
sandbox_eq(unsigned int n, scmp_datum_t v)
{
	struct scmp_arg_cmp	 c;

	memset(&c, 0, sizeof(c));
	c.arg = n;
	c.op = SCMP_CMP_EQ;
	c.datum_a = v;
	return c;
}

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * TEST ONLY: POSTERN_TEST_SECCOMP_VIOLATE="PROCESS[:CALL]" (CALL socket,
 * the default, execve, or mmap of executable memory) makes PROCESS make that forbidden call
 * right after its filter is installed, so that regress/test_sandbox.py
 * sees the daemon stop, or with -S log carry on.  Like every
 * POSTERN_TEST_ variable, gone unless posternd runs with -d -T.
 */
static void
sandbox_test_violate(struct proc *p)
{
	const char	*v, *call;
	size_t		 n = strlen(p->desc->name);
	char *const	 argv[] = { "postern-seccomp-test", NULL };
	void		*mem;
	int		 fd;

	if ((v = getenv("POSTERN_TEST_SECCOMP_VIOLATE")) == NULL ||
	    strncmp(v, p->desc->name, n) != 0 ||
	    (v[n] != '\0' && v[n] != ':'))
		return;
	call = v[n] == ':' ? v + n + 1 : "socket";
	log_warnx("%s: test: calling %s under the filter", p->desc->name,
	    call);
	if (strcmp(call, "socket") == 0) {
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) != -1)
			close(fd);
	} else if (strcmp(call, "execve") == 0)
		execve("/nonexistent", argv, argv + 1);
	else if (strcmp(call, "mmap") == 0) {
		/* allowed, but not for executable memory */
		if ((mem = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) != MAP_FAILED)
			munmap(mem, 4096);
	}
	else
		fatalx("POSTERN_TEST_SECCOMP_VIOLATE: no such call %s", call);
	log_warnx("%s: test: %s returned: %s", p->desc->name, call,
	    strerror(errno));
}

void
sandbox_enter(struct proc *p)
{
	scmp_filter_ctx		 ctx;
	struct sigaction	 sa;
	struct scmp_arg_cmp	 cmp[2];
	unsigned int		 needs = sandbox_needs[p->desc->id];
	pid_t			 self = getpid();
	int			 r;

	/*
	 * OpenSSL reads openssl.cnf on its first use; chrooted, that file
	 * is not there, and the attempt would be an openat under the
	 * filter.  Settle it now the way the chroot would: no config file
	 * (a no-op when OpenSSL was set up before chroot).
	 */
	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1)
		fatalx("OPENSSL_init_crypto");
	/*
	 * jansson seeds its hash function on its first object from
	 * /dev/urandom (absent in the chroot: then from the time and pid):
	 * seed it now from getrandom(2), which the filters allow.
	 */
	json_object_seed(arc4random() | 1);

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("sigaction SIGSYS");

	if ((ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL)
		fatalx("seccomp_init");
	/* another ABI's call (x32, i386 on x86_64): its numbers differ */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) < 0)
		fatalx("seccomp_attr_set: %s", strerror(-r));
	sandbox_allow(ctx, sandbox_common, NELEM(sandbox_common));

	/* signals to itself only: the SIGSYS handler's death */
	cmp[0] = sandbox_eq(0, (scmp_datum_t)self);
	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), "kill", 1, cmp);
	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), "tgkill", 1, cmp);
	/*
	 * Memory, but no new code: nothing is loaded once started, so
	 * neither mmap nor mprotect may make anything executable.
	 */
	cmp[0] = sandbox_eq(2, 0);
	cmp[0].op = SCMP_CMP_MASKED_EQ;
	cmp[0].datum_a = PROT_EXEC;
	cmp[0].datum_b = 0;
	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), "mmap", 1, cmp);
	sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), "mprotect", 1,
	    cmp);
	/* clone3 hides its flags from a filter: glibc then uses clone */
	sandbox_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), "clone3",
	    0, NULL);

	if (needs & SB_STORE)
		sandbox_allow(ctx, sandbox_store, NELEM(sandbox_store));
	if (needs & SB_MEMFD)
		sandbox_allow(ctx, sandbox_memfd, NELEM(sandbox_memfd));
	if (needs & SB_ACCEPT)
		sandbox_allow(ctx, sandbox_accept, NELEM(sandbox_accept));
	if (needs & SB_CONNECT) {
		sandbox_allow(ctx, sandbox_connect, NELEM(sandbox_connect));
		/* the mta's look at what a peer has not yet read */
		cmp[0] = sandbox_eq(1, TIOCOUTQ);
		sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl),
		    "ioctl SIOCOUTQ", 1, cmp);
	}
	if (needs & SB_DNS) {
		sandbox_allow(ctx, sandbox_dns, NELEM(sandbox_dns));
		/* fork (glibc's flags), nothing else: no threads, no ns */
		cmp[0] = sandbox_eq(0, CLONE_CHILD_SETTID |
		    CLONE_CHILD_CLEARTID | SIGCHLD);
		sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), "clone",
		    1, cmp);
	}
	if (needs & (SB_DNS | SB_CONNECT)) {
		cmp[0] = sandbox_eq(0, AF_INET);
		sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), "socket",
		    1, cmp);
		cmp[0] = sandbox_eq(0, AF_INET6);
		sandbox_rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), "socket",
		    1, cmp);
	}
	/*
	 * syslog(3) reconnecting after the syslog daemon restarted: refused
	 * quietly (chrooted, it could not reach /dev/log anyway) rather
	 * than killing a process for a log line.
	 */
	cmp[0] = sandbox_eq(0, AF_UNIX);
	sandbox_rule(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket),
	    "socket AF_UNIX", 1, cmp);
#ifdef SANDBOX_SANITIZER
	sandbox_allow(ctx, sandbox_sanitizer, NELEM(sandbox_sanitizer));
#endif
	if ((r = seccomp_load(ctx)) < 0)
		fatalx("seccomp_load: %s", strerror(-r));
	seccomp_release(ctx);
	log_debug("%s: seccomp filter installed%s", p->desc->name,
	    sandbox_log_only ? " (log only)" : "");
	sandbox_test_violate(p);
}
